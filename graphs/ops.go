package graphs

import (
	"fmt"
	"slices"
)

// Op is an ONNX operator type, as written in a node's op_type.
type Op string

// The operators this package writes. Each has a constructor below that infers its output
// shape; those that gradients flow through have a vector-Jacobian rule in vjpRules.
const (
	OpAdd            Op = "Add"
	OpCast           Op = "Cast"
	OpCeil           Op = "Ceil"
	OpClip           Op = "Clip"
	OpCol2Im         Op = "Col2Im"
	OpConcat         Op = "Concat"
	OpConv           Op = "Conv"
	OpConvTranspose  Op = "ConvTranspose"
	OpDiv            Op = "Div"
	OpExp            Op = "Exp"
	OpExpand         Op = "Expand"
	OpFlatten        Op = "Flatten"
	OpGemm           Op = "Gemm"
	OpGreater        Op = "Greater"
	OpGreaterOrEqual Op = "GreaterOrEqual"
	OpIdentity       Op = "Identity"
	OpLeakyRelu      Op = "LeakyRelu"
	OpLog            Op = "Log"
	OpMatMul         Op = "MatMul"
	OpMax            Op = "Max"
	OpMul            Op = "Mul"
	OpNeg            Op = "Neg"
	OpPad            Op = "Pad"
	OpPow            Op = "Pow"
	OpReduceMean     Op = "ReduceMean"
	OpReduceSum      Op = "ReduceSum"
	OpReshape        Op = "Reshape"
	OpSlice          Op = "Slice"
	OpSqrt           Op = "Sqrt"
	OpSub            Op = "Sub"
	OpSum            Op = "Sum"
	OpTranspose      Op = "Transpose"
	OpWhere          Op = "Where"
)

// ConvOpts are the attributes of a 2-D Conv or ConvTranspose. Zero values mean stride 1,
// no padding, dilation 1, one group, no output padding.
type ConvOpts struct {
	Strides   [2]int64
	Pads      [4]int64 // top, left, bottom, right (ONNX order: begins then ends)
	Dilations [2]int64
	Group     int64
	OutPad    [2]int64 // ConvTranspose only
}

// Conv2 is the common square case: stride s, symmetric padding p.
func Conv2(s, p int64) ConvOpts {
	return ConvOpts{Strides: [2]int64{s, s}, Pads: [4]int64{p, p, p, p}}
}

func (o ConvOpts) norm() ConvOpts {
	for i := range 2 {
		if o.Strides[i] == 0 {
			o.Strides[i] = 1
		}
		if o.Dilations[i] == 0 {
			o.Dilations[i] = 1
		}
	}
	if o.Group == 0 {
		o.Group = 1
	}
	return o
}

func (o ConvOpts) attrs(transpose bool) []attr {
	a := []attr{
		aInts("dilations", o.Dilations[:]),
		aInt("group", o.Group),
		aInts("pads", o.Pads[:]),
		aInts("strides", o.Strides[:]),
	}
	if transpose && (o.OutPad != [2]int64{}) {
		a = append(a, aInts("output_padding", o.OutPad[:]))
	}
	return a
}

func (n *Node) convOpts() ConvOpts {
	var o ConvOpts
	copy(o.Strides[:], n.attrInts("strides"))
	copy(o.Pads[:], n.attrInts("pads"))
	copy(o.Dilations[:], n.attrInts("dilations"))
	copy(o.OutPad[:], n.attrInts("output_padding"))
	o.Group = n.attrInt("group", 1)
	return o.norm()
}

func (g *Graph) check(op Op, vs ...*Value) bool {
	if g.err != nil {
		return false
	}
	for _, v := range vs {
		if v == nil {
			panic(fmt.Sprintf("graphs: nil input to %s", op))
		}
	}
	return true
}

func (g *Graph) one(op Op, in []*Value, attrs []attr, shape []int64) *Value {
	return g.add(op, in, attrs, nil, shape)[0]
}

// Conv is a 2-D convolution of x [N,C,H,W] with w [M,C/group,kh,kw] and optional bias b [M].
func (g *Graph) Conv(x, w, b *Value, o ConvOpts) *Value {
	if !g.check(OpConv, x, w) {
		return g.placeholder()
	}
	o = o.norm()
	if x.Rank() != 4 || w.Rank() != 4 {
		return g.fail(OpConv, "want rank-4 x and w, got %v and %v", x.shape, w.shape)
	}
	if x.shape[1] != w.shape[1]*o.Group || w.shape[0]%o.Group != 0 {
		return g.fail(OpConv, "x %v has %d channels, weight %v with group %d wants %d", x.shape, x.shape[1], w.shape, o.Group, w.shape[1]*o.Group)
	}
	out := []int64{x.shape[0], w.shape[0], 0, 0}
	for i := range 2 {
		span := o.Dilations[i]*(w.shape[2+i]-1) + 1
		in := x.shape[2+i] + o.Pads[i] + o.Pads[2+i]
		if in < span {
			return g.fail(OpConv, "kernel %v (dilation %d) larger than padded input %v", w.shape, o.Dilations[i], x.shape)
		}
		out[2+i] = (in-span)/o.Strides[i] + 1
	}
	in := []*Value{x, w}
	if b != nil {
		if b.Rank() != 1 || b.shape[0] != w.shape[0] {
			return g.fail(OpConv, "bias %v does not match weight %v", b.shape, w.shape)
		}
		in = append(in, b)
	}
	return g.one(OpConv, in, o.attrs(false), out)
}

// ConvTranspose is a 2-D transposed convolution of x [N,C,H,W] with w [C,M/group,kh,kw].
func (g *Graph) ConvTranspose(x, w, b *Value, o ConvOpts) *Value {
	if !g.check(OpConvTranspose, x, w) {
		return g.placeholder()
	}
	o = o.norm()
	if x.Rank() != 4 || w.Rank() != 4 {
		return g.fail(OpConvTranspose, "want rank-4 x and w, got %v and %v", x.shape, w.shape)
	}
	if x.shape[1] != w.shape[0] || w.shape[0]%o.Group != 0 {
		return g.fail(OpConvTranspose, "x %v has %d channels, weight %v wants %d", x.shape, x.shape[1], w.shape, w.shape[0])
	}
	out := []int64{x.shape[0], w.shape[1] * o.Group, 0, 0}
	for i := range 2 {
		if o.OutPad[i] >= o.Strides[i] && o.OutPad[i] >= o.Dilations[i] {
			return g.fail(OpConvTranspose, "output_padding %v must be smaller than stride or dilation", o.OutPad)
		}
		out[2+i] = o.Strides[i]*(x.shape[2+i]-1) + o.OutPad[i] + o.Dilations[i]*(w.shape[2+i]-1) + 1 - o.Pads[i] - o.Pads[2+i]
		if out[2+i] <= 0 {
			return g.fail(OpConvTranspose, "empty output for x %v, weight %v", x.shape, w.shape)
		}
	}
	in := []*Value{x, w}
	if b != nil {
		if b.Rank() != 1 || b.shape[0] != out[1] {
			return g.fail(OpConvTranspose, "bias %v does not match %d output channels", b.shape, out[1])
		}
		in = append(in, b)
	}
	return g.one(OpConvTranspose, in, o.attrs(true), out)
}

// Gemm is a @ b + c for 2-D a and b (each optionally transposed); c (may be nil) broadcasts
// to the result.
func (g *Graph) Gemm(a, b, c *Value, transA, transB bool) *Value {
	if !g.check(OpGemm, a, b) {
		return g.placeholder()
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return g.fail(OpGemm, "want 2-D operands, got %v and %v", a.shape, b.shape)
	}
	m, k := a.shape[0], a.shape[1]
	if transA {
		m, k = k, m
	}
	k2, n := b.shape[0], b.shape[1]
	if transB {
		k2, n = n, k2
	}
	if k != k2 && k >= 0 && k2 >= 0 {
		return g.fail(OpGemm, "inner dimensions differ: %v (transA %v) and %v (transB %v)", a.shape, transA, b.shape, transB)
	}
	out := []int64{m, n}
	in := []*Value{a, b}
	if c != nil {
		if _, err := broadcast(c.shape, out); err != nil || c.Rank() > 2 {
			return g.fail(OpGemm, "c %v does not broadcast to %v", c.shape, out)
		}
		in = append(in, c)
	}
	var at []attr
	if transA {
		at = append(at, aInt("transA", 1))
	}
	if transB {
		at = append(at, aInt("transB", 1))
	}
	return g.one(OpGemm, in, at, out)
}

// MatMul is the 2-D matrix product a @ b.
func (g *Graph) MatMul(a, b *Value) *Value {
	if !g.check(OpMatMul, a, b) {
		return g.placeholder()
	}
	if a.Rank() != 2 || b.Rank() != 2 || a.shape[1] != b.shape[0] {
		return g.fail(OpMatMul, "want [m,k] @ [k,n], got %v and %v", a.shape, b.shape)
	}
	return g.one(OpMatMul, []*Value{a, b}, nil, []int64{a.shape[0], b.shape[1]})
}

// BatchMatMul multiplies stacks of matrices: [..., m, k] @ [..., k, n] with equal leading
// dimensions. It has no gradient rule: the gradients use it, the forward pass does not.
func (g *Graph) BatchMatMul(a, b *Value) *Value {
	if !g.check(OpMatMul, a, b) {
		return g.placeholder()
	}
	r := a.Rank()
	if r < 3 || b.Rank() != r || !slices.Equal(a.shape[:r-2], b.shape[:r-2]) || a.shape[r-1] != b.shape[r-2] {
		return g.fail(OpMatMul, "want [...,m,k] @ [...,k,n] with equal batch dimensions, got %v and %v", a.shape, b.shape)
	}
	out := append(a.Shape()[:r-1], b.shape[r-1])
	return g.one(OpMatMul, []*Value{a, b}, nil, out)
}

// broadcast returns the numpy broadcast of two shapes; -1 (symbolic) matches -1 or 1.
func broadcast(a, b []int64) ([]int64, error) {
	n := max(len(a), len(b))
	out := make([]int64, n)
	for i := range n {
		da, db := int64(1), int64(1)
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func (g *Graph) binary(op Op, a, b *Value) *Value {
	if !g.check(op, a, b) {
		return g.placeholder()
	}
	if a.dtype != b.dtype {
		return g.fail(op, "element types differ: %v and %v", a.dtype, b.dtype)
	}
	out, err := broadcast(a.shape, b.shape)
	if err != nil {
		return g.fail(op, "%v", err)
	}
	return g.one(op, []*Value{a, b}, nil, out)
}

// Add, Sub, Mul, Div and Max are elementwise with numpy broadcasting.
func (g *Graph) Add(a, b *Value) *Value { return g.binary(OpAdd, a, b) }

// Sub is a - b.
func (g *Graph) Sub(a, b *Value) *Value { return g.binary(OpSub, a, b) }

// Mul is a * b.
func (g *Graph) Mul(a, b *Value) *Value { return g.binary(OpMul, a, b) }

// Div is a / b.
func (g *Graph) Div(a, b *Value) *Value { return g.binary(OpDiv, a, b) }

// Max is the elementwise maximum (the free-bits floor uses it with a constant).
func (g *Graph) Max(a, b *Value) *Value { return g.binary(OpMax, a, b) }

// Pow is a ** b (no gradient rule; used for Adam's bias correction).
func (g *Graph) Pow(a, b *Value) *Value { return g.binary(OpPow, a, b) }

func (g *Graph) compare(op Op, a, b *Value) *Value {
	if !g.check(op, a, b) {
		return g.placeholder()
	}
	out, err := broadcast(a.shape, b.shape)
	if err != nil {
		return g.fail(op, "%v", err)
	}
	return g.add(op, []*Value{a, b}, nil, []DType{Bool}, out)[0]
}

// Cast converts x to element type to (no gradient rule: the backward pass uses it on masks).
func (g *Graph) Cast(x *Value, to DType) *Value {
	if !g.check(OpCast, x) {
		return g.placeholder()
	}
	return g.add(OpCast, []*Value{x}, []attr{aInt("to", int64(to.proto()))}, []DType{to}, x.shape)[0]
}

// Greater is the bool mask a > b.
func (g *Graph) Greater(a, b *Value) *Value { return g.compare(OpGreater, a, b) }

// GreaterOrEqual is the bool mask a >= b.
func (g *Graph) GreaterOrEqual(a, b *Value) *Value { return g.compare(OpGreaterOrEqual, a, b) }

// Where picks a where cond holds, else b, with broadcasting.
func (g *Graph) Where(cond, a, b *Value) *Value {
	if !g.check(OpWhere, cond, a, b) {
		return g.placeholder()
	}
	if cond.dtype != Bool {
		return g.fail(OpWhere, "condition must be bool, got %v", cond.dtype)
	}
	s, err := broadcast(a.shape, b.shape)
	if err == nil {
		s, err = broadcast(cond.shape, s)
	}
	if err != nil {
		return g.fail(OpWhere, "%v", err)
	}
	return g.one(OpWhere, []*Value{cond, a, b}, nil, s)
}

func (g *Graph) unary(op Op, x *Value, attrs ...attr) *Value {
	if !g.check(op, x) {
		return g.placeholder()
	}
	return g.one(op, []*Value{x}, attrs, x.shape)
}

// Neg, Exp, Log, Sqrt and Identity are elementwise.
func (g *Graph) Neg(x *Value) *Value { return g.unary(OpNeg, x) }

// Exp is e**x.
func (g *Graph) Exp(x *Value) *Value { return g.unary(OpExp, x) }

// Log is the natural logarithm.
func (g *Graph) Log(x *Value) *Value { return g.unary(OpLog, x) }

// Sqrt is the square root.
func (g *Graph) Sqrt(x *Value) *Value { return g.unary(OpSqrt, x) }

// Identity copies x.
func (g *Graph) Identity(x *Value) *Value { return g.unary(OpIdentity, x) }

// Ceil rounds up to an integer value.
func (g *Graph) Ceil(x *Value) *Value { return g.unary(OpCeil, x) }

// Clip limits x to [lo, hi].
func (g *Graph) Clip(x *Value, lo, hi float32) *Value {
	if !g.check(OpClip, x) {
		return g.placeholder()
	}
	return g.one(OpClip, []*Value{x, g.Scalar(lo), g.Scalar(hi)}, nil, x.shape)
}

// LeakyRelu is x for x > 0, alpha*x otherwise.
func (g *Graph) LeakyRelu(x *Value, alpha float32) *Value {
	return g.unary(OpLeakyRelu, x, aFloat("alpha", alpha))
}

// Sum adds same-shaped values in one node.
func (g *Graph) Sum(vs ...*Value) *Value {
	if !g.check(OpSum, vs...) {
		return g.placeholder()
	}
	if len(vs) == 1 {
		return vs[0]
	}
	for _, v := range vs[1:] {
		if !slices.Equal(v.shape, vs[0].shape) {
			return g.fail(OpSum, "shapes differ: %v and %v", vs[0].shape, v.shape)
		}
	}
	return g.one(OpSum, vs, nil, vs[0].shape)
}

// Concat joins values along axis.
func (g *Graph) Concat(axis int, vs ...*Value) *Value {
	if !g.check(OpConcat, vs...) {
		return g.placeholder()
	}
	if len(vs) == 0 {
		return g.fail(OpConcat, "no inputs")
	}
	r := vs[0].Rank()
	if axis < 0 || axis >= r {
		return g.fail(OpConcat, "axis %d out of range for rank %d", axis, r)
	}
	out := vs[0].Shape()
	for _, v := range vs[1:] {
		if v.Rank() != r {
			return g.fail(OpConcat, "ranks differ: %v and %v", vs[0].shape, v.shape)
		}
		for i := range r {
			if i != axis && v.shape[i] != out[i] {
				return g.fail(OpConcat, "shapes %v and %v differ off axis %d", vs[0].shape, v.shape, axis)
			}
		}
		out[axis] += v.shape[axis]
	}
	return g.one(OpConcat, vs, []attr{aInt("axis", int64(axis))}, out)
}

// Reshape gives x the shape s. One entry may be -1: it is inferred for a static x, and stands
// for the symbolic batch dimension when x has one.
func (g *Graph) Reshape(x *Value, s ...int64) *Value {
	if !g.check(OpReshape, x) {
		return g.placeholder()
	}
	out := append([]int64{}, s...)
	neg := -1
	known := int64(1)
	for i, d := range s {
		switch {
		case d == -1 && neg < 0:
			neg = i
		case d <= 0:
			return g.fail(OpReshape, "bad target shape %v", s)
		default:
			known *= d
		}
	}
	if n := x.Size(); n >= 0 {
		if neg >= 0 {
			if n%known != 0 {
				return g.fail(OpReshape, "cannot reshape %v to %v", x.shape, s)
			}
			out[neg] = n / known
		} else if n != known {
			return g.fail(OpReshape, "cannot reshape %v (%d elements) to %v", x.shape, n, s)
		}
	} else if neg < 0 {
		return g.fail(OpReshape, "symbolic %v needs a -1 in the target %v", x.shape, s)
	}
	return g.one(OpReshape, []*Value{x, g.ints(s...)}, nil, out)
}

// Flatten reshapes x to 2-D: dimensions before axis, and the rest.
func (g *Graph) Flatten(x *Value, axis int) *Value {
	if !g.check(OpFlatten, x) {
		return g.placeholder()
	}
	if axis < 0 || axis > x.Rank() {
		return g.fail(OpFlatten, "axis %d out of range for %v", axis, x.shape)
	}
	a, b := numel(x.shape[:axis]), numel(x.shape[axis:])
	if b < 0 {
		return g.fail(OpFlatten, "symbolic dimension after axis %d in %v", axis, x.shape)
	}
	return g.one(OpFlatten, []*Value{x}, []attr{aInt("axis", int64(axis))}, []int64{a, b})
}

// Transpose permutes the dimensions of x.
func (g *Graph) Transpose(x *Value, perm ...int64) *Value {
	if !g.check(OpTranspose, x) {
		return g.placeholder()
	}
	if len(perm) != x.Rank() {
		return g.fail(OpTranspose, "perm %v for %v", perm, x.shape)
	}
	out := make([]int64, len(perm))
	seen := make([]bool, len(perm))
	for i, p := range perm {
		if p < 0 || int(p) >= len(perm) || seen[p] {
			return g.fail(OpTranspose, "bad perm %v", perm)
		}
		seen[p] = true
		out[i] = x.shape[p]
	}
	return g.one(OpTranspose, []*Value{x}, []attr{aInts("perm", perm)}, out)
}

// Slice takes x[starts:ends] along axes (step 1, non-negative static bounds).
func (g *Graph) Slice(x *Value, starts, ends, axes []int64) *Value {
	if !g.check(OpSlice, x) {
		return g.placeholder()
	}
	if len(starts) != len(ends) || len(starts) != len(axes) {
		return g.fail(OpSlice, "starts %v, ends %v, axes %v differ in length", starts, ends, axes)
	}
	out := x.Shape()
	for i, a := range axes {
		if a < 0 || int(a) >= x.Rank() {
			return g.fail(OpSlice, "axis %d out of range for %v", a, x.shape)
		}
		if starts[i] < 0 || ends[i] <= starts[i] || (x.shape[a] >= 0 && ends[i] > x.shape[a]) {
			return g.fail(OpSlice, "bad range [%d,%d) on axis %d of %v", starts[i], ends[i], a, x.shape)
		}
		out[a] = ends[i] - starts[i]
	}
	return g.one(OpSlice, []*Value{x, g.ints(starts...), g.ints(ends...), g.ints(axes...)}, nil, out)
}

// SliceStep takes every steps[i]-th element of axes[i] from starts[i], count[i] of them.
func (g *Graph) SliceStep(x *Value, starts, count, steps, axes []int64) *Value {
	if !g.check(OpSlice, x) {
		return g.placeholder()
	}
	out := x.Shape()
	ends := make([]int64, len(axes))
	for i, a := range axes {
		ends[i] = starts[i] + steps[i]*(count[i]-1) + 1
		if a < 0 || int(a) >= x.Rank() || starts[i] < 0 || steps[i] < 1 || count[i] < 1 || ends[i] > x.shape[a] {
			return g.fail(OpSlice, "bad stepped range start %d count %d step %d on axis %d of %v", starts[i], count[i], steps[i], a, x.shape)
		}
		out[a] = count[i]
	}
	return g.one(OpSlice, []*Value{x, g.ints(starts...), g.ints(ends...), g.ints(axes...), g.ints(steps...)}, nil, out)
}

// Pad pads x with zeros: pads lists begins for every axis, then ends (ONNX order). All-zero
// pads return x itself.
func (g *Graph) Pad(x *Value, pads []int64) *Value {
	if !g.check(OpPad, x) {
		return g.placeholder()
	}
	if len(pads) != 2*x.Rank() {
		return g.fail(OpPad, "pads %v for %v", pads, x.shape)
	}
	if !slices.ContainsFunc(pads, func(p int64) bool { return p != 0 }) {
		return x
	}
	out := x.Shape()
	for i := range out {
		if pads[i] < 0 || pads[x.Rank()+i] < 0 || out[i] < 0 {
			return g.fail(OpPad, "negative pads %v or symbolic %v", pads, x.shape)
		}
		out[i] += pads[i] + pads[x.Rank()+i]
	}
	return g.one(OpPad, []*Value{x, g.ints(pads...)}, nil, out)
}

// Expand broadcasts x to shape s.
func (g *Graph) Expand(x *Value, s ...int64) *Value {
	if !g.check(OpExpand, x) {
		return g.placeholder()
	}
	out, err := broadcast(x.shape, s)
	if err != nil || !slices.Equal(out, s) {
		return g.fail(OpExpand, "%v does not expand to %v", x.shape, s)
	}
	return g.one(OpExpand, []*Value{x, g.ints(s...)}, nil, out)
}

func (g *Graph) reduce(op Op, x *Value, axes []int64, keep bool) *Value {
	if !g.check(op, x) {
		return g.placeholder()
	}
	var out []int64
	red := make([]bool, x.Rank())
	for _, a := range axes {
		if a < 0 || int(a) >= x.Rank() || red[a] {
			return g.fail(op, "bad axes %v for %v", axes, x.shape)
		}
		red[a] = true
	}
	for i, d := range x.shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	k := int64(0)
	if keep {
		k = 1
	}
	if out == nil {
		out = []int64{}
	}
	return g.one(op, []*Value{x, g.ints(axes...)}, []attr{aInt("keepdims", k)}, out)
}

// ReduceSum sums x over axes (sorted, distinct); keep keeps them as size 1.
func (g *Graph) ReduceSum(x *Value, axes []int64, keep bool) *Value {
	return g.reduce(OpReduceSum, x, axes, keep)
}

// ReduceMean averages x over axes.
func (g *Graph) ReduceMean(x *Value, axes []int64, keep bool) *Value {
	return g.reduce(OpReduceMean, x, axes, keep)
}

// allAxes lists 0..r-1.
func allAxes(r int) []int64 {
	a := make([]int64, r)
	for i := range a {
		a[i] = int64(i)
	}
	return a
}

// Mean averages every element of x to a scalar.
func (g *Graph) Mean(x *Value) *Value { return g.ReduceMean(x, allAxes(x.Rank()), false) }
