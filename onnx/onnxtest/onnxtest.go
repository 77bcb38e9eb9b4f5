// Package onnxtest holds what tests that run graphs on ONNX Runtime share, as net/http/httptest
// does for HTTP: loading the runtime, the GPU provider under test, sessions that dump a model
// the runtime rejects, running float32 tensors, and error measures.
package onnxtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
)

// EnvProvider names an accelerated provider (webgpu, cuda) for the provider tests to check
// against the CPU; `make test` sets it to webgpu over SwiftShader's software Vulkan.
const EnvProvider = "CAMELSVAE_TEST_PROVIDER"

// EnvDump names a folder into which Session writes a model ONNX Runtime rejects.
const EnvDump = "CAMELSVAE_DUMP_GRAPHS"

// Setup loads ONNX Runtime or fails the test: the Makefile fetches it before the tests run.
func Setup(t testing.TB) {
	t.Helper()
	if _, err := onnx.Setup("", configs.Default().Runtime); err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
}

// Provider returns the runtime settings of the provider under test ($CAMELSVAE_TEST_PROVIDER),
// or skips the test when none is named.
func Provider(t testing.TB) configs.Runtime {
	t.Helper()
	p := os.Getenv(EnvProvider)
	if p == "" {
		t.Skipf("set %s=webgpu (make test does, over SwiftShader) to compare a GPU provider with the CPU", EnvProvider)
	}
	Setup(t)
	rt := configs.Default().Runtime
	rt.Provider = p
	return rt
}

// Session loads model bytes on the CPU provider, closed when the test ends. A model ORT
// rejects is written to $CAMELSVAE_DUMP_GRAPHS when set. $CAMELSVAE_PROFILE=prefix writes
// ORT's per-node profile of every session.
func Session(t testing.TB, name string, model []byte, inputs, outputs []string) *onnx.Session {
	t.Helper()
	Setup(t)
	rt := configs.Default().Runtime
	rt.Profile = os.Getenv("CAMELSVAE_PROFILE")
	s, err := onnx.NewSession(model, inputs, outputs, rt)
	if err != nil {
		p, derr := Dump(name, model)
		if derr != nil {
			t.Logf("dump failed: %v", derr)
		}
		t.Fatalf("ORT rejected %s (dumped to %q; set %s=dir to dump): %v", name, p, EnvDump, err)
	}
	t.Cleanup(s.Destroy)
	return s
}

// Run runs a session on float32 inputs of the given static shapes and returns its outputs.
func Run(t testing.TB, s *onnx.Session, inputs [][]float32, shapes [][]int64) [][]float32 {
	t.Helper()
	out, _, err := onnx.RunFloat32(s, inputs, shapes)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Dump writes model to $CAMELSVAE_DUMP_GRAPHS/<name>.onnx when that is set, for inspecting a
// graph ONNX Runtime rejected; it returns the path written, or "" when dumping is off.
func Dump(name string, model []byte) (string, error) {
	dir := os.Getenv(EnvDump)
	if dir == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dump: %w", err)
	}
	p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".onnx")
	if err := os.WriteFile(p, model, 0o644); err != nil {
		return "", fmt.Errorf("dump: %w", err)
	}
	return p, nil
}

// Rand returns n values uniform in [lo, hi).
func Rand(r *rand.Rand, n int64, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return out
}

// RelErr is the norm-wise relative error ||got-want|| / max(||want||, floor).
func RelErr(got, want []float32, floor float64) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(n), floor)
}
