package graphs

// subpixelMinPixels is the smallest input height*width at which a strided ConvTranspose is
// written as a sub-pixel Conv plus an interleave (lowerSubpixel); below it ORT's own
// ConvTranspose (or the small-input lowering) is as fast. A variable so benchmarks can move it.
var subpixelMinPixels int64 = 128 * 128

// lowerSubpixel writes an ungrouped, undilated ConvTranspose with strides s whose kernel is
// m*s per axis and whose pads are below the stride (from subpixelMinPixels on, the 256x256
// model's dec.up5) as
//
//	z = Conv(x, W', bias repeated s*s times, pads m-1)   [N, Cout*sh*sw, H+mh-1, W+mw-1]
//	y = ConvTranspose(z, one-hot [Cout*sh*sw,1,sh,sw], strides s, group Cout, pads as n's)
//
// The Conv computes every output phase (a,b) of the transposed convolution at once from an
// m x m window of x: with R = r + pad_begin = s*q + a, output row r takes input rows i = q-j
// through kernel row kh = s*j + a, so W'[(o,a,b), ci, t, u] = W[ci, o, s*(m-1-t)+a, s*(m-1-u)+b].
// The grouped one-hot ConvTranspose only interleaves the phases and crops the pads; its
// kernel does not overlap, so no sums are reordered beyond the Conv's. ORT's ConvTranspose
// runs a GEMM per image into a column buffer k*k times the input and scatters it back with a
// single-threaded Col2Im; the Conv reads x once and writes each output once (dec.up5 alone,
// 128^2 to 256^2 at batch 16: 165 -> 99 ms; from 64^2 inputs the interleave costs what the
// Conv saves).
//
// It returns nil when n does not qualify.
func (g *Graph) lowerSubpixel(n *Node) []*Node {
	x, w, y := n.In[0], n.In[1], n.Out[0]
	o := n.convOpts()
	if x.Size() < 0 || x.shape[2]*x.shape[3] < subpixelMinPixels || o.Group != 1 ||
		o.Dilations != [2]int64{1, 1} || o.OutPad != [2]int64{0, 0} {
		return nil
	}
	s := o.Strides
	kh, kw := w.shape[2], w.shape[3]
	if s[0] < 2 && s[1] < 2 || kh%s[0] != 0 || kw%s[1] != 0 {
		return nil
	}
	for i, p := range o.Pads {
		if p < 0 || p >= s[i%2] {
			return nil
		}
	}
	cin, cout := w.shape[0], w.shape[1]
	mh, mw := kh/s[0], kw/s[1]
	phases := s[0] * s[1]
	l := &rewrite{n: n}
	step := l.add
	// W [Cin, Cout, mh*sh, mw*sw] -> [Cin, Cout, mh, sh, mw, sw], flip the m axes, and order
	// as [Cout, sh, sw, Cin, mh, mw].
	const lowest = -1 << 62
	w6 := step(OpReshape, []*Value{w, g.ints(cin, cout, mh, s[0], mw, s[1])}, nil, cin, cout, mh, s[0], mw, s[1])
	if mh > 1 || mw > 1 {
		w6 = step(OpSlice, []*Value{w6, g.ints(-1, -1), g.ints(lowest, lowest), g.ints(2, 4), g.ints(-1, -1)}, nil, w6.shape...)
	}
	wt := step(OpTranspose, []*Value{w6}, []attr{aInts("perm", []int64{1, 3, 5, 0, 2, 4})}, cout, s[0], s[1], cin, mh, mw)
	wc := step(OpReshape, []*Value{wt, g.ints(cout*phases, cin, mh, mw)}, nil, cout*phases, cin, mh, mw)
	in := []*Value{x, wc}
	if len(n.In) > 2 && n.In[2] != nil {
		b := step(OpReshape, []*Value{n.In[2], g.ints(cout, 1)}, nil, cout, 1)
		b = step(OpExpand, []*Value{b, g.ints(cout, phases)}, nil, cout, phases)
		in = append(in, step(OpReshape, []*Value{b, g.ints(cout * phases)}, nil, cout*phases))
	}
	qh, qw := x.shape[2]+mh-1, x.shape[3]+mw-1
	z := step(OpConv, in, ConvOpts{Pads: [4]int64{mh - 1, mw - 1, mh - 1, mw - 1}}.norm().attrs(false), x.shape[0], cout*phases, qh, qw)
	// phase (a,b) of output map o is input channel o*s*s + a*sw + b
	oh := g.oneHotShifts(cout, phases, s[0], s[1], func(i int64) (int64, int64) { return i / s[1], i % s[1] })
	last := &Node{Op: OpConvTranspose, Name: n.Name + "/Interleave", In: []*Value{z, oh},
		attrs: ConvOpts{Strides: s, Pads: o.Pads, Group: cout}.norm().attrs(true), Out: []*Value{y}}
	return append(l.out, last)
}

// narrowConvMinPixels is the smallest input height*width at which lowerNarrowConv rewrites a
// Conv with few output maps (the decoder's 3-map output conv at 256x256).
var narrowConvMinPixels int64 = 128 * 128

// lowerNarrowConv writes an ungrouped, stride-1, undilated Conv with at most 4 output maps
// and a kernel larger than 1x1 as
//
//	z = Conv1x1(x, W as [(m,a,b), C])        [N, M*kh*kw, H, W]
//	u = sum_b z[(m,a,b)] shifted by b        grouped one-hot [1 x kw] Conv, left/right pads
//	y = sum_a u[(m,a)] shifted by a (+ bias) grouped one-hot [kh x 1] Conv, top/bottom pads
//
// MLAS runs a Conv as im2col (kh*kw copies of every input pixel) then a GEMM with one row per
// output map, so with 3 maps the copies dominate (58-79 ms for dec.out at 256x256, 1.8
// GFLOP); the 1x1 Conv needs no copies and the shift sums read M*kh*kw small maps (40-46
// ms). It returns nil when n does not qualify.
func (g *Graph) lowerNarrowConv(n *Node) []*Node {
	x, w, y := n.In[0], n.In[1], n.Out[0]
	o := n.convOpts()
	m, c, kh, kw := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if x.Size() < 0 || x.shape[2]*x.shape[3] < narrowConvMinPixels || m > 4 || kh*kw == 1 || o.Group != 1 ||
		o.Strides != [2]int64{1, 1} || o.Dilations != [2]int64{1, 1} {
		return nil
	}
	nb, h := x.shape[0], x.shape[2]
	l := &rewrite{n: n}
	step := l.add
	conv := func(pads [4]int64, group int64) []attr { return ConvOpts{Pads: pads, Group: group}.norm().attrs(false) }
	w1 := step(OpTranspose, []*Value{w}, []attr{aInts("perm", []int64{0, 2, 3, 1})}, m, kh, kw, c)
	w1 = step(OpReshape, []*Value{w1, g.ints(m*kh*kw, c, 1, 1)}, nil, m*kh*kw, c, 1, 1)
	z := step(OpConv, []*Value{x, w1}, conv([4]int64{}, 1), nb, m*kh*kw, h, x.shape[3])
	// column sums: group (m,a) adds its kw inputs, input b taken at column offset b
	cols := g.Const([]int64{m * kh, kw, 1, kw}, oneHot(m*kh, kw, 1, kw, func(b int64) (int64, int64) { return 0, b }))
	u := step(OpConv, []*Value{z, cols}, conv([4]int64{0, o.Pads[1], 0, o.Pads[3]}, m*kh), nb, m*kh, h, y.shape[3])
	// row sums: group m adds its kh inputs, input a taken at row offset a
	rows := g.Const([]int64{m, kh, kh, 1}, oneHot(m, kh, kh, 1, func(a int64) (int64, int64) { return a, 0 }))
	in := []*Value{u, rows}
	if len(n.In) > 2 && n.In[2] != nil {
		in = append(in, n.In[2])
	}
	last := &Node{Op: OpConv, Name: n.Name + "/Rows", In: in, Out: []*Value{y}, attrs: conv([4]int64{o.Pads[0], 0, o.Pads[2], 0}, m)}
	return append(l.out, last)
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
