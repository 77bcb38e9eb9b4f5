package graphs

import (
	"math/rand/v2"
	"testing"

	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// TestSplitGemm: a Gemm with a long inner dimension, lowered for a GPU into a split-K batched
// MatMul and a ReduceSum, equals the plain Gemm for every transpose choice, with and without
// the bias term.
func TestSplitGemm(t *testing.T) {
	onnxtest.Setup(t)
	r := rand.New(rand.NewPCG(3, 4))
	const m, k, n = 6, 8192, 5
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, bias := range []bool{false, true} {
				var outs [2][]float32
				as, bs := []int64{m, k}, []int64{k, n}
				if ta {
					as = []int64{k, m}
				}
				if tb {
					bs = []int64{n, k}
				}
				av, bv, cv := randSlice(r, m*k, -1, 1), randSlice(r, k*n, -1, 1), randSlice(r, n, -1, 1)
				for i, target := range []Target{TargetCPU, TargetGPU} {
					g := NewGraph("gemm")
					g.Target = target
					a, b := g.Input("a", as...), g.Input("b", bs...)
					var c *Value
					in, shapes := [][]float32{av, bv}, [][]int64{as, bs}
					if bias {
						c = g.Input("c", n)
						in, shapes = append(in, cv), append(shapes, []int64{n})
					}
					g.Output("y", g.Gemm(a, b, c, ta, tb))
					s := graphSession(t, g)
					outs[i] = runSession(t, s, in, shapes)[0]
					if target == TargetGPU {
						m, _ := g.Proto()
						if ops := opTypes(m.GetGraph().GetNode()); ops["Gemm"] != 0 || ops["MatMul"] != 1 {
							t.Errorf("GPU lowering wrote %v", ops)
						}
					}
				}
				if e := relErr(outs[1], outs[0], 1e-12); e > 1e-5 {
					t.Errorf("transA %v transB %v bias %v: split-K differs by %.3g", ta, tb, bias, e)
				}
			}
		}
	}
}

// opTypes counts the nodes of each op type.
func opTypes(nodes []*onnxpb.NodeProto) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		out[n.GetOpType()]++
	}
	return out
}
