package vae

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// runOn runs an artifact once on rt (a plain session) with the given inputs.
func runOn(t *testing.T, a Artifact, rt configs.Runtime, in [][]float32, shapes [][]int64) [][]float32 {
	t.Helper()
	s, err := onnx.NewSession(a.Model, a.Inputs, a.Outputs, rt)
	if err != nil {
		t.Fatalf("%s on %s: %v", a.Name, rt.Provider, err)
	}
	defer s.Destroy()
	return onnxtest.Run(t, s, in, shapes)
}

// TestProviderMatchesCPU runs every artifact of the reduced model (the fused step included) on
// the GPU provider, lowered for it, and on the CPU, lowered for the CPU: every output agrees
// within 1e-4 norm-wise relative error, and every node of the GPU graphs ran on the GPU
// provider.
func TestProviderMatchesCPU(t *testing.T) {
	rt := onnxtest.Provider(t)
	cpuCfg, gpuCfg := smallCfg(true), smallCfg(true)
	gpuCfg.Runtime.Provider = rt.Provider
	cpuV, err := FromConfig(cpuCfg)
	if err != nil {
		t.Fatal(err)
	}
	gpuV, err := FromConfig(gpuCfg)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 2
	r := rand.New(rand.NewPCG(5, 5))
	params := cpuV.InitParams(3)
	x := onnxtest.Rand(r, batch*3*32*32, -1, 1)
	eps := onnxtest.Rand(r, batch*8, -1, 1)
	var pShapes [][]int64
	for _, s := range cpuV.Params() {
		pShapes = append(pShapes, s.Shape)
	}
	moments := func(scale float64) [][]float32 {
		var out [][]float32
		for _, p := range params {
			out = append(out, onnxtest.Rand(r, int64(len(p)), 0, scale))
		}
		return out
	}
	m, v := moments(1e-3), moments(1e-6)
	grads := moments(1e-2)
	cat := func(parts ...[][]float32) [][]float32 {
		var out [][]float32
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		build  func(v *VAE) (Artifact, error)
		in     [][]float32
		shapes [][]int64
	}{
		{func(v *VAE) (Artifact, error) { return v.TrainStep(batch) },
			cat(params, [][]float32{x, eps, {0.5}}),
			append(append([][]int64{}, pShapes...), []int64{batch, 3, 32, 32}, []int64{batch, 8}, []int64{1})},
		{func(v *VAE) (Artifact, error) { return v.EvalStep(0) },
			cat(params, [][]float32{x, {0.5}}),
			append(append([][]int64{}, pShapes...), []int64{batch, 3, 32, 32}, []int64{1})},
		{func(v *VAE) (Artifact, error) { return v.Optimizer() },
			cat(params, grads, m, v, [][]float32{{3}, {1e-3}}),
			append(append(append(append(append([][]int64{}, pShapes...), pShapes...), pShapes...), pShapes...), []int64{1}, []int64{1})},
		{func(v *VAE) (Artifact, error) { return v.FusedStep(batch) },
			cat(params, m, v, [][]float32{x, eps, {0.5}, {3}, {1e-3}}),
			append(append(append(append([][]int64{}, pShapes...), pShapes...), pShapes...), []int64{batch, 3, 32, 32}, []int64{batch, 8}, []int64{1}, []int64{1}, []int64{1})},
		{func(v *VAE) (Artifact, error) { return v.Encoder(params, nil) },
			[][]float32{x}, [][]int64{{batch, 3, 32, 32}}},
	}
	// The decoder takes the CPU encoder's mu and skips.
	enc, err := cpuV.Encoder(params, nil)
	if err != nil {
		t.Fatal(err)
	}
	eo := runOn(t, enc, configs.Default().Runtime, [][]float32{x}, [][]int64{{batch, 3, 32, 32}})
	decIn, decShapes := [][]float32{eo[0]}, [][]int64{{batch, 8}}
	for i, sh := range cpuV.SkipShapes() {
		decIn, decShapes = append(decIn, eo[2+i]), append(decShapes, append([]int64{batch}, sh...))
	}
	cases = append(cases, struct {
		build  func(v *VAE) (Artifact, error)
		in     [][]float32
		shapes [][]int64
	}{func(v *VAE) (Artifact, error) { return v.Decoder(params, nil) }, decIn, decShapes})
	for _, c := range cases {
		ca, err := c.build(cpuV)
		if err != nil {
			t.Fatal(err)
		}
		ga, err := c.build(gpuV)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(ca.Name, ".onnx"), func(t *testing.T) {
			want := runOn(t, ca, configs.Default().Runtime, c.in, c.shapes)
			got := runOn(t, ga, rt, c.in, c.shapes)
			var worst float64
			for i, name := range ga.Outputs {
				e := onnxtest.RelErr(got[i], want[i], 1e-12)
				if e > 1e-4 {
					t.Errorf("%s: %s differs from the CPU's by %.3g (> 1e-4)", ga.Name, name, e)
				}
				worst = max(worst, e)
			}
			pl, err := onnx.PlacementOf(ga.Model, rt)
			if err != nil {
				t.Fatal(err)
			}
			if off := pl.Off(rt.Provider); len(off) > 0 {
				t.Errorf("%s: %d nodes did not run on %s: %v", ga.Name, len(off), rt.Provider, off)
			}
			t.Logf("%s: %d outputs, worst relative difference %.3g; %d nodes on %s", ga.Name, len(ga.Outputs), worst, pl.Count(rt.Provider), rt.Provider)
		})
	}
}

// TestGPULoweringOnCPU runs train_step lowered for a GPU (weight gradients as split-K batched
// MatMuls, Sums as Adds, plain ConvTransposes) on the CPU provider against the CPU lowering,
// at 256x256 so that every split of the GPU weight gradient is used: within 1e-5.
func TestGPULoweringOnCPU(t *testing.T) {
	onnxtest.Setup(t)
	cfg := smallCfg(true)
	cfg.Data.Size = 256
	gcfg := cfg
	gcfg.Runtime.Provider = "webgpu"
	cv, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := FromConfig(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 2
	ca, err := cv.TrainStep(batch)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := gv.TrainStep(batch)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	in := cv.InitParams(4)
	var shapes [][]int64
	for _, s := range cv.Params() {
		shapes = append(shapes, s.Shape)
	}
	in = append(in, onnxtest.Rand(r, batch*3*256*256, -1, 1), onnxtest.Rand(r, batch*8, -1, 1), []float32{0.5})
	shapes = append(shapes, []int64{batch, 3, 256, 256}, []int64{batch, 8}, []int64{1})
	rt := configs.Default().Runtime
	want := runOn(t, ca, rt, in, shapes)
	got := runOn(t, ga, rt, in, shapes)
	var worst float64
	for i, name := range ga.Outputs {
		e := onnxtest.RelErr(got[i], want[i], 1e-12)
		if e > 1e-5 {
			t.Errorf("%s differs by %.3g", name, e)
		}
		worst = max(worst, e)
	}
	t.Logf("worst relative difference over %d outputs: %.3g", len(ga.Outputs), worst)
}
