package eval

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/camelsvae/camelsvae/formats"
)

// statsGolden reads testdata/stats_golden.npz (testdata/make_stats_golden.py: scipy 1.10.1,
// scikit-learn 1.2.1, numpy 1.24).
func statsGolden(t *testing.T) map[string]formats.Array {
	t.Helper()
	g, err := formats.ReadNPZ(filepath.Join("testdata", "stats_golden.npz"))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ints(a formats.Array) []int {
	out := make([]int, len(a.I64))
	for i, v := range a.I64 {
		out[i] = int(v)
	}
	return out
}

func matrix(a formats.Array) [][]float64 {
	n, d := a.Shape[0], a.Shape[1]
	out := make([][]float64, n)
	for i := range out {
		out[i] = a.F64[i*d : (i+1)*d]
	}
	return out
}

func intMatrix(a formats.Array) [][]int {
	n, d := a.Shape[0], a.Shape[1]
	flat := ints(a)
	out := make([][]int, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d]
	}
	return out
}

// closeRel says whether got is within tol of want, relative to max(1, |want|).
func closeRel(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestWilcoxonGolden(t *testing.T) {
	g := statsGolden(t)
	for i := range 4 {
		r := Wilcoxon(g[fmt.Sprintf("w_d%d", i)].F64)
		ws, wp := g[fmt.Sprintf("w_stat%d", i)].F64[0], g[fmt.Sprintf("w_p%d", i)].F64[0]
		if float64(r.Statistic) != ws || !closeRel(float64(r.P), wp, 1e-12) {
			t.Errorf("case %d: W = %v, p = %.15g (exact %v); scipy W = %v, p = %.15g", i, r.Statistic, r.P, r.Exact, ws, wp)
		}
	}
}

func TestCompareGolden(t *testing.T) {
	g := statsGolden(t)
	a, b, sim := g["c_a"].F64, g["c_b"].F64, ints(g["c_sim"])
	c := Compare("x", "A", "B", a, b, sim, CompareOptions{Resamples: 20000, Level: 0.95, Seed: 4})
	for _, tc := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"map-level t", float64(c.MapLevel.Statistic), g["c_map_t"].F64[0], 1e-12},
		{"map-level p", float64(c.MapLevel.P), g["c_map_p"].F64[0], 1e-10},
		{"simulation-level t", float64(c.SimLevel.Statistic), g["c_sim_t"].F64[0], 1e-12},
		{"simulation-level p", float64(c.SimLevel.P), g["c_sim_p"].F64[0], 1e-10},
		{"Wilcoxon W", float64(c.Wilcoxon.Statistic), g["c_sim_w"].F64[0], 0},
		{"Wilcoxon p", float64(c.Wilcoxon.P), g["c_sim_wp"].F64[0], 1e-12},
		{"ICC", float64(c.ICC), g["c_icc"].F64[0], 1e-12},
		{"effective n", float64(c.EffectiveN), g["c_neff"].F64[0], 1e-12},
	} {
		if !closeRel(tc.got, tc.want, tc.tol) {
			t.Errorf("%s = %.15g, reference %.15g", tc.name, tc.got, tc.want)
		}
	}
	if c.Simulations != 20 || c.SimLevel.N != 20 || c.MapLevel.N != 300 {
		t.Errorf("counts: %d simulations, %d and %d pairs", c.Simulations, c.SimLevel.N, c.MapLevel.N)
	}
	// Our bootstrap, with its own draws, against numpy's with its own: both estimate the
	// same interval, 20000 resamples each; the Monte Carlo error of each end is about 1% of
	// the width.
	want := g["boot_ci_mc"].F64
	width := want[1] - want[0]
	if math.Abs(float64(c.CI.Lo)-want[0]) > 0.05*width || math.Abs(float64(c.CI.Hi)-want[1]) > 0.05*width {
		t.Errorf("interval [%v, %v], numpy's [%v, %v]", c.CI.Lo, c.CI.Hi, want[0], want[1])
	}
}

// TestClusterIntervalGolden: for the same draws, the interval equals numpy's percentiles of
// the means over the maps of the drawn simulations.
func TestClusterIntervalGolden(t *testing.T) {
	g := statsGolden(t)
	d := Differences(g["c_a"].F64, g["c_b"].F64)
	_, sums, counts := clusters(d, ints(g["c_sim"]))
	iv := clusterMeanInterval(sums, counts, intMatrix(g["boot_draws"]), 0.95)
	want := g["boot_ci"].F64
	if !closeRel(float64(iv.Lo), want[0], 1e-10) || !closeRel(float64(iv.Hi), want[1], 1e-10) || iv.Resamples != 500 {
		t.Errorf("interval [%.15g, %.15g] from %d, numpy [%.15g, %.15g]", iv.Lo, iv.Hi, iv.Resamples, want[0], want[1])
	}
}

func TestEffectiveNGolden(t *testing.T) {
	g := statsGolden(t)
	neff, icc := EffectiveN(g["icc_x"].F64, ints(g["icc_sim"]))
	if !closeRel(icc, g["icc"].F64[0], 1e-12) || !closeRel(neff, g["neff"].F64[0], 1e-12) {
		t.Errorf("ICC %.15g, n_eff %.15g; reference %.15g, %.15g", icc, neff, g["icc"].F64[0], g["neff"].F64[0])
	}
}

// TestProbeCVGolden: repeated grouped cross-validation against scikit-learn (GroupKFold,
// GridSearchCV over StandardScaler + Ridge, LogisticRegression) for the same folds, with 8
// (primal ridge) and 150 (dual) dimensions for 120 maps of 12 simulations.
func TestProbeCVGolden(t *testing.T) {
	g := statsGolden(t)
	sim, om, s8 := ints(g["p_sim"]), g["p_om"].F64, g["p_s8"].F64
	plan := foldPlan{ids: slices.Compact(slices.Sorted(slices.Values(sim))), folds: 4, fold: intMatrix(g["p_plan"])}
	draws := intMatrix(g["p_draws"])
	for _, c := range []string{"lo", "hi"} {
		t.Run(c, func(t *testing.T) {
			z := matrix(g["p_z_"+c])
			opt := LatentOptions{L2: 1e-2}
			cv, err := crossValidate(z, [][]float64{om, s8}, sim, plan, opt)
			if err != nil {
				t.Fatal(err)
			}
			for ti, name := range []string{"om", "s8"} {
				y := []([]float64){om, s8}[ti]
				if want := g["p_alpha_"+name+"_"+c].F64; !slices.Equal(cv.alphas[ti], want) {
					t.Errorf("%s: alphas %v, GridSearchCV %v", name, cv.alphas[ti], want)
				}
				p := probeScore(cv.pred[ti], y, sim, plan.ids, draws, 0.95)
				for r, want := range g["p_r2_"+name+"_"+c].F64 {
					if !closeRel(float64(p.Repeats[r]), want, 1e-8) {
						t.Errorf("%s repeat %d: R2 %.12g, scikit-learn %.12g", name, r, p.Repeats[r], want)
					}
				}
				want := g["p_r2ci_"+name+"_"+c].F64
				if !closeRel(float64(p.CI.Lo), want[0], 1e-8) || !closeRel(float64(p.CI.Hi), want[1], 1e-8) {
					t.Errorf("%s: interval [%.12g, %.12g], numpy [%.12g, %.12g]", name, p.CI.Lo, p.CI.Hi, want[0], want[1])
				}
			}
			acc := probeScore(cv.hits, nil, sim, plan.ids, draws, 0.95)
			for r, want := range g["p_acc_"+c].F64 {
				if float64(acc.Repeats[r]) != want {
					t.Errorf("repeat %d: accuracy %v, scikit-learn %v", r, acc.Repeats[r], want)
				}
			}
			want := g["p_accci_"+c].F64
			// 1e-10: the interval's percentile levels come from gonum's and scipy's t quantiles.
			if !closeRel(float64(acc.CI.Lo), want[0], 1e-10) || !closeRel(float64(acc.CI.Hi), want[1], 1e-10) {
				t.Errorf("accuracy interval [%v, %v], numpy [%v, %v]", acc.CI.Lo, acc.CI.Hi, want[0], want[1])
			}
		})
	}
}
