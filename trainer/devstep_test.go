package trainer

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
	"github.com/camelsvae/camelsvae/vae"
)

// maxRel is the largest norm-wise relative difference between matching tensors.
func maxRel(a, b [][]float32) float64 {
	var worst float64
	for i := range a {
		var d, n float64
		for k := range a[i] {
			e := float64(a[i][k]) - float64(b[i][k])
			d += e * e
			n += float64(b[i][k]) * float64(b[i][k])
		}
		worst = max(worst, math.Sqrt(d)/math.Max(math.Sqrt(n), 1e-12))
	}
	return worst
}

// compareRunners takes five steps (the third not committed, as after a non-finite loss)
// with three runners: the host stepper on the CPU, the device stepper on rt, and a second
// device stepper whose state is read back from the first and uploaded again before every
// step. Checked: each step's loss terms and the state after the first step agree with the
// host's within tol; the resident and re-uploaded device runs are bit-identical (the state
// that stays on the device is the state); the final validation loss agrees within tol.
// The final state is compared with the host's only on the CPU: after two Adam steps this
// small model amplifies any float32 difference about 200-fold (a 2e-6 perturbation of the
// state on the CPU alone gives 4e-4 in the parameters and 1e-2 in the moments).
func compareRunners(t *testing.T, rt configs.Runtime, tol float64) {
	onnxtest.Setup(t)
	c := tinyConfig()
	model, err := vae.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	init := func() *Tensors { return freshTensors(model, c.Seed) }
	host, err := newHostStepper(model, c, init(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer host.destroy()
	dc := c
	dc.Runtime = rt
	dvae, err := vae.FromConfig(dc)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := newDeviceStepper(dvae, dc, init(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dev.destroy()
	again, err := newDeviceStepper(dvae, dc, init(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer again.destroy()
	flat := func(tt *Tensors) [][]float32 {
		var out [][]float32
		for _, grp := range [][][]float32{tt.Params, tt.M, tt.V} {
			for _, p := range grp {
				out = append(out, append([]float32(nil), p...))
			}
		}
		return out
	}
	tr, val := feeds(c)
	var batches [][]float32
	_ = tr.Epoch(context.Background(), 1, 0, func(x []float32, n int) error {
		batches = append(batches, append([]float32(nil), x...))
		return nil
	})
	compare := func(what string, a, b *Tensors, limit float64) {
		for k, pair := range [][2][][]float32{{a.Params, b.Params}, {a.M, b.M}, {a.V, b.V}} {
			if e := maxRel(pair[1], pair[0]); e > limit {
				t.Errorf("%s: %s differ by %.3g (> %g)", what, []string{"parameters", "first moments", "second moments"}[k], e, limit)
			}
		}
	}
	for i := range 5 {
		// The re-uploaded runner starts each step from dev's state, read back.
		dt, err := dev.tensors()
		if err != nil {
			t.Fatal(err)
		}
		again.releaseState()
		for k, src := range flat(dt) {
			copy(again.init[k].Data, src)
		}
		a, err := host.step(batches[i], i+1, 0.3, c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dev.step(batches[i], i+1, 0.3, dc)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := again.step(batches[i], i+1, 0.3, dc)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(a.Total-b.Total) / math.Abs(a.Total); d > tol {
			t.Errorf("step %d: loss %g on the host, %g on %s", i+1, a.Total, b.Total, rt.Provider)
		}
		if b != b2 {
			t.Errorf("step %d: loss terms %+v with the state resident, %+v re-uploaded", i+1, b, b2)
		}
		if i != 2 {
			host.commit()
			dev.commit()
			again.commit()
		}
		ht, _ := host.tensors()
		dt, err = dev.tensors()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := again.tensors()
		if err != nil {
			t.Fatal(err)
		}
		compare(fmt.Sprintf("step %d, resident vs re-uploaded", i+1), d2, dt, 0)
		if i == 0 || rt.Provider == "cpu" {
			compare(fmt.Sprintf("step %d, %s vs host", i+1, rt.Provider), ht, dt, tol)
		}
	}
	va, err := host.evaluate(context.Background(), val, 1)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := dev.evaluate(context.Background(), val, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(va.Total-vb.Total) / va.Total; d > tol {
		t.Errorf("validation loss %g on the host, %g on %s", va.Total, vb.Total, rt.Provider)
	}
	tr2, n := dev.traffic()
	t.Logf("%s: %d bytes to the device over %d steps (the first uploads the state), %d back per step; validation %g vs %g",
		rt.Provider, tr2.ToDevice, n, tr2.ToHost/int64(n), vb.Total, va.Total)
}

// TestDeviceStepperCPU runs the device stepper (fused step graph, IO binding) on the CPU
// provider: it agrees with the two-graph host stepper to float32 rounding.
func TestDeviceStepperCPU(t *testing.T) {
	compareRunners(t, tinyConfig().Runtime, 1e-5)
}

// TestDeviceStepperProvider runs it on the GPU provider named by $CAMELSVAE_TEST_PROVIDER
// (make test: WebGPU over SwiftShader): state and losses within 1e-4 of the CPU's, and the
// only bytes bound per step are the batch, the noise, three scalars and four loss terms.
func TestDeviceStepperProvider(t *testing.T) {
	rt := tinyConfig().Runtime
	rt.Provider = onnxtest.Provider(t).Provider
	compareRunners(t, rt, 1e-4)
}

// TestRunnersUnavailableProvider: a provider the library lacks is an error from both
// runners' constructors, which free what they made (no panic).
func TestRunnersUnavailableProvider(t *testing.T) {
	onnxtest.Setup(t)
	c := tinyConfig()
	c.Runtime.Provider = "cuda"
	model, err := vae.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	tt := freshTensors(model, 1)
	if _, err := newHostStepper(model, c, tt, ""); err == nil || !strings.Contains(err.Error(), "cuda") {
		t.Errorf("host stepper on cuda: got %v", err)
	}
	if _, err := newDeviceStepper(model, c, tt, ""); err == nil || !strings.Contains(err.Error(), "cuda") {
		t.Errorf("device stepper on cuda: got %v", err)
	}
}

// TestTrainProvider trains the tiny model for one epoch on $CAMELSVAE_TEST_PROVIDER and on the
// CPU: the log names the adapter, says every node ran on the device and reports the bytes per
// step; the epoch's validation loss agrees within 1e-3 (Adam amplifies float32 differences
// over the epoch's 16 steps, see compareRunners); the checkpoint written from the device
// state loads.
func TestTrainProvider(t *testing.T) {
	p := onnxtest.Provider(t).Provider
	c := tinyConfig()
	c.Train.Epochs = 1
	tr, val := feeds(c)
	ctx := context.Background()
	cpu, err := Train(ctx, Options{Config: c, Run: t.TempDir(), Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	g := c
	g.Runtime.Provider = p
	var log strings.Builder
	dir := t.TempDir()
	gpu, err := Train(ctx, Options{Config: g, Run: dir, Train: tr, Val: val, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{p + ": adapter ", "nodes of step.onnx run on the device", "MB per step"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	a, b := cpu.Metrics[0].Val.Total, gpu.Metrics[0].Val.Total
	if d := math.Abs(a-b) / a; d > 1e-3 {
		t.Errorf("validation loss after one epoch: %g on the CPU, %g on %s", a, b, p)
	}
	if len(gpu.Params) != len(cpu.Params) || maxRel(gpu.Params, cpu.Params) > 0.1 {
		t.Errorf("best parameters differ from the CPU run's by %.3g", maxRel(gpu.Params, cpu.Params))
	}
	t.Logf("validation loss %g (cpu) vs %g (%s)", a, b, p)
}
