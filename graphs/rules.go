package graphs

import (
	"fmt"
	"slices"
)

// vjpRule emits the vector-Jacobian product of node n, given the gradient dy of its one
// output, for the inputs marked in want (other entries of the result may be nil). Rules are
// maths only: where the fastest form of a product depends on the runtime (the kernel
// gradient of a convolution), they ask the graph's lowering for it.
type vjpRule func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error)

// vjpRules are the gradient rules by operator; Grad refuses a node on the gradient's path
// whose operator has none. Adding a differentiable op: its constant and constructor in
// ops.go, its rule here.
var vjpRules = map[Op]vjpRule{
	OpIdentity: unaryRule(func(g *Graph, n *Node, dy *Value) *Value { return dy }),
	OpNeg:      unaryRule(func(g *Graph, n *Node, dy *Value) *Value { return g.Neg(dy) }),
	OpExp:      unaryRule(func(g *Graph, n *Node, dy *Value) *Value { return g.Mul(dy, n.Out[0]) }),
	OpLog:      unaryRule(func(g *Graph, n *Node, dy *Value) *Value { return g.Div(dy, n.In[0]) }),
	OpSqrt: unaryRule(func(g *Graph, n *Node, dy *Value) *Value {
		return g.Div(g.Mul(dy, g.Scalar(0.5)), n.Out[0])
	}),
	OpLeakyRelu: unaryRule(leakyReluVJP),
	OpAdd: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		return []*Value{g.unbroadcastIf(want[0], dy, n.In[0]), g.unbroadcastIf(want[1], dy, n.In[1])}, nil
	},
	OpSub: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		out := []*Value{g.unbroadcastIf(want[0], dy, n.In[0]), nil}
		if want[1] {
			out[1] = g.unbroadcast(g.Neg(dy), n.In[1].shape)
		}
		return out, nil
	},
	OpMul: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		in, out := n.In, make([]*Value, 2)
		if want[0] {
			out[0] = g.unbroadcast(g.Mul(dy, in[1]), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Mul(dy, in[0]), in[1].shape)
		}
		return out, nil
	},
	OpDiv: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		in, out := n.In, make([]*Value, 2)
		if want[0] {
			out[0] = g.unbroadcast(g.Div(dy, in[1]), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Neg(g.Div(g.Mul(dy, n.Out[0]), in[1])), in[1].shape)
		}
		return out, nil
	},
	OpMax: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		in, out := n.In, make([]*Value, 2)
		mask := g.GreaterOrEqual(in[0], in[1])
		if want[0] {
			out[0] = g.unbroadcast(g.Where(mask, dy, g.Scalar(0)), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Where(mask, g.Scalar(0), dy), in[1].shape)
		}
		return out, nil
	},
	OpWhere: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		in, out := n.In, make([]*Value, 3)
		if want[1] {
			out[1] = g.unbroadcast(g.Where(in[0], dy, g.Scalar(0)), in[1].shape)
		}
		if want[2] {
			out[2] = g.unbroadcast(g.Where(in[0], g.Scalar(0), dy), in[2].shape)
		}
		return out, nil
	},
	OpSum: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		out := make([]*Value, len(n.In))
		for j := range out {
			out[j] = dy
		}
		return out, nil
	},
	OpExpand:    unaryRule(func(g *Graph, n *Node, dy *Value) *Value { return g.unbroadcast(dy, n.In[0].shape) }),
	OpReshape:   reshapeVJP,
	OpFlatten:   reshapeVJP,
	OpTranspose: unaryRule(transposeVJP),
	OpConcat: func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		axis := n.attrInt("axis", 0)
		out, off := make([]*Value, len(n.In)), int64(0)
		for j, v := range n.In {
			if want[j] {
				out[j] = g.Slice(dy, []int64{off}, []int64{off + v.shape[axis]}, []int64{axis})
			}
			off += v.shape[axis]
		}
		return out, nil
	},
	OpSlice:         unaryRule(sliceVJP),
	OpReduceSum:     unaryRule(reduceVJP),
	OpReduceMean:    unaryRule(reduceVJP),
	OpGemm:          gemmVJP,
	OpMatMul:        matMulVJP,
	OpConv:          convVJP,
	OpConvTranspose: convTransposeVJP,
}

// unaryRule makes a rule for an op whose only differentiable input is the first.
func unaryRule(f func(g *Graph, n *Node, dy *Value) *Value) vjpRule {
	return func(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
		out := make([]*Value, len(n.In))
		out[0] = f(g, n, dy)
		return out, nil
	}
}

// leakyReluVJP is dy * clip(ceil(y), alpha, 1) for 0 <= alpha <= 1: ceil(y) >= 1 exactly
// where y > 0 (denormals included) and <= 0 elsewhere, so the mask is 1 or alpha. Three
// vectorised passes; y > 0 with a Cast and a Max took four (1.35x slower at 256x256), and
// ORT's Where is several times slower. y > 0 exactly where x > 0 (alpha >= 0), and testing y
// leaves the LeakyRelu the only reader of x, so ORT fuses it into the Conv before it.
func leakyReluVJP(g *Graph, n *Node, dy *Value) *Value {
	alpha := n.attrFloat("alpha", 0.01)
	if alpha >= 0 && alpha <= 1 {
		return g.Mul(dy, g.Clip(g.Ceil(n.Out[0]), alpha, 1))
	}
	return g.Where(g.Greater(n.In[0], g.Scalar(0)), dy, g.Mul(dy, g.Scalar(alpha)))
}

func reshapeVJP(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
	out := make([]*Value, len(n.In))
	out[0] = g.Reshape(dy, n.In[0].shape...)
	return out, nil
}

func transposeVJP(g *Graph, n *Node, dy *Value) *Value {
	perm := n.attrInts("perm")
	inv := make([]int64, len(perm))
	for i, p := range perm {
		inv[p] = int64(i)
	}
	return g.Transpose(dy, inv...)
}

// sliceVJP pads dy back to the input's shape with zeros.
func sliceVJP(g *Graph, n *Node, dy *Value) *Value {
	in := n.In
	starts, ends, axes := in[1].i64, in[2].i64, in[3].i64
	r := in[0].Rank()
	pads := make([]int64, 2*r)
	for i, a := range axes {
		pads[a] = starts[i]
		pads[int64(r)+a] = in[0].shape[a] - ends[i]
	}
	return g.Pad(dy, pads)
}

// reduceVJP expands dy over the reduced axes (divided by their size for a mean).
func reduceVJP(g *Graph, n *Node, dy *Value) *Value {
	in := n.In
	axes := in[1].i64
	if len(axes) == 0 {
		axes = allAxes(in[0].Rank())
	}
	keep := make([]int64, in[0].Rank())
	count := int64(1)
	for i, d := range in[0].shape {
		keep[i] = d
		if slices.Contains(axes, int64(i)) {
			keep[i] = 1
			count *= d
		}
	}
	d := dy
	if !slices.Equal(d.shape, keep) {
		d = g.Reshape(d, keep...)
	}
	if n.Op == OpReduceMean {
		d = g.Mul(d, g.Scalar(1/float32(count)))
	}
	return g.Expand(d, in[0].shape...)
}

func gemmVJP(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
	if n.attrFloat("alpha", 1) != 1 || n.attrFloat("beta", 1) != 1 {
		return nil, fmt.Errorf("graphs: no gradient rule for Gemm with alpha/beta != 1 (%s)", n.Name)
	}
	in, out := n.In, make([]*Value, len(n.In))
	ta, tb := n.attrInt("transA", 0) == 1, n.attrInt("transB", 0) == 1
	a, b := in[0], in[1]
	if want[0] {
		if !ta {
			out[0] = g.Gemm(dy, b, nil, false, !tb)
		} else {
			out[0] = g.Gemm(b, dy, nil, tb, true)
		}
	}
	if want[1] {
		if !tb {
			out[1] = g.Gemm(a, dy, nil, !ta, false)
		} else {
			out[1] = g.Gemm(dy, a, nil, true, ta)
		}
	}
	if len(in) > 2 && want[2] {
		out[2] = g.unbroadcast(dy, in[2].shape)
	}
	return out, nil
}

func matMulVJP(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
	out := make([]*Value, 2)
	if want[0] {
		out[0] = g.Gemm(dy, n.In[1], nil, false, true)
	}
	if want[1] {
		out[1] = g.Gemm(n.In[0], dy, nil, true, false)
	}
	return out, nil
}
