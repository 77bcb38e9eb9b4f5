package graphs

import (
	"math/rand/v2"
	"testing"

	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// graphSession serialises g and loads it on the CPU provider.
func graphSession(t testing.TB, g *Graph) *onnx.Session {
	t.Helper()
	m, err := g.Model()
	if err != nil {
		t.Fatal(err)
	}
	return onnxtest.Session(t, g.name, m, g.InputNames(), g.OutputNames())
}

// runSession runs a session whose inputs have static shapes shapes.
func runSession(t testing.TB, s *onnx.Session, inputs [][]float32, shapes [][]int64) [][]float32 {
	t.Helper()
	return onnxtest.Run(t, s, inputs, shapes)
}

func inputShapes(g *Graph) [][]int64 {
	sh := make([][]int64, len(g.inputs))
	for i, v := range g.inputs {
		sh[i] = v.Shape()
	}
	return sh
}

func randSlice(r *rand.Rand, n int64, lo, hi float64) []float32 { return onnxtest.Rand(r, n, lo, hi) }

func relErr(got, want []float32, floor float64) float64 { return onnxtest.RelErr(got, want, floor) }
