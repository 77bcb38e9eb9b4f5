package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/vae"
)

// writeFakeSet writes a CMD-format set of n log-normal maps of side s (values only; the
// encoder's speed does not depend on what the maps show).
func writeFakeSet(tb testing.TB, dir, set string, n, s int) {
	tb.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	for c, f := range configs.Names(configs.StudyFields()) {
		w, err := formats.CreateMaps(formats.MapPath(dir, f, "IllustrisTNG", set), n, s, s)
		if err != nil {
			tb.Fatal(err)
		}
		m := make([]float32, s*s)
		for i := 0; i < n; i++ {
			for j := range m {
				m[j] = float32(math.Exp(r.NormFloat64() + float64(c)))
			}
			if err := w.WriteMap(i, m); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	rows := make([]formats.Params, (n+14)/15)
	for i := range rows {
		rows[i] = formats.Params{0.3, 0.8, 1, 1, 1, 1}
	}
	if err := formats.WriteParams(formats.ParamsPath(dir, set, "IllustrisTNG"), rows); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkEncode times `camelsvae encode`'s path at the study's size: the concurrent loader
// reads, transforms and normalises 256x256 maps while encoder.onnx (full width, weights
// baked in) encodes batches of 64 on 2 intra-op threads. Peer: testdata/bench_torch_encode.py.
//
//	go test ./trainer -run '^$' -bench Encode -benchtime 2x
func BenchmarkEncode(b *testing.B) {
	onnxtest.Setup(b)
	const n, side = 195, 256
	dir := b.TempDir()
	writeFakeSet(b, dir, "LH", n, side)
	cfg := configs.Default()
	cfg.Data.Dir, cfg.Data.TrainSet, cfg.Data.TestSet = dir, "LH", "LH"
	cfg.Runtime.IntraOpThreads = 2
	src, err := preprocess.OpenSource(cfg.Data)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	maps := make([]int, n)
	for i := range maps {
		maps[i] = i
	}
	stats, err := preprocess.ComputeStats(context.Background(), src, "LH", maps[:16], 2)
	if err != nil {
		b.Fatal(err)
	}
	model, err := vae.FromConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	exp := filepath.Join(dir, "export")
	if err := Export(exp, cfg, model.InitParams(1), stats); err != nil {
		b.Fatal(err)
	}
	o := EncodeOptions{Mem: memory.DefaultAllocator, Src: src, Stats: stats, Config: cfg,
		Export: exp, Set: "LH", Maps: maps, Batch: 64}
	b.ResetTimer()
	total := 0
	for range b.N {
		lat, _, err := EncodeMaps(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		total += lat.Len()
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "maps/s")
}
