package preprocess

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernels measures the fused transform + z-score + variant pass on one 256x256
// channel (ns/pixel = ns/op / 65536), without reading: the per-pixel cost the loader adds
// on top of the pread and the batch allocation.
func BenchmarkKernels(b *testing.B) {
	const n = 256
	rng := rand.New(rand.NewPCG(1, 1))
	src, dst, row := make([]float32, n*n), make([]float32, n*n), make([]float32, tileLen(n))
	for _, tr := range []Transform{Log10, Asinh, None} {
		for i := range src {
			if tr == Asinh {
				src[i] = float32(1 + 1000*rng.Float64())
			} else {
				src[i] = float32(math.Pow(10, 10.4+0.5*rng.NormFloat64()))
			}
		}
		for _, v := range []Variant{Identity, FlipH, Rot90, Rot270} {
			b.Run(fmt.Sprintf("%s/%s", tr, v), func(b *testing.B) {
				for b.Loop() {
					tr.affineVariant(dst, src, row, n, v, 0, 0.5, -3)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*n), "ns/pixel")
			})
		}
	}
}
