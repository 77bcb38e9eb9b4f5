package preprocess

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

// makeSet writes a small CMD-like set (sims simulations, side x side) with log-normal Mgas
// and B and positive Vgas into dir, with a parameter table, and returns the cubes.
func makeSet(t testing.TB, dir, set string, sims, side int, seed uint64) [3][]float32 {
	t.Helper()
	n := sims * formats.MapsPerSim
	rng := rand.New(rand.NewPCG(seed, 7))
	var cubes [3][]float32
	for c, field := range configs.Names(configs.StudyFields()) {
		cube := make([]float32, n*side*side)
		for i := range cube {
			switch c {
			case 0:
				cube[i] = float32(math.Pow(10, 10.4+0.5*rng.NormFloat64()))
			case 1:
				cube[i] = float32(50 + 200*rng.Float64())
			default:
				cube[i] = float32(math.Pow(10, -12.5+1.0*rng.NormFloat64()))
			}
		}
		mw, err := formats.CreateMaps(formats.MapPath(dir, field, "IllustrisTNG", set), n, side, side)
		if err != nil {
			t.Fatal(err)
		}
		for m := 0; m < n; m++ {
			if err := mw.WriteMap(m, cube[m*side*side:(m+1)*side*side]); err != nil {
				t.Fatal(err)
			}
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		cubes[c] = cube
	}
	params := make([]formats.Params, sims)
	for i := range params {
		params[i] = formats.Params{0.1 + 0.4*rng.Float64(), 0.6 + 0.4*rng.Float64(), 1, 1, 1, 1}
	}
	if err := formats.WriteParams(formats.ParamsPath(dir, set, "IllustrisTNG"), params); err != nil {
		t.Fatal(err)
	}
	return cubes
}

func testConfig(dir string, size int) configs.Data {
	d := configs.Default().Data
	d.Dir = dir
	d.Size = size
	return d
}
