package graphs

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// fdCase is one op under a finite-difference check: build maps the inputs to one value y.
type fdCase struct {
	name   string
	shapes [][]int64
	// lo, hi per input: the sampling range (kept away from kinks and poles where needed).
	ranges [][2]float64
	// sign, when set for an input, makes its entries negative with probability 1/2 after
	// sampling |x| from the range (so LeakyRelu and Max see both sides, away from the kink).
	sign  []bool
	build func(g *Graph, in []*Value) *Value
}

// TestGradFiniteDifferences checks every VJP rule against central differences, run through
// ORT's CPU provider in float32. For each case a random projection R gives the scalar
// L = sum(R * y); the graph outputs y and dL/d(inputs). For three random directions u the
// directional derivative sum_i <dL/dx_i, u_i> is compared with
// sum(R * (y(x+h u) - y(x-h u))) / 2h, accumulated in float64 from the float32 outputs, with
// h = 1e-2. float32 rounding of y (about 1e-7 relative) divided by 2h and the O(h^2)
// truncation error stay well under the tolerance |fd - ad| <= 2e-3 * (|ad| + ||grad||·||u||·1e-2).
func TestGradFiniteDifferences(t *testing.T) {
	conv := func(o ConvOpts, bias bool) func(g *Graph, in []*Value) *Value {
		return func(g *Graph, in []*Value) *Value {
			var b *Value
			if bias {
				b = in[2]
			}
			return g.Conv(in[0], in[1], b, o)
		}
	}
	convT := func(o ConvOpts, bias bool) func(g *Graph, in []*Value) *Value {
		return func(g *Graph, in []*Value) *Value {
			var b *Value
			if bias {
				b = in[2]
			}
			return g.ConvTranspose(in[0], in[1], b, o)
		}
	}
	u := [2]float64{-1, 1}
	pos := [2]float64{0.5, 1.5}
	away := [2]float64{0.1, 1}
	cases := []fdCase{
		{name: "Conv k4 s2 p1 bias", shapes: [][]int64{{2, 3, 8, 8}, {4, 3, 4, 4}, {4}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(2, 1), true)},
		// Large enough for weightGradStrided (phases of at least 9x8 pixels, 16 channels).
		{name: "Conv k4 s2 p1 phase weight grad", shapes: [][]int64{{1, 16, 18, 18}, {3, 16, 4, 4}, {3}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(2, 1), true)},
		{name: "Conv k4 s2 p1 phase weight grad, odd input", shapes: [][]int64{{1, 16, 19, 17}, {2, 16, 4, 4}}, ranges: [][2]float64{u, u}, build: conv(Conv2(2, 1), false)},
		{name: "Conv k4 s2 valid phase weight grad, input cut", shapes: [][]int64{{1, 16, 21, 21}, {2, 16, 4, 4}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Strides: [2]int64{2, 2}}, false)},
		// Phases of at least 32x32 pixels: one GEMM per image (stridedBatchMinPixels).
		{name: "Conv k4 s2 p1 per-image phase weight grad", shapes: [][]int64{{2, 16, 64, 64}, {2, 16, 4, 4}, {2}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(2, 1), true)},
		{name: "Conv k4 s2 valid per-image phase weight grad, input cut", shapes: [][]int64{{1, 16, 69, 68}, {2, 16, 4, 4}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Strides: [2]int64{2, 2}}, false)},
		{name: "Conv k4 s2 per-image phase weight grad, rows cut, columns padded", shapes: [][]int64{{1, 16, 67, 66}, {2, 16, 4, 4}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Strides: [2]int64{2, 2}, Pads: [4]int64{0, 1, 0, 1}}, false)},
		{name: "ConvTranspose k4 s2 p1 per-image phase weight grad", shapes: [][]int64{{2, 2, 32, 33}, {2, 16, 4, 4}, {16}}, ranges: [][2]float64{u, u, u}, build: convT(Conv2(2, 1), true)},
		{name: "ConvTranspose k4 s2 p1 phase weight grad", shapes: [][]int64{{1, 2, 9, 9}, {2, 16, 4, 4}, {16}}, ranges: [][2]float64{u, u, u}, build: convT(Conv2(2, 1), true)},
		{name: "ConvTranspose k3 s2 p1 output_padding phase weight grad", shapes: [][]int64{{1, 2, 9, 10}, {2, 16, 3, 3}}, ranges: [][2]float64{u, u},
			build: convT(ConvOpts{Strides: [2]int64{2, 2}, Pads: [4]int64{1, 1, 1, 1}, OutPad: [2]int64{1, 1}}, false)},
		{name: "Conv k4 s2 p1 odd input (output_padding)", shapes: [][]int64{{2, 2, 9, 7}, {3, 2, 4, 4}}, ranges: [][2]float64{u, u}, build: conv(Conv2(2, 1), false)},
		{name: "Conv k3 s1 p1", shapes: [][]int64{{2, 3, 5, 6}, {2, 3, 3, 3}, {2}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(1, 1), true)},
		{name: "Conv k3 s1 uneven pads", shapes: [][]int64{{2, 4, 5, 6}, {2, 4, 3, 3}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Pads: [4]int64{1, 2, 0, 1}}, false)},
		// Large enough (at least 32x32 outputs) for weightGradShifted.
		{name: "Conv k3 s1 p1 shifted weight grad", shapes: [][]int64{{2, 2, 128, 128}, {3, 2, 3, 3}, {3}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(1, 1), true)},
		{name: "Conv 3x2 s1 uneven pads shifted weight grad", shapes: [][]int64{{1, 3, 130, 127}, {2, 3, 3, 2}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Pads: [4]int64{1, 0, 2, 1}}, false)},
		// At least 32x32 outputs, one side at most a quarter of the other's channels
		// (weightGradStacked, shifting dy then x).
		{name: "Conv k3 s1 p1 stacked weight grad, narrow output", shapes: [][]int64{{2, 16, 32, 33}, {3, 16, 3, 3}, {3}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(1, 1), true)},
		{name: "Conv 3x2 s1 uneven pads stacked weight grad, narrow input", shapes: [][]int64{{1, 2, 34, 33}, {9, 2, 3, 2}}, ranges: [][2]float64{u, u},
			build: conv(ConvOpts{Pads: [4]int64{1, 0, 2, 1}}, false)},
		{name: "Conv k3 s1 p1 widening", shapes: [][]int64{{2, 2, 4, 5}, {5, 2, 3, 3}, {5}}, ranges: [][2]float64{u, u, u}, build: conv(Conv2(1, 1), true)},
		{name: "Conv 1x5 valid", shapes: [][]int64{{1, 2, 6, 7}, {3, 2, 1, 5}}, ranges: [][2]float64{u, u}, build: conv(ConvOpts{}, false)},
		{name: "Conv grouped input grad", shapes: [][]int64{{2, 3, 7, 7}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value {
			w := g.Const([]int64{3, 1, 3, 3}, randSlice(rand.New(rand.NewPCG(9, 9)), 27, -1, 1))
			return g.Conv(in[0], w, nil, ConvOpts{Group: 3})
		}},
		{name: "ConvTranspose k4 s2 p1 bias", shapes: [][]int64{{2, 4, 3, 3}, {4, 3, 4, 4}, {3}}, ranges: [][2]float64{u, u, u}, build: convT(Conv2(2, 1), true)},
		{name: "ConvTranspose k3 s2 p1 output_padding", shapes: [][]int64{{2, 3, 3, 4}, {3, 2, 3, 3}}, ranges: [][2]float64{u, u},
			build: convT(ConvOpts{Strides: [2]int64{2, 2}, Pads: [4]int64{1, 1, 1, 1}, OutPad: [2]int64{1, 1}}, false)},
		{name: "Gemm transB bias", shapes: [][]int64{{3, 5}, {4, 5}, {4}}, ranges: [][2]float64{u, u, u}, build: func(g *Graph, in []*Value) *Value { return g.Gemm(in[0], in[1], in[2], false, true) }},
		{name: "Gemm transA", shapes: [][]int64{{5, 3}, {5, 4}, {3, 4}}, ranges: [][2]float64{u, u, u}, build: func(g *Graph, in []*Value) *Value { return g.Gemm(in[0], in[1], in[2], true, false) }},
		{name: "MatMul", shapes: [][]int64{{3, 5}, {5, 2}}, ranges: [][2]float64{u, u}, build: func(g *Graph, in []*Value) *Value { return g.MatMul(in[0], in[1]) }},
		{name: "Add broadcast", shapes: [][]int64{{2, 3, 4}, {3, 1}}, ranges: [][2]float64{u, u}, build: func(g *Graph, in []*Value) *Value { return g.Add(in[0], in[1]) }},
		{name: "Sub broadcast", shapes: [][]int64{{4}, {2, 3, 4}}, ranges: [][2]float64{u, u}, build: func(g *Graph, in []*Value) *Value { return g.Sub(in[0], in[1]) }},
		{name: "Mul broadcast", shapes: [][]int64{{2, 3, 4}, {2, 1, 4}}, ranges: [][2]float64{u, u}, build: func(g *Graph, in []*Value) *Value { return g.Mul(in[0], in[1]) }},
		{name: "Div broadcast", shapes: [][]int64{{2, 3, 4}, {3, 1}}, ranges: [][2]float64{u, pos}, build: func(g *Graph, in []*Value) *Value { return g.Div(in[0], in[1]) }},
		{name: "Mul scalar", shapes: [][]int64{{1}, {2, 3}}, ranges: [][2]float64{u, u}, build: func(g *Graph, in []*Value) *Value { return g.Mul(in[0], in[1]) }},
		{name: "LeakyRelu", shapes: [][]int64{{3, 7}}, ranges: [][2]float64{away}, sign: []bool{true}, build: func(g *Graph, in []*Value) *Value { return g.LeakyRelu(in[0], 0.01) }},
		{name: "Exp", shapes: [][]int64{{3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Exp(in[0]) }},
		{name: "Log", shapes: [][]int64{{3, 4}}, ranges: [][2]float64{pos}, build: func(g *Graph, in []*Value) *Value { return g.Log(in[0]) }},
		{name: "Sqrt", shapes: [][]int64{{3, 4}}, ranges: [][2]float64{pos}, build: func(g *Graph, in []*Value) *Value { return g.Sqrt(in[0]) }},
		{name: "Neg", shapes: [][]int64{{5}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Neg(in[0]) }},
		{name: "Concat axis 1", shapes: [][]int64{{2, 3, 2}, {2, 1, 2}, {2, 2, 2}}, ranges: [][2]float64{u, u, u}, build: func(g *Graph, in []*Value) *Value { return g.Concat(1, in...) }},
		{name: "Reshape", shapes: [][]int64{{2, 3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Reshape(in[0], 4, -1) }},
		{name: "Flatten", shapes: [][]int64{{2, 3, 2, 2}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Flatten(in[0], 1) }},
		{name: "Transpose", shapes: [][]int64{{2, 3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Transpose(in[0], 2, 0, 1) }},
		{name: "Slice", shapes: [][]int64{{4, 6}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value {
			return g.Slice(in[0], []int64{1, 2}, []int64{3, 5}, []int64{0, 1})
		}},
		{name: "ReduceMean keepdims", shapes: [][]int64{{2, 3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.ReduceMean(in[0], []int64{0, 2}, true) }},
		{name: "ReduceSum", shapes: [][]int64{{2, 3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.ReduceSum(in[0], []int64{1}, false) }},
		{name: "Mean to scalar", shapes: [][]int64{{2, 3}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Mean(in[0]) }},
		{name: "Max with constant (free bits)", shapes: [][]int64{{8}}, ranges: [][2]float64{away}, sign: []bool{true}, build: func(g *Graph, in []*Value) *Value {
			return g.Max(in[0], g.Scalar(0))
		}},
		{name: "Max of two", shapes: [][]int64{{6}, {6}}, ranges: [][2]float64{away, {-0.05, 0.05}}, sign: []bool{true, false}, build: func(g *Graph, in []*Value) *Value {
			return g.Max(in[0], in[1])
		}},
		{name: "Expand", shapes: [][]int64{{3, 1}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value { return g.Expand(in[0], 2, 3, 4) }},
		{name: "fan-out accumulation", shapes: [][]int64{{3, 4}}, ranges: [][2]float64{u}, build: func(g *Graph, in []*Value) *Value {
			x := in[0]
			return g.Add(g.Mul(x, x), g.Mul(g.Exp(x), x))
		}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fdCheck(t, c, uint64(ci))
		})
	}
}

func fdCheck(t *testing.T, c fdCase, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 77))
	g := NewGraph("fd")
	in := make([]*Value, len(c.shapes))
	for i, s := range c.shapes {
		in[i] = g.Input(string(rune('a'+i)), s...)
	}
	y := c.build(g, in)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	proj := randSlice(r, y.Size(), -1, 1)
	loss := g.ReduceSum(g.Mul(y, g.Const(y.shape, proj)), allAxes(y.Rank()), false)
	grads, err := g.Grad(loss, in)
	if err != nil {
		t.Fatal(err)
	}
	g.Output("y", y)
	for i, d := range grads {
		g.Output("grad."+in[i].name, d)
	}
	s := graphSession(t, g)
	x := make([][]float32, len(in))
	for i, v := range in {
		rg := c.ranges[i]
		x[i] = randSlice(r, v.Size(), rg[0], rg[1])
		if c.sign != nil && c.sign[i] {
			for k := range x[i] {
				if r.IntN(2) == 0 {
					x[i][k] = -x[i][k]
				}
			}
		}
	}
	shapes := inputShapes(g)
	out := runSession(t, s, x, shapes)
	const h = 1e-2
	for trial := range 3 {
		dir := make([][]float32, len(in))
		var ad, gnorm, unorm float64
		for i := range in {
			dir[i] = randSlice(r, in[i].Size(), -1, 1)
			for k, gk := range out[1+i] {
				ad += float64(gk) * float64(dir[i][k])
				gnorm += float64(gk) * float64(gk)
				unorm += float64(dir[i][k]) * float64(dir[i][k])
			}
		}
		shift := func(sign float64) []float32 {
			xs := make([][]float32, len(in))
			for i := range in {
				xs[i] = make([]float32, len(x[i]))
				for k := range xs[i] {
					xs[i][k] = float32(float64(x[i][k]) + sign*h*float64(dir[i][k]))
				}
			}
			return runSession(t, s, xs, shapes)[0]
		}
		yp, ym := shift(1), shift(-1)
		var fd float64
		for k := range proj {
			fd += float64(proj[k]) * (float64(yp[k]) - float64(ym[k]))
		}
		fd /= 2 * h
		tol := 2e-3 * (math.Abs(ad) + 1e-2*math.Sqrt(gnorm*unorm))
		if math.Abs(fd-ad) > tol || math.IsNaN(ad) {
			t.Errorf("direction %d: autodiff %.6g, finite difference %.6g (|diff| %.3g > tol %.3g)", trial, ad, fd, math.Abs(fd-ad), tol)
		}
	}
}

// TestGradRefuses: a node on the gradient's path without a rule, or with several outputs, is
// an error naming it, never a silently missing term.
func TestGradRefuses(t *testing.T) {
	g := NewGraph("split")
	x := g.Input("x", 4)
	parts := g.add("Split", []*Value{x}, []attr{aInt("axis", 0)}, nil, []int64{2}, []int64{2})
	if _, err := g.Grad(g.Mean(parts[0]), []*Value{x}); err == nil || !strings.Contains(err.Error(), "2 outputs") {
		t.Errorf("two outputs: %v", err)
	}
	g = NewGraph("pow")
	x = g.Input("x", 4)
	if _, err := g.Grad(g.Mean(g.Pow(x, g.Scalar(2))), []*Value{x}); err == nil || !strings.Contains(err.Error(), "no gradient rule for Pow") {
		t.Errorf("no rule: %v", err)
	}
}
