package pca

import (
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// benchData returns n rows of d float32: per row an AR(1) sequence x[j] = 0.95 x[j-1] + e
// with a random amplitude, a smooth, correlated signal with a decaying PCA spectrum. Seeded,
// so testdata/bench_sklearn.py can fit the very same rows (PCA_BENCH_DUMP writes them).
func benchData(n, d int) (rows [][]float32, flat []float32) {
	rng := rand.New(rand.NewPCG(1944, 256))
	flat = make([]float32, n*d)
	rows = make([][]float32, n)
	for i := range rows {
		r := flat[i*d : (i+1)*d : (i+1)*d]
		amp := float32(0.5 + rng.Float64())
		var prev float32
		for j := range r {
			prev = 0.95*prev + amp*float32(rng.NormFloat64())
			r[j] = prev
		}
		rows[i] = r
	}
	return rows, flat
}

// BenchmarkPCA1944 is the study's PCA: fit + transform + inverse transform of N = 1944 rows of
// D = 196,608 features (3 x 256 x 256) with k = 256 and the randomized solver (oversample 10,
// 4 power iterations: scikit-learn's settings for k > N/10) on the ONNX Runtime engine
// (PCA_BENCH_ENGINE=gonum for the float64 one). Compare with testdata/bench_sklearn.py on the
// same rows, in the same session:
//
//	PCA_BENCH_DUMP=/tmp/pca_bench.npz go test ./pca/ -run XXX -bench PCA1944 -benchtime 1x -timeout 60m
//	OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 pca/testdata/bench_sklearn.py /tmp/pca_bench.npz
//
// Runs here, back to back (2 cores shared with other jobs, load average 3.6-4.3 before each):
// Go fit 12.0 s, transform 2.1 s, inverse 2.3 s, total 16.3 s (17.1 s on a second run),
// cumulative ratio 0.296628, peak RSS 3.3 GiB; scikit-learn 1.2.1 with OpenBLAS's AVX-512
// kernels fit 39.3 s, transform 2.7 s, inverse 7.9 s, total 49.9 s, ratio 0.296541, peak RSS
// 4.8 GiB: 3.0x faster, ratios 9e-5 apart. Without OPENBLAS_CORETYPE, OpenBLAS 0.3.21 takes
// this virtual CPU for a "Prescott" (SSE3) and scikit-learn needs 136-170 s. Before the
// ONNX Runtime engine, gonum's Dgemm (~4.5 GFLOP/s) made the Go side 419 s.
func BenchmarkPCA1944(b *testing.B) {
	const n, d, k = 1944, 3 * 256 * 256, 256
	rows, flat := benchData(n, d)
	if p := os.Getenv("PCA_BENCH_DUMP"); p != "" {
		if err := formats.WriteNPZ(p, []string{"x"}, map[string]formats.Array{"x": formats.F32Array(flat, n, d)}); err != nil {
			b.Fatal(err)
		}
	}
	onnxtest.Setup(b)
	opt := Options{Components: k, Solver: "randomized", Oversample: 10, PowerIters: 4, Seed: 100, Engine: EngineONNX}
	if e := os.Getenv("PCA_BENCH_ENGINE"); e != "" {
		opt.Engine = e
	}
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		m, err := Fit(rows, opt)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		z := m.Transform(rows)
		t2 := time.Now()
		rec := m.InverseTransform(z)
		t3 := time.Now()
		b.ReportMetric(t1.Sub(t0).Seconds(), "fit-s")
		b.ReportMetric(t3.Sub(t0).Seconds(), "total-s")
		b.ReportMetric(m.CumulativeRatio[k-1], "cum-ratio")
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		fmt.Printf("go PCA (%s engine): fit %.2f s, transform %.2f s, inverse %.2f s, total %.2f s; cumulative ratio %.6f; rec[0][0] %.4f; peak RSS %.2f GiB\n",
			opt.Engine, t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds(), t3.Sub(t0).Seconds(), m.CumulativeRatio[k-1], rec[0][0], float64(ru.Maxrss)/(1<<20))
	}
}
