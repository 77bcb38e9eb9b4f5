package onnx

import (
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// TestBoundChain runs the identity model through IO binding on the CPU provider: a host input,
// an output left "on the device" (host memory for the CPU) and bound as the next run's input,
// then read back by a Reader. Values arrive unchanged, the memory is reported, and the CPU
// provider counts no traffic.
func TestBoundChain(t *testing.T) {
	setup(t)
	rt := configs.Default().Runtime
	shapes := [][]int64{{2, 3}, {4}}
	model, in, out := identityModel(shapes)
	b, err := NewBound(model, in, out, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	var src []*HostTensor
	for i, sh := range shapes {
		h, err := NewHostTensor(sh)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Destroy()
		for k := range h.Data {
			h.Data[k] = float32(10*i + k)
		}
		src = append(src, h)
	}
	first, err := b.Run([]Arg{src[0], src[1]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseValues(first)
	if name, _, err := first[0].Location(); err != nil || name != "Cpu" {
		t.Errorf("device output of the CPU provider lives in %q (%v), want Cpu", name, err)
	}
	// Chain: the device outputs become inputs; output 0 to the host, output 1 stays.
	dst, err := NewHostTensor(shapes[0])
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Destroy()
	second, err := b.Run([]Arg{first[0], first[1]}, []*HostTensor{dst})
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseValues(second)
	if second[0] != nil || second[1] == nil {
		t.Fatalf("host-bound output returned as a device value, or the device one missing: %v", second)
	}
	r, err := NewReader(shapes[1:], rt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Destroy()
	back, err := NewHostTensor(shapes[1])
	if err != nil {
		t.Fatal(err)
	}
	defer back.Destroy()
	if err := r.Read([]Arg{second[1]}, []*HostTensor{back}); err != nil {
		t.Fatal(err)
	}
	for k := range dst.Data {
		if dst.Data[k] != src[0].Data[k] {
			t.Fatalf("output 0 [%d] = %g, want %g", k, dst.Data[k], src[0].Data[k])
		}
	}
	for k := range back.Data {
		if back.Data[k] != src[1].Data[k] {
			t.Fatalf("read back [%d] = %g, want %g", k, back.Data[k], src[1].Data[k])
		}
	}
	if b.Traffic != (Traffic{}) {
		t.Errorf("the CPU provider copies nothing, counted %+v", b.Traffic)
	}
	if _, err := b.Run([]Arg{src[0]}, nil); err == nil || !strings.Contains(err.Error(), "2 inputs") {
		t.Errorf("a missing input: got %v", err)
	}
}

// TestPlacementCPU: every node of a model run on the CPU provider is reported on the CPU.
func TestPlacementCPU(t *testing.T) {
	setup(t)
	model, _, _ := identityModel([][]int64{{3}, {2, 2}})
	p, err := PlacementOf(model, configs.Default().Runtime)
	if err != nil {
		t.Fatal(err)
	}
	if p.Count("cpu") != 2 || len(p.Off("cpu")) != 0 {
		t.Errorf("placement %v: want both Identity nodes on the CPU", p)
	}
	if off := p.Off("webgpu"); len(off) != 2 || !strings.Contains(off[0], "@CPUExecutionProvider") {
		t.Errorf("against webgpu, both nodes are off the device: %v", off)
	}
}
