package preprocess

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/configs"
)

// cpuTime is the process's user + system CPU time: on a shared machine CPU time per map
// moves less with the load than maps/s does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoader measures read + transform + z-score + augment + Arrow batch assembly at
// 256x256 with the training loader's configuration (configs.Default: batch train.batch,
// data.prefetch, data.augment), uncached (CacheBytes 0: every item is read from disk), with
// 1 worker (to set against the single-threaded numpy peer) and data.workers workers (what
// training runs). Set PREPROCESS_BENCH_DIR to a directory of CMD files (e.g. from
// `camelsvae synth`) to run on them; otherwise a small random set is written. Compare with
// testdata/bench_numpy.py on the same directory. cpu-ms/map is the CPU time of the whole
// process (all workers, GC included) per map.
func BenchmarkLoader(b *testing.B) {
	dir := os.Getenv("PREPROCESS_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		makeSet(b, dir, "CV", 4, 256, 1)
		makeSet(b, dir, "LH", 1, 256, 2)
	}
	cfg := configs.Default()
	data := testConfig(dir, 256)
	src, err := OpenSource(data, "CV")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	maps := make([]int, min(60, src.Len("CV")))
	for i := range maps {
		maps[i] = i
	}
	st, err := ComputeStats(context.Background(), src, "CV", maps, data.Workers)
	if err != nil {
		b.Fatal(err)
	}
	variants, err := Variants(data.Augment)
	if err != nil {
		b.Fatal(err)
	}
	items := Items("CV", maps, variants)
	for _, workers := range []int{1, data.Workers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			l, err := NewLoader(memory.NewGoAllocator(), src, st, items, LoaderOptions{
				Batch: cfg.Train.Batch, Workers: workers, Prefetch: data.Prefetch, Shuffle: true, Seed: cfg.Seed, CacheBytes: 0})
			if err != nil {
				b.Fatal(err)
			}
			n, epoch := 0, 0
			cpu0 := cpuTime()
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
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(n), "cpu-ms/map")
		})
	}
}
