package vae

import (
	"fmt"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// warmupSteps is how many training steps BenchmarkTrainStep runs before timing, and the
// --warmup that .ci/bench gives the PyTorch peer.
const warmupSteps = 2

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
			v, err := FromConfig(cfg)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 16
			st := newStepper(b, v, batch)
			// Warm-up: ORT allocates in the first run and moves to its planned memory
			// layout in the second, touching gigabytes of fresh pages at 256x256 (that
			// run took 2-3x a steady step here). A training run pays this once.
			for range warmupSteps {
				st.step(b)
			}
			n := 0
			for b.Loop() {
				st.step(b)
				n++
			}
			b.ReportMetric(float64(batch*n)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
