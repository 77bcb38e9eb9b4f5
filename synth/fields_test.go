package synth

import (
	"math"
	"slices"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// TestFieldStatistics checks every field on LH simulations: finite, of the right sign, in
// CMD's units and rough ranges (mean log10 over the maps), correlated with the gas as one
// density field, in its exact relations (Mtot = Mcdm + Mgas + Mstar, P proportional to
// Mgas T, Mtot_Nbody / Mcdm = Omega_m / Omega_c), responding to the parameters (the dark
// matter column follows Omega_m, stars fall with A_SN1), and independent of which other
// fields are asked for.
func TestFieldStatistics(t *testing.T) {
	const n, sims = 64, 24
	lh, _ := Table("LH")
	// Mean log10 over all pixels and maps: [lo, hi].
	ranges := map[string][2]float64{
		"Mgas": {9.5, 11.5}, "Vgas": {1.3, 3}, "T": {3.3, 5.5}, "P": {10, 13.5}, "Z": {-4.8, -1.5}, "HI": {4, 9},
		"ne": {-7.5, -5.5}, "B": {-14.5, -10.5}, "MgFe": {-0.2, 0.4}, "Mcdm": {10.5, 12}, "Vcdm": {1.8, 3},
		"Mtot": {10.6, 12.1}, "Mtot_Nbody": {10.6, 12.1},
	}
	var omegaM, mcdmMean, aSN, starMass []float64
	ws := newWorkspace(n)
	for sim := range sims {
		p := lh[sim]
		m, err := ws.fields(p, [2]uint64{7, uint64(sim)}, configs.CMDFields)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range m {
			lo := 0.0
			for i, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x < 0 || (x == 0 && name != "Mstar") {
					t.Fatalf("sim %d %s[%d] = %g, want finite and > 0 (>= 0 for Mstar)", sim, name, i, x)
				}
				if x > 0 {
					lo += math.Log10(float64(x))
				}
			}
			lo /= float64(len(v))
			if r, ok := ranges[name]; ok && (lo < r[0] || lo > r[1]) {
				t.Errorf("sim %d %v: mean log10 %s %.2f outside [%.1f, %.1f]", sim, p, name, lo, r[0], r[1])
			}
		}
		logOf := func(name string) []float64 {
			out := make([]float64, n*n)
			for i, x := range m[name] {
				out[i] = math.Log10(float64(x) + 1e-30)
			}
			return out
		}
		gas := logOf("Mgas")
		for _, name := range []string{"Mcdm", "Mtot", "Mtot_Nbody", "T", "P", "ne", "HI", "Vcdm"} {
			want := 0.5
			if name == "Vcdm" {
				want = 0.2 // a speed: faster in the dense knots, but the flows run through voids too
			}
			if r := pearson(gas, logOf(name)); r < want {
				t.Errorf("sim %d: corr(log Mgas, log %s) = %.2f, want > %.1f (one density field)", sim, name, r, want)
			}
		}
		var mc, ms, zStar, zNone, nStar float64
		for i := range m["Mgas"] {
			mgas, mcdm, mstar := float64(m["Mgas"][i]), float64(m["Mcdm"][i]), float64(m["Mstar"][i])
			if d := float64(m["Mtot"][i]) - (mcdm + mgas + mstar); math.Abs(d) > 1e-6*float64(m["Mtot"][i]) {
				t.Fatalf("sim %d pixel %d: Mtot %g != Mcdm + Mgas + Mstar %g", sim, i, m["Mtot"][i], mcdm+mgas+mstar)
			}
			if r := float64(m["P"][i]) / (mgas * float64(m["T"][i])); math.Abs(r/(0.01399/slabDepth)-1) > 1e-5 {
				t.Fatalf("sim %d pixel %d: P / (Mgas T) = %g, want %g", sim, i, r, 0.01399/slabDepth)
			}
			if r := float64(m["Mtot_Nbody"][i]) / mcdm; math.Abs(r/(p[0]/(p[0]-omegaB))-1) > 1e-5 {
				t.Fatalf("sim %d pixel %d: Mtot_Nbody / Mcdm = %g, want Omega_m / Omega_c = %g", sim, i, r, p[0]/(p[0]-omegaB))
			}
			mc += mcdm
			ms += mstar
			if mstar > 0 {
				zStar += float64(m["Z"][i])
				nStar++
			} else {
				zNone += float64(m["Z"][i])
			}
		}
		if nStar > 0 && zStar/nStar <= zNone/(float64(n*n)-nStar) {
			t.Errorf("sim %d: metallicity where stars formed %.2g, elsewhere %.2g; want higher with stars", sim, zStar/nStar, zNone/(float64(n*n)-nStar))
		}
		omegaM, mcdmMean, aSN, starMass = append(omegaM, p[0]), append(mcdmMean, mc), append(aSN, math.Log(p[2])), append(starMass, math.Log(ms+1))
	}
	if r := pearson(omegaM, mcdmMean); r < 0.9 {
		t.Errorf("corr(Omega_m, total Mcdm) over %d sims = %.2f, want > 0.9", sims, r)
	}
	if r := pearson(aSN, starMass); r > -0.2 {
		t.Errorf("corr(log A_SN1, log total Mstar) = %.2f, want < -0.2 (feedback suppresses star formation)", r)
	}
	// A field does not depend on which others are asked for, nor on their order.
	all, _ := newWorkspace(n).fields(lh[3], [2]uint64{7, 3}, configs.CMDFields)
	for _, name := range configs.CMDFields {
		one, err := newWorkspace(n).fields(lh[3], [2]uint64{7, 3}, []string{name})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one[name], all[name]) {
			t.Errorf("%s alone differs from %s among all fields", name, name)
		}
	}
}
