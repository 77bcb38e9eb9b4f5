package vae

import (
	"fmt"

	"github.com/camelsvae/camelsvae/graphs"
)

// study is the study's architecture: five stride-2 4x4 convolutions to mu and logvar heads of
// Latent numbers, and a decoder of four stride-2 4x4 transposed convolutions each followed by
// a 3x3 convolution (taking h4..h1 concatenated with Skips), a fifth upsampling, a 3x3
// convolution and a linear 3x3 output convolution. All with LeakyReLU but the heads and the
// output.
type study struct{}

func (study) check(o Options) error {
	if len(o.Widths) != 5 {
		return fmt.Errorf("vae: want 5 encoder widths, got %d", len(o.Widths))
	}
	if o.Size < 32 || o.Size%32 != 0 {
		return fmt.Errorf("vae: the input side must be a multiple of 32, got %d", o.Size)
	}
	return nil
}

func (study) build(v *VAE) {
	o := v.o
	c, s := o.Widths, o.Size
	in := o.Channels
	for i := range 5 {
		v.add(layer{name: fmt.Sprintf("enc.conv%d", i+1), kind: convLayer, in: in, out: c[i], k: 4, stride: 2, pad: 1})
		in = c[i]
	}
	flat := c[4] * (s / 32) * (s / 32)
	v.add(layer{name: "enc.fc_mu", kind: linearLayer, in: flat, out: o.Latent, linear: true})
	v.add(layer{name: "enc.fc_logvar", kind: linearLayer, in: flat, out: o.Latent, linear: true})
	v.add(layer{name: "dec.fc", kind: linearLayer, in: o.Latent, out: flat})
	for i := range 4 {
		from, to := c[4-i], c[3-i]
		refineIn := to
		if o.Skips {
			refineIn = 2 * to
		}
		v.add(layer{name: fmt.Sprintf("dec.up%d", i+1), kind: convTLayer, in: from, out: to, k: 4, stride: 2, pad: 1})
		v.add(layer{name: fmt.Sprintf("dec.refine%d", i+1), kind: convLayer, in: refineIn, out: to, k: 3, stride: 1, pad: 1})
	}
	v.add(layer{name: "dec.up5", kind: convTLayer, in: c[0], out: c[0], k: 4, stride: 2, pad: 1})
	v.add(layer{name: "dec.refine5", kind: convLayer, in: c[0], out: c[0], k: 3, stride: 1, pad: 1})
	v.add(layer{name: "dec.out", kind: convLayer, in: c[0], out: o.Channels, k: 3, stride: 1, pad: 1, linear: true})
}

// skipShapes are h1..h4: the first four encoder activations.
func (study) skipShapes(o Options) [][]int64 {
	out := make([][]int64, 4)
	for i := range 4 {
		side := o.Size >> (i + 1)
		out[i] = []int64{o.Widths[i], side, side}
	}
	return out
}

// encode returns mu, logvar and the skip tensors h1..h4.
func (study) encode(v *VAE, g *graphs.Graph, p paramValues, x *graphs.Value) (mu, logvar *graphs.Value, h []*graphs.Value) {
	for i := range 5 {
		x = v.apply(g, p, fmt.Sprintf("enc.conv%d", i+1), x)
		if i < 4 {
			h = append(h, x)
		}
	}
	old := g.Scope("enc.flatten")
	f := g.Flatten(x, 1)
	g.Scope(old)
	mu = v.apply(g, p, "enc.fc_mu", f)
	logvar = v.apply(g, p, "enc.fc_logvar", f)
	return mu, logvar, h
}

// decode maps z (and h1..h4 when the model has skips) to the reconstruction.
func (study) decode(v *VAE, g *graphs.Graph, p paramValues, z *graphs.Value, h []*graphs.Value) *graphs.Value {
	x := v.apply(g, p, "dec.fc", z)
	side := v.o.Size / 32
	old := g.Scope("dec.reshape")
	x = g.Reshape(x, -1, v.o.Widths[4], side, side)
	g.Scope(old)
	for i := range 4 {
		x = v.apply(g, p, fmt.Sprintf("dec.up%d", i+1), x)
		if v.o.Skips {
			old := g.Scope(fmt.Sprintf("dec.skip%d", i+1))
			x = g.Concat(1, x, h[3-i])
			g.Scope(old)
		}
		x = v.apply(g, p, fmt.Sprintf("dec.refine%d", i+1), x)
	}
	x = v.apply(g, p, "dec.up5", x)
	x = v.apply(g, p, "dec.refine5", x)
	return v.apply(g, p, "dec.out", x)
}
