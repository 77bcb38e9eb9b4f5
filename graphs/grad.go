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
// a zero tensor. Gradients need static shapes. It is long because it is the whole reverse pass:
// marking, accumulation and the walk over the nodes.
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
			for _, o := range n.Out {
				if len(grads[o]) > 0 {
					return nil, fmt.Errorf("graphs: no gradient rule for %s: it has %d outputs", n.Name, len(n.Out))
				}
			}
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

// vjp emits the vector-Jacobian product of node n by its operator's rule (vjpRules).
func (g *Graph) vjp(n *Node, dy *Value, want []bool) ([]*Value, error) {
	rule, ok := vjpRules[n.Op]
	if !ok {
		return nil, fmt.Errorf("graphs: no gradient rule for %s (%s)", n.Op, n.Name)
	}
	return rule(g, n, dy, want)
}

func (g *Graph) unbroadcastIf(want bool, d, x *Value) *Value {
	if !want {
		return nil
	}
	return g.unbroadcast(d, x.shape)
}

// convVJP: the input gradient by a Conv with the flipped kernel (stride 1) or a ConvTranspose
// with the same weights; the kernel and bias gradients in the form the graph's lowering
// chooses.
func convVJP(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
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
		out[1] = g.lowering().kernelGrad(g, kernelGrad{x: x, dy: dy, wshape: w.shape, o: o})
	}
	if len(n.In) > 2 && want[2] {
		out[2] = g.lowering().biasGrad(g, dy)
	}
	return out, nil
}

// convTransposeVJP: the input gradient by a Conv with the same weights; the kernel and bias
// gradients in the form the graph's lowering chooses.
func convTransposeVJP(g *Graph, n *Node, dy *Value, want []bool) ([]*Value, error) {
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
		out[1] = g.lowering().kernelGrad(g, kernelGrad{x: x, dy: dy, wshape: w.shape, o: o, transposed: true})
	}
	if len(n.In) > 2 && want[2] {
		out[2] = g.lowering().biasGrad(g, dy)
	}
	return out, nil
}

// flip2 reverses the last two axes of a rank-4 value (Slice with step -1).
func (g *Graph) flip2(x *Value) *Value {
	const lowest = -1 << 62
	return g.one(OpSlice, []*Value{x, g.ints(-1, -1), g.ints(lowest, lowest), g.ints(2, 3), g.ints(-1, -1)}, nil, x.shape)
}
