package pca

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/camelsvae/camelsvae/formats"
)

// golden reads testdata/golden.npz, made by testdata/make_golden.py with scikit-learn 1.2.1's
// PCA(svd_solver="full") on the float32 fixture widened to float64.
func golden(t testing.TB) (train, all [][]float32, g map[string]formats.Array) {
	t.Helper()
	g, err := formats.ReadNPZ(filepath.Join("testdata", "golden.npz"))
	if err != nil {
		t.Fatal(err)
	}
	x := g["x"]
	n, d := x.Shape[0], x.Shape[1]
	for i := range n {
		all = append(all, x.F32[i*d:(i+1)*d])
	}
	return all[:g["n_train"].I64[0]], all, g
}

func f64(a formats.Array) []float64 {
	if a.F64 != nil {
		return a.F64
	}
	o := make([]float64, len(a.F32))
	for i, v := range a.F32 {
		o[i] = float64(v)
	}
	return o
}

func TestGoldenSklearn(t *testing.T) {
	train, all, g := golden(t)
	k := int(g["k"].I64[0])
	tests := []struct {
		name string
		opt  Options
		// Tolerances: the issue asks 1e-4 for ratios and reconstructions; exact should do far
		// better (float32 storage of components and data limits it to ~1e-6).
		ratioTol, recTol, compTol float64
	}{
		{"exact", Options{Components: k, Solver: "exact"}, 1e-9, 1e-4, 1e-4},
		// With the sketch as wide as the Gram matrix (k+40 >= 60 columns) the randomized
		// solver is exact up to rounding, whatever the seed.
		{"randomized full sketch", Options{Components: k, Solver: "randomized", Oversample: 40, PowerIters: 1, Seed: 1}, 1e-9, 1e-4, 1e-4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Fit(train, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got, want []float64, tol float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, sklearn %d", what, len(got), len(want))
				}
				worst, at := 0.0, 0
				for i := range got {
					if e := math.Abs(got[i] - want[i]); e > worst || math.IsNaN(e) {
						worst, at = e, i
					}
				}
				if !(worst <= tol) {
					t.Errorf("%s: max |diff| %.3g at %d (got %.9g, sklearn %.9g), tol %g", what, worst, at, got[at], want[at], tol)
				}
			}
			check("explained_variance_ratio", m.ExplainedVarianceRatio, f64(g["explained_variance_ratio"]), tc.ratioTol)
			relEV := make([]float64, k)
			for i, v := range m.ExplainedVariance {
				relEV[i] = v / g["explained_variance"].F64[i]
			}
			check("explained_variance (relative)", relEV, ones(k), tc.ratioTol*100)
			check("mean", widen(m.Mean), f64(g["mean"]), 1e-6)
			check("components (svd_flip signs)", widen(m.Components), f64(g["components"]), tc.compTol)
			z := m.Transform(all)
			check("transform", flat(z), f64(g["transform"]), tc.recTol*100)
			rec := m.InverseTransform(z)
			check("reconstruction", flat(rec), f64(g["reconstruction"]), tc.recTol)
			if c := m.CumulativeRatio[k-1]; math.Abs(c-sum(m.ExplainedVarianceRatio)) > 1e-12 {
				t.Errorf("cumulative ratio %v != sum %v", c, sum(m.ExplainedVarianceRatio))
			}
		})
	}
}

func ones(n int) []float64 {
	o := make([]float64, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

func sum(x []float64) (s float64) {
	for _, v := range x {
		s += v
	}
	return s
}

func widen(x []float32) []float64 {
	o := make([]float64, len(x))
	for i, v := range x {
		o[i] = float64(v)
	}
	return o
}

func flat(x [][]float32) []float64 {
	var o []float64
	for _, r := range x {
		o = append(o, widen(r)...)
	}
	return o
}

// TestRandomizedMatchesExact checks the randomized solver where it is meant to work: the
// leading components, separated by clear spectral gaps (the fixture's 10 factors decay by 0.7
// in scale), from a sketch much narrower than N. Reference: the exact solver, itself checked
// against scikit-learn above.
func TestRandomizedMatchesExact(t *testing.T) {
	train, all, _ := golden(t)
	const k = 6
	ex, err := Fit(train, Options{Components: k, Solver: "exact"})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{1, 2, 3} {
		rz, err := Fit(train, Options{Components: k, Solver: "randomized", Oversample: 10, PowerIters: 4, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			if d := math.Abs(rz.ExplainedVarianceRatio[i] - ex.ExplainedVarianceRatio[i]); d > 1e-6 {
				t.Errorf("seed %d: ratio[%d] differs by %g", seed, i, d)
			}
		}
		a, b := flat(ex.InverseTransform(ex.Transform(all))), flat(rz.InverseTransform(rz.Transform(all)))
		worst := 0.0
		for i := range a {
			worst = math.Max(worst, math.Abs(a[i]-b[i]))
		}
		if worst > 1e-3 {
			t.Errorf("seed %d: reconstructions differ by up to %g", seed, worst)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	train, all, _ := golden(t)
	m, err := Fit(train, Options{Components: 5, Solver: "randomized", Oversample: 5, PowerIters: 2, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pca.npz")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if l.K != m.K || l.D != m.D || l.Solver != m.Solver || l.NSamples != m.NSamples || l.TotalVariance != m.TotalVariance {
		t.Fatalf("loaded %+v", l)
	}
	a, b := flat(m.Transform(all)), flat(l.Transform(all))
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("transform after load differs at %d: %v vs %v", i, a[i], b[i])
		}
	}
	for i := range m.CumulativeRatio {
		if math.Abs(l.CumulativeRatio[i]-m.CumulativeRatio[i]) > 1e-15 {
			t.Fatalf("cumulative ratio %d: %v vs %v", i, l.CumulativeRatio[i], m.CumulativeRatio[i])
		}
	}
	// A file missing a member is refused with its name.
	if err := formats.WriteNPZ(p, []string{"mean"}, map[string]formats.Array{"mean": formats.F32Array(m.Mean, m.D)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Fatal("loaded a model without components")
	}
}

func TestFitPanics(t *testing.T) {
	rows := [][]float32{{1, 2, 3}, {4, 5, 6}, {7, 8, 10}}
	tests := []struct {
		name string
		rows [][]float32
		opt  Options
	}{
		{"too many components", rows, Options{Components: 4, Solver: "exact"}},
		{"zero components", rows, Options{Components: 0, Solver: "exact"}},
		{"one row", rows[:1], Options{Components: 1, Solver: "exact"}},
		{"ragged", [][]float32{{1, 2}, {3}}, Options{Components: 1, Solver: "exact"}},
		{"solver", rows, Options{Components: 1, Solver: "svd"}},
		{"engine", rows, Options{Components: 1, Solver: "exact", Engine: "blas"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("no panic")
				}
			}()
			_, _ = Fit(tc.rows, tc.opt)
		})
	}
}

// TestGramBlocks checks the blocked, mirrored Gram product against a direct float64 sum on
// more rows than one block (the golden fixture has fewer).
func TestGramBlocks(t *testing.T) {
	const n, d = 2*gramRowBlock + 37, 3*blockCols/2 + 5
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64())
		}
	}
	mean := columnMean(rows, d)
	g := gram(rows, mean)
	for _, ij := range [][2]int{{0, 0}, {3, n - 1}, {n - 1, 3}, {gramRowBlock + 1, 5}, {n - 2, gramRowBlock}, {n - 1, n - 1}} {
		i, j := ij[0], ij[1]
		var want float64
		for c := range d {
			want += (float64(rows[i][c]) - float64(mean[c])) * (float64(rows[j][c]) - float64(mean[c]))
		}
		if math.Abs(g[i*n+j]-want) > 1e-9*math.Abs(want)+1e-9 {
			t.Errorf("G[%d][%d] = %v, direct sum %v", i, j, g[i*n+j], want)
		}
	}
}
