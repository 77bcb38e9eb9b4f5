package graphs

import "fmt"

// A graph is written for the runtime that will run it (Graph.Target). Gradient rules are the
// same for every target; what differs is the form of a few products, which the target's
// lowering chooses: the kernel gradient of a convolution (autodiff asks for one kernelGrad,
// the lowering writes it as GEMMs over shifted copies, pixel phases, a dilated Conv or
// split-K MatMuls), the bias gradient, and rewrites of finished nodes when the model is
// serialised (lower), which keep the graph's own nodes, so shapes and gradients are unchanged.
type lowering interface {
	kernelGrad(g *Graph, k kernelGrad) *Value
	biasGrad(g *Graph, dy *Value) *Value
	lower(g *Graph, n *Node) []*Node
}

// kernelGrad is the kernel gradient of a Conv (x its input, dy its output's gradient) or, with
// transposed, of a ConvTranspose (x its input, dy its output's gradient): ungrouped, of a
// weight of shape wshape.
type kernelGrad struct {
	x, dy      *Value
	wshape     []int64
	o          ConvOpts
	transposed bool
}

// lowering returns the lowering of the graph's target.
func (g *Graph) lowering() lowering {
	if g.Target == TargetGPU {
		return gpuLowering{}
	}
	return cpuLowering{}
}

// cpuLowering writes what ONNX Runtime's CPU provider (MLAS) runs fastest.
type cpuLowering struct{}

// kernelGrad: stride-1 Convs as GEMMs over shifted copies (weightGradIm2col), strided ones
// over pixel phases where that pays (weightGradStrided), else the dilated Conv (weightGrad).
func (cpuLowering) kernelGrad(g *Graph, k kernelGrad) *Value {
	o, kk := k.o, k.wshape[2:]
	if k.transposed {
		if phaseWeightGrad(k.x, k.dy, kk, o) {
			return g.weightGradStrided(k.x, k.dy, kk, o)
		}
		return g.weightGrad(k.dy, k.x, k.wshape, o)
	}
	switch {
	case o.Strides == [2]int64{1, 1} && o.Dilations == [2]int64{1, 1}:
		return g.weightGradIm2col(k.x, k.dy, k.wshape, o)
	case phaseWeightGrad(k.dy, k.x, kk, o):
		return g.weightGradStrided(k.dy, k.x, kk, o)
	}
	return g.weightGrad(k.x, k.dy, k.wshape, o)
}

// biasGrad sums dy [N,C,H,W] to [C] in one ReduceSum.
func (cpuLowering) biasGrad(g *Graph, dy *Value) *Value {
	return g.ReduceSum(dy, []int64{0, 2, 3}, false)
}

// smallConvTranspose is the largest input height*width for which a ConvTranspose is written
// as one GEMM over the whole batch plus Col2Im: ORT's ConvTranspose runs a thin GEMM per image
// (2-4x slower at 2x2 and 4x4 inputs, even at 8x8, slower beyond).
const smallConvTranspose = 16

// lower returns the nodes that implement n in the written model: n itself; a narrow Conv or a
// large strided ConvTranspose rewritten by lowerNarrowConv or lowerSubpixel; or, for an
// ungrouped ConvTranspose of a small static input, Transpose, MatMul over the whole batch,
// Transpose and Col2Im (plus the bias Add).
func (cpuLowering) lower(g *Graph, n *Node) []*Node {
	if n.Op == OpConv {
		if nc := g.lowerNarrowConv(n); nc != nil {
			return nc
		}
	}
	if n.Op != OpConvTranspose || n.attrInt("group", 1) != 1 {
		return []*Node{n}
	}
	if sub := g.lowerSubpixel(n); sub != nil {
		return sub
	}
	x, w, y := n.In[0], n.In[1], n.Out[0]
	if x.Size() < 0 || x.shape[2]*x.shape[3] > smallConvTranspose {
		return []*Node{n}
	}
	o := n.convOpts()
	b, cin, hw := x.shape[0], x.shape[1], x.shape[2]*x.shape[3]
	cols := w.shape[1] * w.shape[2] * w.shape[3]
	l := &rewrite{n: n}
	step := l.add
	xt := step(OpTranspose, []*Value{x}, []attr{aInts("perm", []int64{0, 2, 3, 1})}, b, x.shape[2], x.shape[3], cin)
	xr := step(OpReshape, []*Value{xt, g.ints(b*hw, cin)}, nil, b*hw, cin)
	wr := step(OpReshape, []*Value{w, g.ints(cin, cols)}, nil, cin, cols)
	c := step(OpMatMul, []*Value{xr, wr}, nil, b*hw, cols)
	c = step(OpReshape, []*Value{c, g.ints(b, hw, cols)}, nil, b, hw, cols)
	c = step(OpTranspose, []*Value{c}, []attr{aInts("perm", []int64{0, 2, 1})}, b, cols, hw)
	attrs := []attr{aInts("dilations", o.Dilations[:]), aInts("pads", o.Pads[:]), aInts("strides", o.Strides[:])}
	last := &Node{Op: OpCol2Im, Name: n.Name + "/Col2Im", In: []*Value{c, g.ints(y.shape[2], y.shape[3]), g.ints(w.shape[2], w.shape[3])}, attrs: attrs, Out: []*Value{y}}
	if len(n.In) > 2 && n.In[2] != nil {
		last.Out = []*Value{{name: y.name + "/Col2Im", dtype: Float, shape: y.shape}}
		l.out = append(l.out, last)
		br := step(OpReshape, []*Value{n.In[2], g.ints(1, y.shape[1], 1, 1)}, nil, 1, y.shape[1], 1, 1)
		last = &Node{Op: OpAdd, Name: n.Name + "/Add", In: []*Value{last.Out[0], br}, Out: []*Value{y}}
	}
	return append(l.out, last)
}

// rewrite collects the nodes written in place of n, each named after n and its first output.
type rewrite struct {
	n   *Node
	out []*Node
}

// add appends a node op(in) with attrs and one float output of the given shape.
func (l *rewrite) add(op Op, in []*Value, attrs []attr, shape ...int64) *Value {
	v := &Value{name: fmt.Sprintf("%s/%s%d", l.n.Out[0].name, op, len(l.out)), dtype: Float, shape: shape}
	l.out = append(l.out, &Node{Op: op, Name: fmt.Sprintf("%s/%s%d", l.n.Name, op, len(l.out)), In: in, Out: []*Value{v}, attrs: attrs})
	return v
}
