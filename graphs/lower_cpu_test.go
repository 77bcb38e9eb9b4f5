package graphs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// loweringCase is one node for a lowering test: input and weight shapes, options, a bias or
// not, and whether the lowering should take it.
type loweringCase struct {
	x, w    []int64
	o       ConvOpts
	bias    bool
	lowered bool
}

// checkLowering writes each case's node with the lowering's size threshold *knob at off (never
// lowered) and at on (lowered where the node qualifies), checks from the written ops whether
// it was lowered, and compares the two outputs on random inputs.
func checkLowering(t *testing.T, knob *int64, off, on int64, cases []loweringCase, biasLen func(w []int64) int64,
	build func(g *Graph, x, w, b *Value, o ConvOpts) *Value, isLowered func(ops []string) bool) {
	old := *knob
	defer func() { *knob = old }()
	r := rand.New(rand.NewPCG(3, 4))
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := [][]float32{randSlice(r, numel(c.x), -1, 1), randSlice(r, numel(c.w), -1, 1), randSlice(r, biasLen(c.w), -1, 1)}
			if !c.bias {
				in = in[:2]
			}
			var outs [2][]float32
			for j, v := range []int64{off, on} {
				*knob = v
				g := NewGraph("lowering")
				x, w := g.Input("x", c.x...), g.Input("w", c.w...)
				var b *Value
				if c.bias {
					b = g.Input("b", biasLen(c.w))
				}
				g.Output("y", build(g, x, w, b, c.o))
				m, err := g.Proto()
				if err != nil {
					t.Fatal(err)
				}
				var ops []string
				for _, n := range m.Graph.Node {
					ops = append(ops, n.GetOpType())
				}
				if j == 1 && isLowered(ops) != c.lowered {
					t.Fatalf("lowered %v, want %v (ops %v)", isLowered(ops), c.lowered, ops)
				}
				outs[j] = runSession(t, graphSession(t, g), in, inputShapes(g))[0]
			}
			if e := relErr(outs[1], outs[0], 1e-6); e > 1e-6 {
				t.Fatalf("lowered node differs from ORT's: relative error %.2g", e)
			}
		})
	}
}

// TestSubpixelLowering: a ConvTranspose written as a sub-pixel Conv plus the one-hot
// interleave (lowerSubpixel) gives ORT's ConvTranspose output, for several strides, kernels,
// pads and shapes; a ConvTranspose that does not qualify is written as it is.
func TestSubpixelLowering(t *testing.T) {
	cases := []loweringCase{
		{[]int64{2, 3, 5, 6}, []int64{3, 4, 4, 4}, Conv2(2, 1), true, true},
		{[]int64{1, 2, 4, 4}, []int64{2, 3, 2, 2}, Conv2(2, 0), false, true},
		{[]int64{2, 2, 3, 5}, []int64{2, 2, 6, 6}, ConvOpts{Strides: [2]int64{3, 3}, Pads: [4]int64{2, 0, 1, 2}}, true, true},
		{[]int64{1, 3, 4, 5}, []int64{3, 2, 4, 3}, ConvOpts{Strides: [2]int64{2, 1}, Pads: [4]int64{1, 0, 0, 0}}, true, true},
		// not lowered: kernel 3 with stride 2, and pads as large as the stride
		{[]int64{1, 2, 4, 4}, []int64{2, 2, 3, 3}, Conv2(2, 1), true, false},
		{[]int64{1, 2, 4, 4}, []int64{2, 2, 4, 4}, Conv2(2, 2), true, false},
	}
	checkLowering(t, &subpixelMinPixels, 1<<40, 1, cases, func(w []int64) int64 { return w[1] },
		func(g *Graph, x, w, b *Value, o ConvOpts) *Value { return g.ConvTranspose(x, w, b, o) },
		func(ops []string) bool { return slices.Contains(ops, "Conv") })
}

// TestNarrowConvLowering: a Conv with few output maps written as a 1x1 Conv plus one-hot
// column and row shift sums (lowerNarrowConv) gives ORT's Conv output; a Conv that does not
// qualify is written as it is.
func TestNarrowConvLowering(t *testing.T) {
	cases := []loweringCase{
		{[]int64{2, 5, 9, 8}, []int64{3, 5, 3, 3}, Conv2(1, 1), true, true},
		{[]int64{1, 4, 7, 9}, []int64{1, 4, 3, 2}, ConvOpts{Pads: [4]int64{2, 0, 1, 1}}, false, true},
		{[]int64{1, 3, 8, 8}, []int64{4, 3, 5, 5}, Conv2(1, 2), true, true},
		{[]int64{1, 3, 8, 8}, []int64{2, 3, 1, 3}, ConvOpts{}, true, true},
		// not lowered: five output maps, stride 2, a 1x1 kernel
		{[]int64{1, 3, 8, 8}, []int64{5, 3, 3, 3}, Conv2(1, 1), true, false},
		{[]int64{1, 3, 12, 12}, []int64{2, 3, 3, 3}, Conv2(2, 1), true, false},
		{[]int64{1, 3, 8, 8}, []int64{2, 3, 1, 1}, ConvOpts{}, true, false},
	}
	checkLowering(t, &narrowConvMinPixels, 1<<40, 1, cases, func(w []int64) int64 { return w[0] },
		func(g *Graph, x, w, b *Value, o ConvOpts) *Value { return g.Conv(x, w, b, o) },
		func(ops []string) bool { return slices.Contains(ops, "Transpose") })
}
