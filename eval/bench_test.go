package eval

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// benchMaps returns n pairs of 3x256x256 maps: a smooth-ish random truth and a noisy copy.
// SSIM's cost does not depend on the values.
func benchMaps(n int, s Shape) (truth, rec [][]float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		t := make([]float32, s.Len())
		r := make([]float32, s.Len())
		var prev float32
		for j := range t {
			prev = 0.9*prev + float32(rng.NormFloat64())*0.3
			t[j] = prev
			r[j] = prev + float32(rng.NormFloat64())*0.1
		}
		truth, rec = append(truth, t), append(rec, r)
	}
	return truth, rec
}

// BenchmarkSSIM1000 times SSIM of 1000 maps of 3x256x256 on all cores, the workload of
// testdata/bench_skimage.py (scikit-image's structural_similarity, one map at a time).
// EVAL_BENCH_MAPS overrides the count.
func BenchmarkSSIM1000(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("EVAL_BENCH_MAPS")); err == nil && v > 0 {
		n = v
	}
	s := Shape{C: 3, H: 256, W: 256}
	truth, rec := benchMaps(n, s)
	b.ResetTimer()
	for range b.N {
		if _, err := SSIMBatch(truth, rec, s, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "maps/s")
}

// BenchmarkSSIMChannel times one 256x256 channel on one core.
func BenchmarkSSIMChannel(b *testing.B) {
	s := Shape{C: 1, H: 256, W: 256}
	truth, rec := benchMaps(1, s)
	sc := newSSIMScratch(256)
	for range b.N {
		sc.ssim(truth[0], rec[0], 256, 1)
	}
}
