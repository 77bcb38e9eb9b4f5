package graphs

import (
	"fmt"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// BenchmarkTrainStep times one full training step (train_step + optimizer) at batch 16 and
// reports images/s. Peer: testdata/bench_torch.py runs the same model, loss and Adam in
// PyTorch with two threads.
//
//	go test ./graphs -run '^$' -bench TrainStep -benchtime 5x
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		size  int
		width float64
	}{{64, 1}, {64, 0.25}, {256, 1}} {
		b.Run(fmt.Sprintf("S%d_w%g", c.size, c.width), func(b *testing.B) {
			cfg := configs.Default()
			cfg.Data.Size = c.size
			cfg.Model.WidthMult = c.width
			v, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 16
			st := newStepper(b, v, batch)
			st.step(b) // warm-up: first runs allocate
			b.ResetTimer()
			for range b.N {
				st.step(b)
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
