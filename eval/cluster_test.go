package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFalsePositiveRate simulates the test set's structure with no true difference: 20
// simulations of 15 maps, a difference per map of u_s + e with a simulation effect u_s and
// map noise e of equal variance (ICC 0.5), 2000 times. Tests and intervals that take the
// simulation as the unit must reject at their nominal 5% (within 2%, about four binomial
// standard errors); the map-level test, which takes the 300 maps as independent, rejects far
// more often (the study's p < 1e-100 rests on it).
func TestFalsePositiveRate(t *testing.T) {
	const draws, sims, maps, alpha = 2000, 20, 15, 0.05
	rng := rand.New(rand.NewPCG(2026, 16))
	sim := make([]int, sims*maps)
	for i := range sim {
		sim[i] = i / maps
	}
	d, zero := make([]float64, sims*maps), make([]float64, sims*maps)
	var mapLevel, simT, wilcoxon, interval int
	var neff float64
	for k := range draws {
		for s := range sims {
			u := rng.NormFloat64()
			for j := range maps {
				d[s*maps+j] = u + rng.NormFloat64()
			}
		}
		c := Compare("d", "A", "B", d, zero, sim, CompareOptions{Resamples: 999, Level: 0.95, Seed: uint64(k)})
		if c.MapLevel.P < alpha {
			mapLevel++
		}
		if c.SimLevel.P < alpha {
			simT++
		}
		if c.Wilcoxon.P < alpha {
			wilcoxon++
		}
		if c.CI.Lo > 0 || c.CI.Hi < 0 {
			interval++
		}
		neff += float64(c.EffectiveN) / draws
	}
	rate := func(n int) float64 { return float64(n) / draws }
	t.Logf("rejection rates over %d draws: maps %.4f, simulation t %.4f, Wilcoxon %.4f, interval excludes 0 %.4f; mean effective n %.1f",
		draws, rate(mapLevel), rate(simT), rate(wilcoxon), rate(interval), neff)
	for name, n := range map[string]int{"simulation-level t-test": simT, "Wilcoxon on simulation means": wilcoxon} {
		if r := rate(n); math.Abs(r-alpha) > 0.02 {
			t.Errorf("%s rejects %.4f of null draws, want 0.05 ± 0.02", name, r)
		}
	}
	if r := rate(interval); math.Abs(r-alpha) > 0.02 {
		t.Errorf("the 95%% interval excludes 0 in %.4f of null draws, want 0.05 ± 0.02", r)
	}
	if r := rate(mapLevel); r < 0.3 {
		t.Errorf("the map-level test rejects %.4f of null draws; with ICC 0.5 it should far exceed 0.05", r)
	}
	// ICC 0.5 with 15 maps per simulation: n / (1 + 14 * 0.5) = 37.5.
	if neff < 30 || neff > 45 {
		t.Errorf("mean effective n %.1f, want about 37.5", neff)
	}
}
