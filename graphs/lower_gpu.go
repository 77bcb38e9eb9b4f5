package graphs

import "fmt"

// lowerGPU writes a Sum of k inputs as k-1 Adds (a left fold, the order Sum adds in), and a
// Gemm with a long inner dimension and a small output as a split-K product (see
// splitGemm); every other node is written as it is.
func (g *Graph) lowerGPU(n *Node) []*Node {
	if n.Op == "Gemm" {
		return g.splitGemm(n)
	}
	if n.Op != "Sum" || len(n.In) < 2 {
		return []*Node{n}
	}
	var out []*Node
	acc := n.In[0]
	for i, in := range n.In[1:] {
		y := n.Out[0]
		if i < len(n.In)-2 {
			y = &Value{name: fmt.Sprintf("%s/Add%d", n.Out[0].name, i), dtype: Float, shape: n.Out[0].shape}
		}
		out = append(out, &Node{Op: "Add", Name: fmt.Sprintf("%s/Add%d", n.Name, i), In: []*Value{acc, in}, Out: []*Value{y}})
		acc = y
	}
	return out
}

// splitGemm writes y = op(A) op(B) (+ C) with inner dimension K >= 8192 and at most 65536
// outputs as S = K/1024 products of K/1024 terms, MatMul'd as one batch and summed: a GPU
// runs the plain Gemm (e.g. the encoder's [16 x 32768] x [32768 x 256]) on a few workgroups,
// each walking all of K.
func (g *Graph) splitGemm(n *Node) []*Node {
	a, b, y := n.In[0], n.In[1], n.Out[0]
	ta, tb := n.attrInt("transA", 0) == 1, n.attrInt("transB", 0) == 1
	m, k := a.shape[0], a.shape[1]
	if ta {
		m, k = k, m
	}
	nn := y.shape[1]
	const part = 1024
	if k < 8192 || k%part != 0 || m*nn > 65536 || m < 0 {
		return []*Node{n}
	}
	s := k / part
	l := &lowering{n: n}
	step := l.add
	var as, bs *Value // [S, M, part] and [S, part, N]
	if ta {
		as = step("Transpose", []*Value{step("Reshape", []*Value{a, g.ints(s, part, m)}, nil, s, part, m)}, []attr{aInts("perm", []int64{0, 2, 1})}, s, m, part)
	} else {
		as = step("Transpose", []*Value{step("Reshape", []*Value{a, g.ints(m, s, part)}, nil, m, s, part)}, []attr{aInts("perm", []int64{1, 0, 2})}, s, m, part)
	}
	if tb {
		bs = step("Transpose", []*Value{step("Reshape", []*Value{b, g.ints(nn, s, part)}, nil, nn, s, part)}, []attr{aInts("perm", []int64{1, 2, 0})}, s, part, nn)
	} else {
		bs = step("Reshape", []*Value{b, g.ints(s, part, nn)}, nil, s, part, nn)
	}
	prod := step("MatMul", []*Value{as, bs}, nil, s, m, nn)
	last := &Node{Op: "ReduceSum", Name: n.Name + "/ReduceSum", In: []*Value{prod, g.ints(0)}, attrs: []attr{aInt("keepdims", 0)}, Out: []*Value{y}}
	if len(n.In) > 2 && n.In[2] != nil {
		last.Out = []*Value{{name: y.name + "/ReduceSum", dtype: Float, shape: y.shape}}
		l.out = append(l.out, last)
		last = &Node{Op: "Add", Name: n.Name + "/Add", In: []*Value{last.Out[0], n.In[2]}, Out: []*Value{y}}
	}
	return append(l.out, last)
}
