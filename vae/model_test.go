package vae

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// TestParamCount pins the study's model: 19 learnable layers, 32,366,403 parameters at the
// default size (encoder 19,565,536; decoder 12,800,867), counted by hand from docs/study.md's description of the model.
func TestParamCount(t *testing.T) {
	v, err := FromConfig(configs.Default())
	if err != nil {
		t.Fatal(err)
	}
	enc, dec := v.ParamCount()
	if v.Layers() != 19 || enc != 19565536 || dec != 12800867 || enc+dec != 32366403 {
		t.Fatalf("layers %d, encoder %d, decoder %d, total %d; want 19, 19565536, 12800867, 32366403", v.Layers(), enc, dec, enc+dec)
	}
	var n int64
	for i, p := range v.InitParams(1) {
		if int64(len(p)) != v.Params()[i].Size() {
			t.Fatalf("%s: %d values for shape %v", v.Params()[i].Name, len(p), v.Params()[i].Shape)
		}
		n += int64(len(p))
	}
	if n != 32366403 {
		t.Fatalf("InitParams gave %d values", n)
	}
}

// TestParamCountFollowsFields: each input channel adds the first convolution's 4x4 kernels
// (32 filters: 512 weights) to the encoder and the output convolution's 3x3 kernels and a
// bias (289) to the decoder; the graphs' inputs and outputs take the channel count.
func TestParamCountFollowsFields(t *testing.T) {
	count := func(fields []configs.Field) (int64, int64) {
		cfg := configs.Default()
		cfg.Data.Fields = fields
		v, err := FromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v.ParamCount()
	}
	e3, d3 := count(configs.StudyFields())
	for _, fields := range [][]configs.Field{{{Name: "T", Transform: "log10"}},
		{{Name: "Mgas", Transform: "log10"}, {Name: "T", Transform: "log10"}, {Name: "Mcdm", Transform: "log10"},
			{Name: "HI", Transform: "log10"}, {Name: "Vcdm", Transform: "asinh"}}} {
		e, d := count(fields)
		k := int64(len(fields)) - 3
		if e != e3+k*32*4*4 || d != d3+k*(32*3*3+1) {
			t.Errorf("%d fields: encoder %d, decoder %d; want %d and %d", len(fields), e, d, e3+k*512, d3+k*289)
		}
	}
}

// TestInitBounds checks PyTorch's default bounds: |w| <= 1/math.Sqrt(fan_in), where a
// ConvTranspose's fan_in is weight.size(1)*k*k, and that the draw fills the range.
func TestInitBounds(t *testing.T) {
	v := smallVAE(t, true)
	ps := v.InitParams(3)
	for i, s := range v.Params() {
		w := s.Shape
		if len(w) == 1 { // a bias shares its weight's fan-in
			w = v.Params()[i-1].Shape
		}
		fan := w[1]
		for _, d := range w[2:] {
			fan *= d
		}
		bound := 1 / math.Sqrt(float64(fan))
		var hi float64
		for _, x := range ps[i] {
			hi = max(hi, math.Abs(float64(x)))
		}
		if hi > bound || (len(ps[i]) > 50 && hi < 0.9*bound) {
			t.Errorf("%s: max |w| %g, bound %g", s.Name, hi, bound)
		}
	}
	if !equalParams(ps, v.InitParams(3)) || equalParams(ps, v.InitParams(4)) {
		t.Fatal("InitParams must depend on the seed only")
	}
}

func equalParams(a, b [][]float32) bool {
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// smallCfg is the reduced model of the golden test: 32x32, width 1/8, latent 8.
func smallCfg(skips bool) configs.Config {
	c := configs.Default()
	c.Data.Size = 32
	c.Model.WidthMult = 0.125
	c.Model.Latent = 8
	c.Model.Skips = skips
	return c
}

func smallVAE(t testing.TB, skips bool) *VAE {
	v, err := FromConfig(smallCfg(skips))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDeterministicBytes builds every artifact twice and compares bytes.
func TestDeterministicBytes(t *testing.T) {
	for _, skips := range []bool{true, false} {
		v := smallVAE(t, skips)
		p := v.InitParams(7)
		meta := map[string]string{"b": "2", "a": "1"}
		a, err := v.Artifacts(2, p, meta)
		if err != nil {
			t.Fatal(err)
		}
		b, err := v.Artifacts(2, p, meta)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !bytes.Equal(a[i].Model, b[i].Model) {
				t.Errorf("skips=%v: %s differs between two builds", skips, a[i].Name)
			}
		}
	}
}

// TestSmallArtifactsRun loads every artifact of the reduced model in ORT and checks the
// shapes, the naming conventions and that the encoder and eval_step agree on mu.
func TestSmallArtifactsRun(t *testing.T) {
	for _, skips := range []bool{true, false} {
		v := smallVAE(t, skips)
		p := v.InitParams(5)
		arts, err := v.Artifacts(2, p, map[string]string{"norm.mean": "[1,2,3]"})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		x := onnxtest.Rand(r, 3*3*32*32, -1, 1)
		// eval_step with a dynamic batch of 3
		ev := arts[1]
		s := onnxtest.Session(t, ev.Name, ev.Model, ev.Inputs, ev.Outputs)
		in := append(append([][]float32{}, p...), x, []float32{0.1})
		var shapes [][]int64
		for _, ps := range v.Params() {
			shapes = append(shapes, ps.Shape)
		}
		shapes = append(shapes, []int64{3, 3, 32, 32}, []int64{1})
		out := onnxtest.Run(t, s, in, shapes)
		if len(out[4]) != 3*3*32*32 || len(out[5]) != 3*8 {
			t.Fatalf("eval_step outputs have %d and %d values", len(out[4]), len(out[5]))
		}
		enc := arts[3]
		es := onnxtest.Session(t, enc.Name, enc.Model, enc.Inputs, enc.Outputs)
		eo := onnxtest.Run(t, es, [][]float32{x}, [][]int64{{3, 3, 32, 32}})
		if e := onnxtest.RelErr(eo[0], out[5], 1e-6); e > 1e-5 {
			t.Errorf("skips=%v: encoder mu differs from eval_step mu by %g", skips, e)
		}
		dec := arts[4]
		ds := onnxtest.Session(t, dec.Name, dec.Model, dec.Inputs, dec.Outputs)
		din := [][]float32{eo[0]}
		dsh := [][]int64{{3, 8}}
		if skips {
			for i, sh := range v.SkipShapes() {
				din = append(din, eo[2+i])
				dsh = append(dsh, append([]int64{3}, sh...))
			}
		}
		do := onnxtest.Run(t, ds, din, dsh)
		if e := onnxtest.RelErr(do[0], out[4], 1e-6); e > 1e-5 {
			t.Errorf("skips=%v: decoder(encoder(x)) differs from eval_step recon by %g", skips, e)
		}
	}
}
