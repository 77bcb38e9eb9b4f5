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
	l := &lowering{n: n}
	step := l.add
	// W [Cin, Cout, mh*sh, mw*sw] -> [Cin, Cout, mh, sh, mw, sw], flip the m axes, and order
	// as [Cout, sh, sw, Cin, mh, mw].
	const lowest = -1 << 62
	w6 := step("Reshape", []*Value{w, g.ints(cin, cout, mh, s[0], mw, s[1])}, nil, cin, cout, mh, s[0], mw, s[1])
	if mh > 1 || mw > 1 {
		w6 = step("Slice", []*Value{w6, g.ints(-1, -1), g.ints(lowest, lowest), g.ints(2, 4), g.ints(-1, -1)}, nil, w6.shape...)
	}
	wt := step("Transpose", []*Value{w6}, []attr{aInts("perm", []int64{1, 3, 5, 0, 2, 4})}, cout, s[0], s[1], cin, mh, mw)
	wc := step("Reshape", []*Value{wt, g.ints(cout*phases, cin, mh, mw)}, nil, cout*phases, cin, mh, mw)
	in := []*Value{x, wc}
	if len(n.In) > 2 && n.In[2] != nil {
		b := step("Reshape", []*Value{n.In[2], g.ints(cout, 1)}, nil, cout, 1)
		b = step("Expand", []*Value{b, g.ints(cout, phases)}, nil, cout, phases)
		in = append(in, step("Reshape", []*Value{b, g.ints(cout * phases)}, nil, cout*phases))
	}
	qh, qw := x.shape[2]+mh-1, x.shape[3]+mw-1
	z := step("Conv", in, ConvOpts{Pads: [4]int64{mh - 1, mw - 1, mh - 1, mw - 1}}.norm().attrs(false), x.shape[0], cout*phases, qh, qw)
	// phase (a,b) of output map o is input channel o*s*s + a*sw + b
	oh := g.oneHotShifts(cout, phases, s[0], s[1], func(i int64) (int64, int64) { return i / s[1], i % s[1] })
	last := &Node{Op: "ConvTranspose", Name: n.Name + "/Interleave", In: []*Value{z, oh},
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
	l := &lowering{n: n}
	step := l.add
	conv := func(pads [4]int64, group int64) []attr { return ConvOpts{Pads: pads, Group: group}.norm().attrs(false) }
	w1 := step("Transpose", []*Value{w}, []attr{aInts("perm", []int64{0, 2, 3, 1})}, m, kh, kw, c)
	w1 = step("Reshape", []*Value{w1, g.ints(m*kh*kw, c, 1, 1)}, nil, m*kh*kw, c, 1, 1)
	z := step("Conv", []*Value{x, w1}, conv([4]int64{}, 1), nb, m*kh*kw, h, x.shape[3])
	// column sums: group (m,a) adds its kw inputs, input b taken at column offset b
	cols := g.Const([]int64{m * kh, kw, 1, kw}, oneHot(m*kh, kw, 1, kw, func(b int64) (int64, int64) { return 0, b }))
	u := step("Conv", []*Value{z, cols}, conv([4]int64{0, o.Pads[1], 0, o.Pads[3]}, m*kh), nb, m*kh, h, y.shape[3])
	// row sums: group m adds its kh inputs, input a taken at row offset a
	rows := g.Const([]int64{m, kh, kh, 1}, oneHot(m, kh, kh, 1, func(a int64) (int64, int64) { return a, 0 }))
	in := []*Value{u, rows}
	if len(n.In) > 2 && n.In[2] != nil {
		in = append(in, n.In[2])
	}
	last := &Node{Op: "Conv", Name: n.Name + "/Rows", In: in, Out: []*Value{y}, attrs: conv([4]int64{o.Pads[0], 0, o.Pads[2], 0}, m)}
	return append(l.out, last)
}
