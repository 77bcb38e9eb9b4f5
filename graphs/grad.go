package graphs

import (
	"fmt"
	"slices"
)

// Grad appends to g the reverse-mode gradient of the one-element value y with respect to
// each of wrt (graph inputs or node outputs) and returns the gradients in that order.
//
// Only values that depend on some wrt receive gradients; constants never do. A value with
// several consumers gets the Sum of their contributions. A wrt that y does not depend on gets
// a zero tensor. Gradients need static shapes.
func (g *Graph) Grad(y *Value, wrt []*Value) ([]*Value, error) {
	if g.err != nil {
		return nil, g.err
	}
	if y.Size() != 1 || y.dtype != Float {
		return nil, fmt.Errorf("graphs: Grad needs a one-element float value, got %v %v", y.dtype, y.shape)
	}
	need := map[*Value]bool{}
	for _, v := range wrt {
		if v.Size() < 0 {
			return nil, fmt.Errorf("graphs: Grad needs static shapes, %s is %v", v.name, v.shape)
		}
		need[v] = true
	}
	forward := len(g.nodes)
	for _, n := range g.nodes[:forward] {
		for _, in := range n.In {
			if in != nil && need[in] {
				for _, o := range n.Out {
					if o.dtype == Float {
						need[o] = true
					}
				}
				break
			}
		}
	}
	grads := map[*Value][]*Value{}
	total := func(v *Value) *Value {
		gs := grads[v]
		if len(gs) == 0 {
			return nil
		}
		s := g.Sum(gs...)
		grads[v] = []*Value{s}
		return s
	}
	oldScope := g.scope
	defer func() { g.scope = oldScope }()
	g.scope = "grad"
	grads[y] = []*Value{g.Const(y.shape, []float32{1})}
	for i := forward - 1; i >= 0; i-- {
		n := g.nodes[i]
		if len(n.Out) != 1 {
			continue
		}
		dy := total(n.Out[0])
		if dy == nil {
			continue
		}
		want := make([]bool, len(n.In))
		any := false
		for j, in := range n.In {
			want[j] = in != nil && need[in] && !in.init && in.dtype == Float
			any = any || want[j]
		}
		if !any {
			continue
		}
		g.scope = "grad." + n.Name
		dins, err := g.vjp(n, dy, want)
		if err != nil {
			return nil, err
		}
		if g.err != nil {
			return nil, fmt.Errorf("gradient of %s: %w", n.Name, g.err)
		}
		for j, d := range dins {
			if want[j] && d != nil {
				if !slices.Equal(d.shape, n.In[j].shape) {
					return nil, fmt.Errorf("graphs: gradient rule of %s gave %v for input %d of shape %v", n.Name, d.shape, j, n.In[j].shape)
				}
				grads[n.In[j]] = append(grads[n.In[j]], d)
			}
		}
	}
	g.scope = "grad"
	out := make([]*Value, len(wrt))
	for i, v := range wrt {
		if d := total(v); d != nil {
			out[i] = d
		} else {
			out[i] = g.Expand(g.Scalar(0), v.shape...)
		}
	}
	return out, g.err
}

// unbroadcast sums d down to shape s, undoing numpy broadcasting.
func (g *Graph) unbroadcast(d *Value, s []int64) *Value {
	if slices.Equal(d.shape, s) {
		return d
	}
	lead := d.Rank() - len(s)
	var axes []int64
	for i := range d.Rank() {
		if i < lead || (s[i-lead] == 1 && d.shape[i] != 1) {
			axes = append(axes, int64(i))
		}
	}
	r := d
	if len(axes) > 0 {
		r = g.ReduceSum(d, axes, true)
	}
	if !slices.Equal(r.shape, s) {
		r = g.Reshape(r, s...)
	}
	return r
}

// vjp emits the vector-Jacobian product of node n for the inputs marked in want.
func (g *Graph) vjp(n *Node, dy *Value, want []bool) ([]*Value, error) {
	in := n.In
	y := n.Out[0]
	out := make([]*Value, len(in))
	zero := func() *Value { return g.Scalar(0) }
	switch n.Op {
	case "Identity":
		out[0] = dy
	case "Neg":
		out[0] = g.Neg(dy)
	case "Exp":
		out[0] = g.Mul(dy, y)
	case "Log":
		out[0] = g.Div(dy, in[0])
	case "Sqrt":
		out[0] = g.Div(g.Mul(dy, g.Scalar(0.5)), y)
	case "LeakyRelu":
		alpha := n.attrFloat("alpha", 0.01)
		// dy * clip(ceil(y), alpha, 1) for 0 <= alpha <= 1: ceil(y) >= 1 exactly where y > 0
		// (denormals included) and <= 0 elsewhere, so the mask is 1 or alpha. Three vectorised
		// passes; y > 0 with a Cast and a Max took four (1.35x slower at 256x256), and ORT's
		// Where is several times slower. y > 0 exactly where x > 0 (alpha >= 0), and testing
		// y leaves the LeakyRelu the only reader of x, so ORT fuses it into the Conv before it.
		if alpha >= 0 && alpha <= 1 {
			out[0] = g.Mul(dy, g.Clip(g.Ceil(y), alpha, 1))
		} else {
			out[0] = g.Where(g.Greater(in[0], zero()), dy, g.Mul(dy, g.Scalar(alpha)))
		}
	case "Add":
		out[0], out[1] = g.unbroadcastIf(want[0], dy, in[0]), g.unbroadcastIf(want[1], dy, in[1])
	case "Sub":
		out[0] = g.unbroadcastIf(want[0], dy, in[0])
		if want[1] {
			out[1] = g.unbroadcast(g.Neg(dy), in[1].shape)
		}
	case "Mul":
		if want[0] {
			out[0] = g.unbroadcast(g.Mul(dy, in[1]), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Mul(dy, in[0]), in[1].shape)
		}
	case "Div":
		if want[0] {
			out[0] = g.unbroadcast(g.Div(dy, in[1]), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Neg(g.Div(g.Mul(dy, y), in[1])), in[1].shape)
		}
	case "Max":
		mask := g.GreaterOrEqual(in[0], in[1])
		if want[0] {
			out[0] = g.unbroadcast(g.Where(mask, dy, zero()), in[0].shape)
		}
		if want[1] {
			out[1] = g.unbroadcast(g.Where(mask, zero(), dy), in[1].shape)
		}
	case "Where":
		if want[1] {
			out[1] = g.unbroadcast(g.Where(in[0], dy, zero()), in[1].shape)
		}
		if want[2] {
			out[2] = g.unbroadcast(g.Where(in[0], zero(), dy), in[2].shape)
		}
	case "Sum":
		for j := range in {
			out[j] = dy
		}
	case "Expand":
		out[0] = g.unbroadcast(dy, in[0].shape)
	case "Reshape", "Flatten":
		out[0] = g.Reshape(dy, in[0].shape...)
	case "Transpose":
		perm := n.attrInts("perm")
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		out[0] = g.Transpose(dy, inv...)
	case "Concat":
		axis := n.attrInt("axis", 0)
		off := int64(0)
		for j, v := range in {
			if want[j] {
				out[j] = g.Slice(dy, []int64{off}, []int64{off + v.shape[axis]}, []int64{axis})
			}
			off += v.shape[axis]
		}
	case "Slice":
		starts, ends, axes := in[1].i64, in[2].i64, in[3].i64
		r := in[0].Rank()
		pads := make([]int64, 2*r)
		for i, a := range axes {
			pads[a] = starts[i]
			pads[int64(r)+a] = in[0].shape[a] - ends[i]
		}
		out[0] = g.Pad(dy, pads)
	case "ReduceSum", "ReduceMean":
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
		if n.Op == "ReduceMean" {
			d = g.Mul(d, g.Scalar(1/float32(count)))
		}
		out[0] = g.Expand(d, in[0].shape...)
	case "Gemm":
		if n.attrFloat("alpha", 1) != 1 || n.attrFloat("beta", 1) != 1 {
			return nil, fmt.Errorf("graphs: no gradient rule for Gemm with alpha/beta != 1 (%s)", n.Name)
		}
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
	case "MatMul":
		if want[0] {
			out[0] = g.Gemm(dy, in[1], nil, false, true)
		}
		if want[1] {
			out[1] = g.Gemm(in[0], dy, nil, true, false)
		}
	case "Conv":
		return g.convVJP(n, dy, want)
	case "ConvTranspose":
		return g.convTransposeVJP(n, dy, want)
	default:
		return nil, fmt.Errorf("graphs: no gradient rule for %s (%s)", n.Op, n.Name)
	}
	return out, nil
}

func (g *Graph) unbroadcastIf(want bool, d, x *Value) *Value {
	if !want {
		return nil
	}
	return g.unbroadcast(d, x.shape)
}

// convVJP: input gradient by ConvTranspose with the same weights, weight gradient by a Conv
// of the batch-transposed input with the batch-transposed output gradient as kernel
// (stride and dilation swap roles), bias gradient by ReduceSum.
func (g *Graph) convVJP(n *Node, dy *Value, want []bool) ([]*Value, error) {
	x, w := n.In[0], n.In[1]
	o := n.convOpts()
	out := make([]*Value, len(n.In))
	stride1 := o.Strides == [2]int64{1, 1} && o.Dilations == [2]int64{1, 1}
	unit := stride1 && o.Group == 1
	// depthwise: one input and one output channel per group (the SSIM blur)
	depthwise := o.Group > 1 && o.Group == x.shape[1] && o.Group == w.shape[0]
	if want[0] && stride1 && (unit || depthwise) {
		// stride 1: a Conv of dy with the flipped, transposed kernel (faster in ORT than
		// ConvTranspose, which runs GEMM + col2im; 3x faster for the SSIM blur). A
		// depthwise kernel [C,1,kh,kw] needs no transpose.
		kh, kw := w.shape[2], w.shape[3]
		wt := w
		if unit {
			wt = g.Transpose(w, 1, 0, 2, 3)
		}
		c := ConvOpts{Pads: [4]int64{kh - 1 - o.Pads[0], kw - 1 - o.Pads[1], kh - 1 - o.Pads[2], kw - 1 - o.Pads[3]}, Group: o.Group}
		out[0] = g.Conv(dy, g.flip2(wt), nil, c)
	} else if want[0] {
		t := o
		for i := range 2 {
			full := o.Strides[i]*(dy.shape[2+i]-1) + o.Dilations[i]*(w.shape[2+i]-1) + 1 - o.Pads[i] - o.Pads[2+i]
			t.OutPad[i] = x.shape[2+i] - full
		}
		out[0] = g.ConvTranspose(dy, w, nil, t)
	}
	if want[1] {
		if o.Group != 1 {
			return nil, fmt.Errorf("graphs: no weight gradient for grouped Conv (%s)", n.Name)
		}
		if g.Target == TargetGPU && o.Dilations == [2]int64{1, 1} {
			out[1] = g.weightGradGPU(dy, x, w.shape[2:], o)
		} else if unit {
			out[1] = g.weightGradIm2col(x, dy, w.shape, o)
		} else if phaseWeightGrad(dy, x, w.shape[2:], o) {
			out[1] = g.weightGradStrided(dy, x, w.shape[2:], o)
		} else {
			out[1] = g.weightGrad(x, dy, w.shape, o)
		}
	}
	if len(n.In) > 2 && want[2] {
		out[2] = g.biasGrad(dy)
	}
	return out, nil
}

// weightGrad computes the kernel gradient shared by Conv and ConvTranspose:
//
//	K[c,m,a,b] = sum_{n,i,j} src[n,c,s*i+d*a-p, s*j+d*b-p] * kern[n,m,i,j]
//
// as Conv(src^T, kern^T) with stride d and dilation s, cut to the kernel size and
// transposed to the weight layout. For Conv, src = x and kern = dy (result [M,C,k,k]); for
// ConvTranspose, src = dy and kern = x (result [C,M,k,k] after the swap).
func (g *Graph) weightGrad(src, kern *Value, wshape []int64, o ConvOpts) *Value {
	k := wshape[2:]
	st := g.Transpose(src, 1, 0, 2, 3)
	kt := g.Transpose(kern, 1, 0, 2, 3)
	c := ConvOpts{Strides: o.Dilations, Dilations: o.Strides, Group: 1}
	need := [2]bool{}
	for i := range 2 {
		c.Pads[i] = o.Pads[i]
		c.Pads[2+i] = o.Pads[2+i]
		if o.Dilations[i] == 1 {
			// choose the end padding that yields exactly k outputs when it can
			e := k[i] - src.shape[2+i] - o.Pads[i] + o.Strides[i]*(kern.shape[2+i]-1)
			if e >= 0 {
				c.Pads[2+i] = e
			} else {
				c.Pads[2+i] = 0
				need[i] = true
			}
		} else {
			need[i] = true
		}
	}
	r := g.Conv(st, kt, nil, c)
	if g.err != nil {
		return r
	}
	if (need[0] && r.shape[2] != k[0]) || (need[1] && r.shape[3] != k[1]) {
		r = g.Slice(r, []int64{0, 0}, []int64{k[0], k[1]}, []int64{2, 3})
	}
	return g.Transpose(r, 1, 0, 2, 3)
}

// convTransposeVJP: input gradient by Conv with the same weights, weight gradient by the
// shared dilated-Conv rule with the roles of input and output gradient swapped.
func (g *Graph) convTransposeVJP(n *Node, dy *Value, want []bool) ([]*Value, error) {
	x, w := n.In[0], n.In[1]
	o := n.convOpts()
	out := make([]*Value, len(n.In))
	if want[0] {
		c := o
		c.OutPad = [2]int64{}
		out[0] = g.Conv(dy, w, nil, c)
	}
	if want[1] {
		if o.Group != 1 {
			return nil, fmt.Errorf("graphs: no weight gradient for grouped ConvTranspose (%s)", n.Name)
		}
		// ConvTranspose: y[n,m,s*i+d*a-p] += x[n,c,i] w[c,m,a]  =>  dW[c,m,a] = sum dy_pad[n,m,s*i+d*a] x[n,c,i]
		if g.Target == TargetGPU && o.Dilations == [2]int64{1, 1} {
			out[1] = g.weightGradGPU(x, dy, w.shape[2:], o)
		} else if phaseWeightGrad(x, dy, w.shape[2:], o) {
			out[1] = g.weightGradStrided(x, dy, w.shape[2:], o)
		} else {
			out[1] = g.weightGrad(dy, x, w.shape, o)
		}
	}
	if len(n.In) > 2 && want[2] {
		out[2] = g.biasGrad(dy)
	}
	return out, nil
}

// flip2 reverses the last two axes of a rank-4 value (Slice with step -1).
func (g *Graph) flip2(x *Value) *Value {
	const lowest = -1 << 62
	return g.one("Slice", []*Value{x, g.ints(-1, -1), g.ints(lowest, lowest), g.ints(2, 3), g.ints(-1, -1)}, nil, x.shape)
}

// weightGradIm2col is the kernel gradient of a stride-1, undilated, ungrouped Conv as kh*kw
// GEMMs, one per kernel offset (a,b), each over the batch and every pixel:
//
//	dW[m,c,a,b] = sum_{n,i,j} dy[n,m,i,j] * xpad[n,c,i+a,j+b]
//	            = sum_{n,i,j} x[n,c,i,j] * dyq[n,m,i+kh-1-a,j+kw-1-b]   (dyq: dy padded by k-1-p)
//
// The shifted operand is a Slice of whichever side (x or dy) holds fewer values, and it is the
// GEMM's second operand, so MLAS packs it once and reads the other in place. ORT runs the
// equivalent dilated Conv (a kernel as large as the image, 3x3 outputs) several times slower,
// and one GEMM over concatenated slices pays a copy more.
func (g *Graph) weightGradIm2col(x, dy *Value, wshape []int64, o ConvOpts) *Value {
	n, c := x.shape[0], x.shape[1]
	m, kh, kw := wshape[0], wshape[2], wshape[3]
	h, w := x.shape[2], x.shape[3]
	ho, wo := dy.shape[2], dy.shape[3]
	pq := [4]int64{kh - 1 - o.Pads[0], kw - 1 - o.Pads[1], kh - 1 - o.Pads[2], kw - 1 - o.Pads[3]}
	shiftDy := m*h*w < c*ho*wo && pq[0] >= 0 && pq[1] >= 0 && pq[2] >= 0 && pq[3] >= 0
	// fixed is [F, n*p*q] (F rows of the unshifted side); shifted is the padded other side,
	// batch-transposed, to be cut at each offset to [S, n, p, q].
	f, s, p, q := m, c, ho, wo
	if shiftDy {
		f, s, p, q = c, m, h, w
	}
	// When the shifted side is much smaller (the 3-channel output conv), stacking its slices
	// for one GEMM is cheaper than reading the fixed side once per offset.
	stack := f >= 4*s
	if ho*wo >= shiftedMinPixels {
		if stack {
			return g.weightGradStacked(x, dy, wshape, o, shiftDy)
		}
		return g.weightGradShifted(x, dy, wshape, o)
	}
	var fixed, shifted *Value
	if shiftDy {
		fixed = g.Reshape(g.Transpose(x, 1, 0, 2, 3), c, n*h*w)
		shifted = g.Pad(g.Transpose(dy, 1, 0, 2, 3), []int64{0, 0, pq[0], pq[1], 0, 0, pq[2], pq[3]})
	} else {
		fixed = g.Reshape(g.Transpose(dy, 1, 0, 2, 3), m, n*ho*wo)
		shifted = g.Pad(g.Transpose(x, 1, 0, 2, 3), []int64{0, 0, o.Pads[0], o.Pads[1], 0, 0, o.Pads[2], o.Pads[3]})
	}
	parts := make([]*Value, 0, kh*kw)
	for a := range kh {
		for b := range kw {
			i0, j0 := a, b
			if shiftDy {
				i0, j0 = kh-1-a, kw-1-b
			}
			col := g.Reshape(g.Slice(shifted, []int64{i0, j0}, []int64{i0 + p, j0 + q}, []int64{2, 3}), s, n*p*q)
			if stack {
				parts = append(parts, col)
			} else {
				parts = append(parts, g.Reshape(g.Gemm(fixed, col, nil, false, true), f, 1, s))
			}
		}
	}
	var r *Value
	if stack {
		r = g.Reshape(g.Gemm(fixed, g.Concat(0, parts...), nil, false, true), f, kh*kw, s)
	} else {
		r = g.Concat(1, parts...) // [F, kh*kw, S]
	}
	if shiftDy {
		r = g.Transpose(r, 2, 0, 1) // [M, C, kh*kw]
	} else {
		r = g.Transpose(r, 0, 2, 1)
	}
	return g.Reshape(r, m, c, kh, kw)
}

// shiftedMinPixels is the output size from which weightGradShifted beats one GEMM per kernel
// offset (measured at batch 16: 1.65x faster at 256x256, 1.5x at 64x64, 1.25x at 32x32,
// 0.8x at 16x16).
const shiftedMinPixels = 32 * 32

// weightGradShifted is the kernel gradient of a stride-1, undilated, ungrouped Conv as one
// GEMM per image of kh row-shifted copies of dy against kw column-shifted copies of x:
//
//	dW[m,c,a,b] = sum_{n,r,j} dy_a[n,m,r,j] * x_b[n,c,r,j]
//	dy_a[n,m,r,j] = dy[n,m,r-a,j] (zero outside),  x_b[n,c,r,j] = xpad[n,c,r,j+b]
//
// over the R = ho+kh-1 padded rows of each image. Each set of shifts is a single grouped
// Conv with a one-hot kernel whose padding supplies the zeros, and the per-image products
// [kh*M, R*wo] x [kw*C, R*wo]^T are one batched MatMul (ORT folds the Transpose into it)
// summed over the batch. That copies kh+kw slices instead of weightGradIm2col's kh*kw, needs
// no batch transposes, and the GEMMs are large enough for MLAS to run near its peak. (One
// GEMM over batch-transposed "tall" images, with the Pads and Transposes that layout takes,
// measured 1.2-1.7x slower.)
func (g *Graph) weightGradShifted(x, dy *Value, wshape []int64, o ConvOpts) *Value {
	n, c := x.shape[0], x.shape[1]
	m, kh, kw := wshape[0], wshape[2], wshape[3]
	ho, wo := dy.shape[2], dy.shape[3]
	r := ho + kh - 1 // = h + top + bottom padding
	ex := g.oneHotShifts(c, kw, 1, kw, func(i int64) (int64, int64) { return 0, i })
	xs := g.Conv(x, ex, nil, ConvOpts{Pads: o.Pads, Group: c}) // [N, C*kw, R, wo]
	ed := g.oneHotShifts(m, kh, kh, 1, func(i int64) (int64, int64) { return kh - 1 - i, 0 })
	ds := g.Conv(dy, ed, nil, ConvOpts{Pads: [4]int64{kh - 1, 0, kh - 1, 0}, Group: m}) // [N, M*kh, R, wo]
	gm := g.batchGramT(g.Reshape(ds, n, m*kh, r*wo), g.Reshape(xs, n, c*kw, r*wo))      // [(m,a), (c,b)]
	return g.Transpose(g.Reshape(gm, m, kh, c, kw), 0, 2, 1, 3)
}

// weightGradStacked is the kernel gradient of a stride-1, undilated, ungrouped Conv whose
// smaller side (dy when shiftDy, else x) has at most a quarter of the other's channels, as
// the 3-map output conv's dy does: one grouped one-hot Conv stacks all kh*kw shifts of the
// small side, padded per image, and one batched MatMul per image pairs them with the other
// side read in place (1.5x faster at 256x256 than Slices, a Concat and a batch Transpose).
func (g *Graph) weightGradStacked(x, dy *Value, wshape []int64, o ConvOpts, shiftDy bool) *Value {
	n, c := x.shape[0], x.shape[1]
	m, kh, kw := wshape[0], wshape[2], wshape[3]
	k := kh * kw
	if shiftDy {
		// dW[m,c,a,b] = sum x[n,c,i,j] * dyq[n,m,i+kh-1-a,j+kw-1-b], dyq padded by k-1-p
		pq := [4]int64{kh - 1 - o.Pads[0], kw - 1 - o.Pads[1], kh - 1 - o.Pads[2], kw - 1 - o.Pads[3]}
		e := g.oneHotShifts(m, k, kh, kw, func(i int64) (int64, int64) { return kh - 1 - i/kw, kw - 1 - i%kw })
		ds := g.Conv(dy, e, nil, ConvOpts{Pads: pq, Group: m}) // [N, M*kh*kw, H, W]
		hw := x.shape[2] * x.shape[3]
		r := g.batchGramT(g.Reshape(x, n, c, hw), g.Reshape(ds, n, m*k, hw)) // [C, (m,a,b)]
		return g.Transpose(g.Reshape(r, c, m, kh, kw), 1, 0, 2, 3)
	}
	e := g.oneHotShifts(c, k, kh, kw, func(i int64) (int64, int64) { return i / kw, i % kw })
	xs := g.Conv(x, e, nil, ConvOpts{Pads: o.Pads, Group: c}) // [N, C*kh*kw, ho, wo]
	hw := dy.shape[2] * dy.shape[3]
	return g.Reshape(g.batchGramT(g.Reshape(dy, n, m, hw), g.Reshape(xs, n, c*k, hw)), m, c, kh, kw)
}

// batchGramT is sum_n a[n] b[n]^T for a [N,P,K] and b [N,Q,K]: a batched MatMul whose
// Transpose ORT fuses into the product (FusedMatMul), then a sum over the batch.
func (g *Graph) batchGramT(a, b *Value) *Value {
	return g.ReduceSum(g.BatchMatMul(a, g.Transpose(b, 0, 2, 1)), []int64{0}, false)
}

// oneHotShifts is the depthwise kernel [groups*k, 1, kh, kw] whose output i of every group
// copies its input at offset at(i): a Conv with it stacks k shifted copies of each channel.
// Keep such Convs grouped: ORT rewrites an ungrouped Conv with constant weights to NCHWc
// plus a ReorderOutput, which measured 2-2.6x slower for these copies.
func (g *Graph) oneHotShifts(groups, k, kh, kw int64, at func(i int64) (int64, int64)) *Value {
	return g.Const([]int64{groups * k, 1, kh, kw}, oneHot(groups, k, kh, kw, at))
}

// oneHot is the data of a [groups, k, kh, kw] kernel whose entry i of every group is 1 at
// offset at(i) and 0 elsewhere.
func oneHot(groups, k, kh, kw int64, at func(i int64) (int64, int64)) []float32 {
	d := make([]float32, groups*k*kh*kw)
	for q := range groups {
		for i := range k {
			a, b := at(i)
			d[(q*k+i)*kh*kw+a*kw+b] = 1
		}
	}
	return d
}

// phaseWeightGrad reports whether weightGradStrided suits a weight gradient on the CPU: equal
// strides, no dilation, phases at most 1.25x the pixels of fixed (the kq-1 extra rows and
// columns are products of zeros: at 8x8 and below the dilated Conv of weightGrad is as fast
// or faster) and a big side of at least 16 channels (the GEMM's second dimension is s*s*c; the
// dilated Conv is faster for enc.conv1's 3 input maps).
func phaseWeightGrad(fixed, big *Value, k []int64, o ConvOpts) bool {
	s := o.Strides[0]
	if o.Dilations != [2]int64{1, 1} || o.Strides[1] != s || big.shape[1] < 16 {
		return false
	}
	kq := (max(k[0], k[1]) + s - 1) / s
	ho, wo := fixed.shape[2], fixed.shape[3]
	return 4*(ho+kq-1)*(wo+kq-1) <= 5*ho*wo
}

// stridedBatchMinPixels is the size of fixed (ho*wo) from which weightGradStrided takes one
// GEMM per image rather than one over tall batch-transposed images (measured at batch 16:
// 1.75x faster at 128x128, 1.3x at 64x64, 1.1x at 32x32, 0.9-1x at 16x16 and 8x8).
const stridedBatchMinPixels = 32 * 32

// weightGradStrided is the kernel gradient of an undilated, ungrouped Conv or ConvTranspose
// with stride s on the CPU, as GEMMs:
//
//	R[f,c,a,b] = sum_{n,i,j} fixed[n,f,i,j] * bigpad[n,c,s*i+a,s*j+b]
//
// For Conv, fixed = dy and big = x (R is dW [M,C,k,k]); for ConvTranspose, fixed = x and
// big = dy (R is dW [C,M,k,k]). With a = s*da + r, bigpad[.., s*i+a, ..] is phase r of bigpad
// at row i+da, so the shift moves to the fixed side, which is s*s times smaller: the kq*kq
// zero-padded shifts of fixed (kq = ceil(k/s)) against the s*s phases of big give every
// offset in one product with no wasted terms when s divides k. The phases are one stride-s
// grouped Conv with a one-hot kernel and the shifts another (1.2-1.3x faster than
// SpaceToDepth and a Concat of kq*kq Pads). From stridedBatchMinPixels on, the Convs run on
// each image with their padding as the zeros and the products are one batched MatMul summed
// over the batch (as in weightGradShifted); below it, both sides are batch-transposed and
// stacked into one tall image per channel (hh rows per image, the kq-1 zero rows under each
// image absorbing the shift into the next) for one GEMM, which small images favour. ORT runs
// the dilated-Conv form (weightGrad) several times slower (its kernel is as large as an
// image), and stepped Slices of big copy element by element.
func (g *Graph) weightGradStrided(fixed, big *Value, k []int64, o ConvOpts) *Value {
	n, f, ho, wo := fixed.shape[0], fixed.shape[1], fixed.shape[2], fixed.shape[3]
	c := big.shape[1]
	s := o.Strides[0]
	kq := (max(k[0], k[1]) + s - 1) / s
	hh, wh := ho+kq-1, wo+kq-1 // rows and columns of a phase
	perImage := ho*wo >= stridedBatchMinPixels
	// bigpad: s*hh x s*wh, padded at the end or cut where big is longer than any offset reads.
	pads := [4]int64{o.Pads[0], o.Pads[1], 0, 0}
	var cutEnds, cutAxes []int64
	for i, want := range []int64{s * hh, s * wh} {
		end := want - big.shape[2+i] - o.Pads[i]
		if end >= 0 {
			pads[2+i] = end
		} else {
			cutEnds, cutAxes = append(cutEnds, want-o.Pads[i]), append(cutAxes, int64(2+i))
		}
	}
	b := big
	if len(cutAxes) > 0 {
		b = g.Slice(b, make([]int64, len(cutAxes)), cutEnds, cutAxes)
	}
	eb := g.oneHotShifts(c, s*s, s, s, func(i int64) (int64, int64) { return i / s, i % s })
	ef := g.oneHotShifts(f, kq*kq, kq, kq, func(i int64) (int64, int64) { return kq - 1 - i/kq, kq - 1 - i%kq })
	var r *Value
	if perImage {
		if s > 1 {
			b = g.Conv(b, eb, nil, ConvOpts{Strides: [2]int64{s, s}, Pads: pads, Group: c}) // [n, c*s*s, hh, wh]
		} else {
			b = g.Pad(b, []int64{0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]})
		}
		a := g.Conv(fixed, ef, nil, ConvOpts{Pads: [4]int64{kq - 1, kq - 1, kq - 1, kq - 1}, Group: f}) // [n, f*kq*kq, hh, wh]
		r = g.batchGramT(g.Reshape(a, n, f*kq*kq, hh*wh), g.Reshape(b, n, c*s*s, hh*wh))
	} else {
		b = g.Pad(g.Transpose(b, 1, 0, 2, 3), []int64{0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]}) // [c, n, s*hh, s*wh]
		if s > 1 {
			b = g.Conv(g.Reshape(b, 1, c, n*s*hh, s*wh), eb, nil, ConvOpts{Strides: [2]int64{s, s}, Group: c})
		}
		ft := g.Pad(g.Transpose(fixed, 1, 0, 2, 3), []int64{0, 0, 0, 0, 0, 0, kq - 1, kq - 1})
		a := g.Conv(g.Reshape(ft, 1, f, n*hh, wh), ef, nil, ConvOpts{Pads: [4]int64{kq - 1, kq - 1, 0, 0}, Group: f})
		r = g.Gemm(g.Reshape(a, f*kq*kq, n*hh*wh), g.Reshape(b, c*s*s, n*hh*wh), nil, false, true)
	}
	// r: rows (f, da, db), columns (c, r, q)
	r = g.Reshape(r, f, kq, kq, c, s, s)
	r = g.Reshape(g.Transpose(r, 0, 3, 1, 4, 2, 5), f, c, kq*s, kq*s) // [f, c, da*s+r, db*s+q]
	if kq*s != k[0] || kq*s != k[1] {
		r = g.Slice(r, []int64{0, 0}, []int64{k[0], k[1]}, []int64{2, 3})
	}
	return r
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

// biasGrad sums dy [N,C,H,W] to [C]. On a GPU, over the pixels first and then the batch: one
// ReduceSum over axes 0, 2, 3 gives each channel to one workgroup (a million terms at 256x256).
func (g *Graph) biasGrad(dy *Value) *Value {
	if g.Target == TargetGPU {
		return g.ReduceSum(g.ReduceSum(dy, []int64{2, 3}, false), []int64{0}, false)
	}
	return g.ReduceSum(dy, []int64{0, 2, 3}, false)
}
