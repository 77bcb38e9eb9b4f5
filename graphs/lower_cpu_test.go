package graphs

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSubpixelLowering: a ConvTranspose written as a sub-pixel Conv plus the one-hot
// interleave (lowerSubpixel) gives ORT's ConvTranspose output, for several strides, kernels,
// pads and shapes; a ConvTranspose that does not qualify is written as it is.
func TestSubpixelLowering(t *testing.T) {
	cases := []struct {
		x, w    []int64
		o       ConvOpts
		bias    bool
		lowered bool
	}{
		{[]int64{2, 3, 5, 6}, []int64{3, 4, 4, 4}, Conv2(2, 1), true, true},
		{[]int64{1, 2, 4, 4}, []int64{2, 3, 2, 2}, Conv2(2, 0), false, true},
		{[]int64{2, 2, 3, 5}, []int64{2, 2, 6, 6}, ConvOpts{Strides: [2]int64{3, 3}, Pads: [4]int64{2, 0, 1, 2}}, true, true},
		{[]int64{1, 3, 4, 5}, []int64{3, 2, 4, 3}, ConvOpts{Strides: [2]int64{2, 1}, Pads: [4]int64{1, 0, 0, 0}}, true, true},
		// not lowered: kernel 3 with stride 2, and pads as large as the stride
		{[]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, Conv2(2, 1), true, false},
		{[]int64{1, 2, 4, 4}, []int64{2, 2, 4, 4}, Conv2(2, 2), true, false},
	}
	old := subpixelMinPixels
	defer func() { subpixelMinPixels = old }()
	r := rand.New(rand.NewPCG(3, 4))
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := [][]float32{randSlice(r, numel(c.x), -1, 1), randSlice(r, numel(c.w), -1, 1), randSlice(r, c.w[1], -1, 1)}
			var outs [2][]float32
			for j, min := range []int64{1 << 40, 1} {
				subpixelMinPixels = min
				g := NewGraph("ct")
				x, w := g.Input("x", c.x...), g.Input("w", c.w...)
				var b *Value
				if c.bias {
					b = g.Input("b", c.w[1])
				}
				g.Output("y", g.ConvTranspose(x, w, b, c.o))
				m, err := g.Proto()
				if err != nil {
					t.Fatal(err)
				}
				if j == 1 {
					conv := false
					for _, n := range m.Graph.Node {
						conv = conv || n.GetOpType() == "Conv"
					}
					if conv != c.lowered {
						t.Fatalf("lowered %v, want %v", conv, c.lowered)
					}
				}
				ins := in[:2]
				if c.bias {
					ins = in
				}
				outs[j] = runSession(t, graphSession(t, g), ins, inputShapes(g))[0]
			}
			if e := relErr(outs[1], outs[0], 1e-6); e > 1e-6 {
				t.Fatalf("sub-pixel ConvTranspose differs from ORT's: relative error %.2g", e)
			}
		})
	}
}

// TestNarrowConvLowering: a Conv with few output maps written as a 1x1 Conv plus one-hot
// column and row shift sums (lowerNarrowConv) gives ORT's Conv output; a Conv that does not
// qualify is written as it is.
func TestNarrowConvLowering(t *testing.T) {
	cases := []struct {
		x, w    []int64
		o       ConvOpts
		bias    bool
		lowered bool
	}{
		{[]int64{2, 5, 9, 8}, []int64{3, 5, 3, 3}, Conv2(1, 1), true, true},
		{[]int64{1, 4, 7, 9}, []int64{1, 4, 3, 2}, ConvOpts{Pads: [4]int64{2, 0, 1, 1}}, false, true},
		{[]int64{1, 3, 8, 8}, []int64{4, 3, 5, 5}, Conv2(1, 2), true, true},
		{[]int64{1, 3, 8, 8}, []int64{2, 3, 1, 3}, ConvOpts{}, true, true},
		// not lowered: five output maps, stride 2, a 1x1 kernel
		{[]int64{1, 3, 8, 8}, []int64{5, 3, 3, 3}, Conv2(1, 1), true, false},
		{[]int64{1, 3, 8, 8}, []int64{2, 3, 3, 3}, Conv2(2, 1), true, false},
		{[]int64{1, 3, 8, 8}, []int64{2, 3, 1, 1}, ConvOpts{}, true, false},
	}
	old := narrowConvMinPixels
	defer func() { narrowConvMinPixels = old }()
	r := rand.New(rand.NewPCG(5, 6))
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := [][]float32{randSlice(r, numel(c.x), -1, 1), randSlice(r, numel(c.w), -1, 1), randSlice(r, c.w[0], -1, 1)}
			var outs [2][]float32
			for j, min := range []int64{1 << 40, 1} {
				narrowConvMinPixels = min
				g := NewGraph("conv")
				x, w := g.Input("x", c.x...), g.Input("w", c.w...)
				var b *Value
				if c.bias {
					b = g.Input("b", c.w[0])
				}
				g.Output("y", g.Conv(x, w, b, c.o))
				m, err := g.Proto()
				if err != nil {
					t.Fatal(err)
				}
				if j == 1 && (len(m.Graph.Node) > 1) != c.lowered {
					t.Fatalf("lowered %v, want %v", len(m.Graph.Node) > 1, c.lowered)
				}
				ins := in[:2]
				if c.bias {
					ins = in
				}
				outs[j] = runSession(t, graphSession(t, g), ins, inputShapes(g))[0]
			}
			if e := relErr(outs[1], outs[0], 1e-6); e > 1e-6 {
				t.Fatalf("narrow Conv differs from ORT's: relative error %.2g", e)
			}
		})
	}
}
