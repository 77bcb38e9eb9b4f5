package graphs

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
)

// setupORT loads ONNX Runtime or fails: the Makefile fetches it before the tests run.
func setupORT(t testing.TB) {
	t.Helper()
	if _, err := onnx.Setup("", configs.Default().Runtime); err != nil {
		t.Fatalf("graphs tests run their graphs on ONNX Runtime; %v", err)
	}
}

// newSession loads model bytes on the CPU provider; a model ORT rejects is dumped when
// $CAMELSVAE_DUMP_GRAPHS (or DumpDir) is set.
func newSession(t testing.TB, name string, model []byte, inputs, outputs []string) *onnx.Session {
	t.Helper()
	setupORT(t)
	rt := configs.Default().Runtime
	// $CAMELSVAE_PROFILE=prefix writes ORT's per-node profile (JSON) of every session.
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

// graphSession serialises g and loads it.
func graphSession(t testing.TB, g *Graph) *onnx.Session {
	t.Helper()
	m, err := g.Model()
	if err != nil {
		t.Fatal(err)
	}
	return newSession(t, g.name, m, g.InputNames(), g.OutputNames())
}

// runGraph runs a session whose inputs have static shapes shapes.
func runSession(t testing.TB, s *onnx.Session, inputs [][]float32, shapes [][]int64) [][]float32 {
	t.Helper()
	out, _, err := onnx.RunFloat32(s, inputs, shapes)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func inputShapes(g *Graph) [][]int64 {
	sh := make([][]int64, len(g.inputs))
	for i, v := range g.inputs {
		sh[i] = v.Shape()
	}
	return sh
}

// randSlice fills n values uniform in [lo, hi).
func randSlice(r *rand.Rand, n int64, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return out
}

// relErr is the norm-wise relative error ||got-want|| / max(||want||, floor).
func relErr(got, want []float32, floor float64) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d) / math.Max(math.Sqrt(n), floor)
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
func abs(x float64) float64  { return math.Abs(x) }
