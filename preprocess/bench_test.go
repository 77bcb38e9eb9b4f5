package preprocess

import (
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkLoader measures read + transform + z-score + augment + Arrow batch assembly at
// 256x256, batch 16, study augmentation, 2 workers. Set PREPROCESS_BENCH_DIR to a directory
// of CMD files (e.g. from `camelsvae synth`) to run on them; otherwise a small random set is
// written. Compare with testdata/bench_numpy.py on the same directory.
func BenchmarkLoader(b *testing.B) {
	dir := os.Getenv("PREPROCESS_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		makeSet(b, dir, "CV", 4, 256, 1)
		makeSet(b, dir, "LH", 1, 256, 2)
	}
	cfg := testConfig(dir, 256)
	src, err := OpenSource(cfg, "CV")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	maps := make([]int, min(60, src.Len("CV")))
	for i := range maps {
		maps[i] = i
	}
	st, err := ComputeStats(context.Background(), src, "CV", maps, 2)
	if err != nil {
		b.Fatal(err)
	}
	variants, _ := Variants("study")
	items := Items("CV", maps, variants)
	l, err := NewLoader(memory.NewGoAllocator(), src, st, items, LoaderOptions{Batch: 16, Workers: 2, Prefetch: 4, Shuffle: true, Seed: 100})
	if err != nil {
		b.Fatal(err)
	}
	n, epoch := 0, 0
	for b.Loop() {
		for batch, err := range l.Epoch(context.Background(), epoch) {
			if err != nil {
				b.Fatal(err)
			}
			n += batch.N
			batch.Release()
		}
		epoch++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "maps/s")
}
