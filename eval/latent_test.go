package eval

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/formats"
)

// latentGolden reads testdata/latent_golden.npz (testdata/make_latent_golden.py,
// scikit-learn 1.2.1).
func latentGolden(t *testing.T) (x [][]float64, labels []int, y []float64, g map[string]formats.Array) {
	t.Helper()
	g, err := formats.ReadNPZ(filepath.Join("testdata", "latent_golden.npz"))
	if err != nil {
		t.Fatal(err)
	}
	xa := g["x"]
	d := xa.Shape[1]
	for i := range xa.Shape[0] {
		x = append(x, xa.F64[i*d:(i+1)*d])
		labels = append(labels, int(g["labels"].I64[i]))
	}
	return x, labels, g["y"].F64, g
}

func TestLatentGoldenSklearn(t *testing.T) {
	x, labels, y, g := latentGolden(t)
	tests := []struct {
		name      string
		got, want []float64
		tol       float64
	}{}
	add := func(name string, got, want []float64, tol float64) {
		tests = append(tests, struct {
			name      string
			got, want []float64
			tol       float64
		}{name, got, want, tol})
	}
	sil, err := Silhouette(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	add("silhouette_score", []float64{sil}, g["silhouette"].F64, 1e-12)
	// Well-separated blobs: every seeded k-means++ run reaches sklearn's optimum.
	km, err := KMeans(x, 3, 1, 10, 300)
	if err != nil {
		t.Fatal(err)
	}
	add("KMeans inertia", []float64{km.Inertia}, g["kmeans_inertia"].F64, 1e-9)
	r, err := FitRidge(x, y, g["ridge_alpha"].F64[0])
	if err != nil {
		t.Fatal(err)
	}
	add("Ridge coef", r.Coef, g["ridge_coef"].F64, 1e-10)
	add("Ridge intercept", []float64{r.Intercept}, g["ridge_intercept"].F64, 1e-10)
	lg, err := FitLogistic(x, labels, 3, g["logit_l2"].F64[0])
	if err != nil {
		t.Fatal(err)
	}
	var coef []float64
	for _, w := range lg.W {
		coef = append(coef, w...)
	}
	// Intercepts are defined up to a common shift (not penalised): compare differences.
	// Tolerance 5e-5: sklearn's L-BFGS stops with coefficients about 1e-5 from the optimum
	// this solver converges to (checked by tightening both).
	b, wb := lg.B, g["logit_intercept"].F64
	add("LogisticRegression coef", coef, g["logit_coef"].F64, 5e-5)
	add("LogisticRegression intercept differences", []float64{b[1] - b[0], b[2] - b[0]}, []float64{wb[1] - wb[0], wb[2] - wb[0]}, 5e-5)
	for _, tc := range tests {
		if len(tc.got) != len(tc.want) {
			t.Fatalf("%s: %d values, sklearn %d", tc.name, len(tc.got), len(tc.want))
		}
		for i := range tc.got {
			if math.Abs(tc.got[i]-tc.want[i]) > tc.tol {
				t.Errorf("%s[%d] = %.10g, sklearn %.10g (tol %g)", tc.name, i, tc.got[i], tc.want[i], tc.tol)
			}
		}
	}
}

// TestFoldPlan: every repeat deals whole simulations into folds of sizes within one
// simulation of each other, fresh per repeat, the same for the same seed.
func TestFoldPlan(t *testing.T) {
	var sim []int
	for s := range 20 {
		for range 15 {
			sim = append(sim, 100+s)
		}
	}
	p := newFoldPlan(sim, 6, 3, 3)
	if p.folds != 6 || len(p.ids) != 20 {
		t.Fatalf("plan with %d folds over %d simulations", p.folds, len(p.ids))
	}
	for r := range 3 {
		seen := map[int]int{}
		for f := range p.folds {
			tr, te := p.rows(sim, r, f)
			if len(tr)+len(te) != len(sim) || len(te)%15 != 0 || len(te)/15 < 3 || len(te)/15 > 4 {
				t.Fatalf("repeat %d fold %d: %d train, %d test rows", r, f, len(tr), len(te))
			}
			for _, i := range te {
				seen[sim[i]]++
			}
			inTest := map[int]bool{}
			for _, i := range te {
				inTest[sim[i]] = true
			}
			for _, i := range tr {
				if inTest[sim[i]] {
					t.Fatalf("simulation %d on both sides", sim[i])
				}
			}
		}
		for id, n := range seen {
			if n != 15 {
				t.Fatalf("repeat %d: simulation %d tested %d times over the folds, want once", r, id, n/15)
			}
		}
	}
	if slices.Equal(p.fold[0], p.fold[1]) {
		t.Error("repeats 0 and 1 have the same folds")
	}
	if q := newFoldPlan(sim, 6, 3, 3); !slices.Equal(q.fold[2], p.fold[2]) {
		t.Error("same seed, different folds")
	}
}

// TestAnalyseLatents: codes that carry Omega_m and sigma_8 linearly (plus noise dimensions)
// must give R^2 near 1 and tertile accuracy well above chance; codes of pure noise must not.
func TestAnalyseLatents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var om, s8 []float64
	var sim []int
	var good, noise [][]float64
	for s := range 60 {
		o, g := 0.1+0.4*rng.Float64(), 0.6+0.4*rng.Float64()
		for range 5 {
			om, s8, sim = append(om, o), append(s8, g), append(sim, s)
			row := []float64{3*o + 0.01*rng.NormFloat64(), -2*g + 0.01*rng.NormFloat64()}
			nz := make([]float64, 6)
			for j := range nz {
				nz[j] = rng.NormFloat64()
			}
			good = append(good, append(row, nz...))
			noise = append(noise, nz)
		}
	}
	opt := LatentOptions{Clusters: 5, Ridge: 1, L2: 1e-3, Folds: 5, Repeats: 3, Resamples: 500, Level: 0.95, Seed: 9}
	a, err := AnalyseLatents(good, om, s8, sim, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.R2OmegaM.Mean < 0.95 || a.R2Sigma8.Mean < 0.95 || a.TertileAccuracy.Mean < 0.8 {
		t.Errorf("informative codes: %+v", a)
	}
	for _, p := range []Probe{a.R2OmegaM, a.R2Sigma8, a.TertileAccuracy} {
		if !(p.CI.Lo <= p.Mean && p.Mean <= p.CI.Hi) || len(p.Repeats) != 3 || p.CI.Resamples != 500 {
			t.Errorf("probe %+v: want the mean inside its interval and 3 repeats", p)
		}
	}
	if a.N != 300 || a.Simulations != 60 || a.Folds != 5 || len(a.ClusterSizes) != 5 || a.Silhouette <= -1 || a.Silhouette >= 1 ||
		len(a.RidgeAlphasOmegaM) != 15 {
		t.Errorf("bookkeeping: %+v", a)
	}
	b, err := AnalyseLatents(noise, om, s8, sim, opt)
	if err != nil {
		t.Fatal(err)
	}
	if b.R2OmegaM.Mean > 0.2 || b.R2Sigma8.Mean > 0.2 || b.TertileAccuracy.Mean > 0.6 {
		t.Errorf("noise codes look informative: %+v", b)
	}
	// Chance level lies inside the noise codes' accuracy interval.
	if !(b.TertileAccuracy.CI.Lo < 1.0/3 && 1.0/3 < b.TertileAccuracy.CI.Hi) {
		t.Errorf("noise codes: accuracy interval %+v excludes chance", b.TertileAccuracy.CI)
	}
}

// TestChooseRidgeAlpha: 100 dimensions, 120 training rows, the target in one direction plus
// noise. A tiny penalty overfits (near least squares with 100 unknowns); the grouped
// cross-validation picks a larger one that predicts held-out simulations better.
func TestChooseRidgeAlpha(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	n, d := 160, 100
	x := make([][]float64, n)
	y := make([]float64, n)
	sim := make([]int, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = r.NormFloat64()
		}
		y[i] = x[i][0] + 0.5*r.NormFloat64()
		sim[i] = i / 4
	}
	tr, te := newFoldPlan(sim, 4, 1, 1).rows(sim, 0, 0)
	as, err := chooseRidgeAlphas(pick(x, tr), [][]float64{pick(y, tr)}, pick(sim, tr))
	if err != nil {
		t.Fatal(err)
	}
	a := as[0]
	score := func(alpha float64) float64 {
		m, err := FitRidge(pick(x, tr), pick(y, tr), alpha)
		if err != nil {
			t.Fatal(err)
		}
		return R2(pick(y, te), m.Predict(pick(x, te)))
	}
	if a <= RidgeAlphas[0] || !(score(a) > score(RidgeAlphas[0])+0.1) {
		t.Fatalf("chose alpha %g: held-out R2 %.3f vs %.3f at %g", a, score(a), score(RidgeAlphas[0]), RidgeAlphas[0])
	}
}

// TestLatentTooFewRows: fewer maps than clusters, one simulation, an empty or ragged matrix
// and mismatched labels are errors that say what was expected, never a panic.
func TestLatentTooFewRows(t *testing.T) {
	four := [][]float64{{0, 1}, {1, 0}, {2, 2}, {3, 1}}
	om, s8, sim := []float64{0.1, 0.2, 0.3, 0.4}, []float64{0.7, 0.8, 0.9, 1.0}, []int{0, 0, 1, 1}
	opt := LatentOptions{Clusters: 5, Ridge: 1, L2: 1e-3, Folds: 5, Repeats: 1, Resamples: 10, Level: 0.95, Seed: 1}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"k-means n < k", func() error { _, err := KMeans(four, 5, 1, 1, 10); return err }, "5 clusters for 4 rows"},
		{"k-means empty", func() error { _, err := KMeans(nil, 2, 1, 1, 10); return err }, "no rows"},
		{"k-means ragged", func() error { _, err := KMeans([][]float64{{1}, {1, 2}}, 1, 1, 1, 10); return err }, "row 1 has 2 values"},
		{"silhouette labels", func() error { _, err := Silhouette(four, []int{0, 1}); return err }, "2 labels for 4 rows"},
		{"silhouette negative", func() error { _, err := Silhouette(four, []int{0, 1, -1, 0}); return err }, "label -1"},
		{"analyse n < clusters", func() error { _, err := AnalyseLatents(four, om, s8, sim, opt); return err }, "4 maps for 5 K-means clusters (eval.clusters)"},
		{"analyse one simulation", func() error {
			o := opt
			o.Clusters = 2
			_, err := AnalyseLatents(four, om, s8, []int{3, 3, 3, 3}, o)
			return err
		}, "1 simulation"},
		{"analyse lengths", func() error { _, err := AnalyseLatents(four, om[:3], s8, sim, opt); return err }, "3 Omega_m"},
		{"analyse empty", func() error { _, err := AnalyseLatents(nil, nil, nil, nil, opt); return err }, "no rows"},
		{"analyse one fold", func() error {
			o := opt
			o.Clusters, o.Folds = 2, 1
			_, err := AnalyseLatents(four, om, s8, sim, o)
			return err
		}, "1 folds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				err = c.run()
			}()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestRidgePath: the eigendecomposition path gives FitRidge's predictions at every penalty,
// in the primal form (more rows than columns) and the dual one (fewer).
func TestRidgePath(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, d := range []int{7, 60} {
		n := 40
		x, xt := make([][]float64, n), make([][]float64, 9)
		y1, y2 := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64() * float64(j+1)
			}
			y1[i], y2[i] = x[i][0]+rng.NormFloat64(), 3-x[i][d-1]
		}
		for i := range xt {
			xt[i] = make([]float64, d)
			for j := range xt[i] {
				xt[i][j] = rng.NormFloat64()
			}
		}
		p, err := newRidgePath(x, [][]float64{y1, y2})
		if err != nil {
			t.Fatal(err)
		}
		if p.dual != (d > n) {
			t.Fatalf("d=%d: dual %v", d, p.dual)
		}
		pred := p.predict(xt, RidgeAlphas)
		for a, alpha := range RidgeAlphas {
			for k, y := range [][]float64{y1, y2} {
				r, err := FitRidge(x, y, alpha)
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range r.Predict(xt) {
					if got := pred[a][k][i]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
						t.Fatalf("d=%d alpha=%g target %d row %d: path %.12g, FitRidge %.12g", d, alpha, k, i, got, want)
					}
				}
			}
		}
	}
}
