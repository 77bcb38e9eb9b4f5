package graphs

import "fmt"

// gpuLowering writes only ops the WebGPU provider implements (it has no Col2Im or Sum kernel,
// so those nodes would run on the CPU with copies either side), and splits long reductions so
// that many workgroups share them.
type gpuLowering struct{}

// kernelGrad: undilated kernels as split-K batched MatMuls (weightGradGPU); others as on the CPU.
func (gpuLowering) kernelGrad(g *Graph, k kernelGrad) *Value {
	if k.o.Dilations != [2]int64{1, 1} {
		return cpuLowering{}.kernelGrad(g, k)
	}
	if k.transposed {
		return g.weightGradGPU(k.x, k.dy, k.wshape[2:], k.o)
	}
	return g.weightGradGPU(k.dy, k.x, k.wshape[2:], k.o)
}

// biasGrad sums dy [N,C,H,W] over the pixels first and then the batch: one ReduceSum over
// axes 0, 2, 3 gives each channel to one workgroup (a million terms at 256x256).
func (gpuLowering) biasGrad(g *Graph, dy *Value) *Value {
	return g.ReduceSum(g.ReduceSum(dy, []int64{2, 3}, false), []int64{0}, false)
}

// lower writes a Sum of k inputs as k-1 Adds (a left fold, the order Sum adds in), and a
// Gemm with a long inner dimension and a small output as a split-K product (see
// splitGemm); every other node is written as it is.
func (gpuLowering) lower(g *Graph, n *Node) []*Node {
	if n.Op == OpGemm {
		return g.splitGemm(n)
	}
	if n.Op != OpSum || len(n.In) < 2 {
		return []*Node{n}
	}
	var out []*Node
	acc := n.In[0]
	for i, in := range n.In[1:] {
		y := n.Out[0]
		if i < len(n.In)-2 {
			y = &Value{name: fmt.Sprintf("%s/Add%d", n.Out[0].name, i), dtype: Float, shape: n.Out[0].shape}
		}
		out = append(out, &Node{Op: OpAdd, Name: fmt.Sprintf("%s/Add%d", n.Name, i), In: []*Value{acc, in}, Out: []*Value{y}})
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
	l := &rewrite{n: n}
	step := l.add
	var as, bs *Value // [S, M, part] and [S, part, N]
	if ta {
		as = step(OpTranspose, []*Value{step(OpReshape, []*Value{a, g.ints(s, part, m)}, nil, s, part, m)}, []attr{aInts("perm", []int64{0, 2, 1})}, s, m, part)
	} else {
		as = step(OpTranspose, []*Value{step(OpReshape, []*Value{a, g.ints(m, s, part)}, nil, m, s, part)}, []attr{aInts("perm", []int64{1, 0, 2})}, s, m, part)
	}
	if tb {
		bs = step(OpTranspose, []*Value{step(OpReshape, []*Value{b, g.ints(nn, s, part)}, nil, nn, s, part)}, []attr{aInts("perm", []int64{1, 2, 0})}, s, part, nn)
	} else {
		bs = step(OpReshape, []*Value{b, g.ints(s, part, nn)}, nil, s, part, nn)
	}
	prod := step(OpMatMul, []*Value{as, bs}, nil, s, m, nn)
	last := &Node{Op: OpReduceSum, Name: n.Name + "/ReduceSum", In: []*Value{prod, g.ints(0)}, attrs: []attr{aInt("keepdims", 0)}, Out: []*Value{y}}
	if len(n.In) > 2 && n.In[2] != nil {
		last.Out = []*Value{{name: y.name + "/ReduceSum", dtype: Float, shape: y.shape}}
		l.out = append(l.out, last)
		last = &Node{Op: OpAdd, Name: n.Name + "/Add", In: []*Value{last.Out[0], n.In[2]}, Out: []*Value{y}}
	}
	return append(l.out, last)
}

// gpuSplitOutputs caps the partial results weightGradGPU sums (floats per kernel offset).
const gpuSplitOutputs = 8 << 20

// weightGradGPU is the kernel gradient of an undilated, ungrouped Conv or ConvTranspose as a
// GPU wants it: one batched MatMul per kernel offset (a,b) with the reduction split over
// images (and rows), then a ReduceSum of the partial products.
//
//	R[f,c,a,b] = sum_{n,i,j} fixed[n,f,i,j] * bigpad[n,c,s*i+a,s*j+b]
//
// For Conv, fixed = dy and big = x (R is dW [M,C,k,k]); for ConvTranspose, fixed = x and big
// = dy (R is dW [C,M,k,k]). The CPU forms reduce over every pixel in one GEMM with a tiny
// output (e.g. 32x32 over a million terms), which a GPU runs on a handful of workgroups.
func (g *Graph) weightGradGPU(fixed, big *Value, k []int64, o ConvOpts) *Value {
	n, f, ho, wo := fixed.shape[0], fixed.shape[1], fixed.shape[2], fixed.shape[3]
	c := big.shape[1]
	s := o.Strides
	// Zero padding so that every offset's stepped slice is in range.
	pads := []int64{0, 0, o.Pads[0], o.Pads[1], 0, 0, o.Pads[2], o.Pads[3]}
	for i := range 2 {
		need := s[i]*(fixed.shape[2+i]-1) + k[i]
		have := big.shape[2+i] + o.Pads[i] + o.Pads[2+i]
		pads[6+i] += max(0, need-have)
	}
	bt := g.Transpose(g.Pad(big, pads), 0, 2, 3, 1) // [n, H, W, c]
	// Split the reduction over images and rows when the rows are long, over images when the
	// images are, else not at all; in every case within gpuSplitOutputs partial sums.
	mode := 0
	switch {
	case wo >= 128 && n*ho*f*c <= gpuSplitOutputs:
		mode = 2
	case ho*wo >= 256 && n*f*c <= gpuSplitOutputs:
		mode = 1
	}
	var a *Value
	switch mode {
	case 2:
		a = g.Transpose(fixed, 0, 2, 1, 3) // [n, ho, f, wo]
	case 1:
		a = g.Reshape(fixed, n, f, ho*wo)
	default:
		a = g.Reshape(g.Transpose(fixed, 1, 0, 2, 3), f, n*ho*wo)
	}
	parts := make([]*Value, 0, k[0]*k[1])
	for i := range k[0] {
		for j := range k[1] {
			col := g.SliceStep(bt, []int64{i, j}, []int64{ho, wo}, []int64{s[0], s[1]}, []int64{1, 2}) // [n, ho, wo, c]
			var r *Value
			switch mode {
			case 2:
				r = g.ReduceSum(g.BatchMatMul(a, col), []int64{0, 1}, false)
			case 1:
				r = g.ReduceSum(g.BatchMatMul(a, g.Reshape(col, n, ho*wo, c)), []int64{0}, false)
			default:
				r = g.MatMul(a, g.Reshape(col, n*ho*wo, c))
			}
			parts = append(parts, g.Reshape(r, f, c, 1))
		}
	}
	return g.Reshape(g.Concat(2, parts...), f, c, k[0], k[1])
}
