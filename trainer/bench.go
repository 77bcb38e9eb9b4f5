package trainer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/vae"
)

// StepTiming is what BenchSteps measured: the training step as Train runs it, on the
// configured provider, at train.batch and data.size.
type StepTiming struct {
	Provider       string   `json:"provider"`
	Adapter        string   `json:"adapter,omitempty"`
	Size           int      `json:"size"`
	Batch          int      `json:"batch"`
	WidthMult      float64  `json:"width_mult"`
	Steps          int      `json:"steps"`
	Seconds        float64  `json:"seconds"`
	ImagesPerS     float64  `json:"images_per_s"`
	MsPerStep      float64  `json:"ms_per_step"`
	SetupS         float64  `json:"setup_s"`
	ToDevicePerStp int64    `json:"bytes_to_device_per_step"`
	ToHostPerStep  int64    `json:"bytes_to_host_per_step"`
	OffDevice      []string `json:"nodes_off_device,omitempty"`
	Layout         string   `json:"webgpu_layout,omitempty"`
	HostState      bool     `json:"host_state,omitempty"`
}

// BenchSteps times n training steps on random maps after warmup untimed ones (the
// first runs compile kernels and allocate). Bytes moved are counted over the timed steps.
// hostState runs a GPU provider the CPU way instead (train_step and optimizer over host
// memory, everything copied each step), to measure what keeping the state on the device buys.
// It is long because it times exactly what train runs, with the warm-up and device
// synchronisation around the clock.
func BenchSteps(ctx context.Context, cfg configs.Config, warmup, n int, hostState bool, log io.Writer) (StepTiming, error) {
	if log == nil {
		log = io.Discard
	}
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return StepTiming{}, err
	}
	t := freshTensors(model, cfg.Seed)
	res := StepTiming{Provider: cfg.Runtime.Provider, Size: cfg.Data.Size, Batch: cfg.Train.Batch,
		WidthMult: cfg.Model.WidthMult, Steps: n}
	if res.Provider == "webgpu" {
		res.Layout = cfg.Runtime.WebGPULayout
		if a, err := onnx.VulkanAdapters(); err == nil {
			res.Adapter = a[0].String()
		}
	}
	start := time.Now()
	var s stepRunner
	if hostState {
		s, err = newHostStepper(model, cfg, t, "")
		res.HostState = true
	} else {
		s, err = newStepRunner(model, cfg, t, "")
	}
	if err != nil {
		return res, err
	}
	defer s.destroy()
	if d, ok := s.(onDevice); ok {
		res.OffDevice = d.describe(log, cfg.Runtime)
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 1))
	x := make([]float32, cfg.Train.Batch*len(cfg.Data.Fields)*cfg.Data.Size*cfg.Data.Size)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	step := 0
	run := func(n int) error {
		for range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			step++
			terms, err := s.step(x, step, 0.1, cfg)
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			if !terms.finite() {
				return fmt.Errorf("step %d: loss is not finite (%g)", step, terms.Total)
			}
			s.commit()
		}
		return nil
	}
	if err := run(warmup); err != nil {
		return res, err
	}
	d, dev := s.(onDevice)
	if dev {
		if err := d.sync(cfg.Runtime); err != nil {
			return res, err
		}
	}
	res.SetupS = time.Since(start).Seconds()
	before, _ := s.traffic()
	t0 := time.Now()
	if err := run(n); err != nil {
		return res, err
	}
	// A GPU run returns once its loss terms reach the host; the optimizer's last kernels may
	// still be queued, so wait for them before the clock stops.
	if dev {
		if err := d.sync(cfg.Runtime); err != nil {
			return res, err
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	after, _ := s.traffic()
	res.ImagesPerS = float64(n*cfg.Train.Batch) / res.Seconds
	res.MsPerStep = 1e3 * res.Seconds / float64(n)
	if n > 0 {
		res.ToDevicePerStp = (after.ToDevice - before.ToDevice) / int64(n)
		res.ToHostPerStep = (after.ToHost - before.ToHost) / int64(n)
	}
	if cfg.Runtime.Provider == "cpu" {
		res.ToDevicePerStp, res.ToHostPerStep = 0, 0
	}
	return res, nil
}
