// Package vae is the study's convolutional VAE written as ONNX graphs with package graphs:
// its layers and parameters, the loss (MSE, SSIM, free-bits KL), Adam, and the artifacts the
// trainer and other ONNX consumers load (train_step, eval_step, optimizer, step, encoder,
// decoder). It is set up by its own Options; OptionsFrom maps a run config onto them.
//
// A second architecture is a new file beside this one: a list of layers and a forward pass
// over graphs' ops. The losses, Adam and the artifact builders take any model's parameters.
package vae

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/camelsvae/camelsvae/graphs"
)

// Options describe one model and what its training graphs compute.
type Options struct {
	// Size is the input side S (a multiple of 32); Channels the input maps.
	Size, Channels int64
	// Widths are the five encoder widths (after any multiplier); Latent the latent size.
	Widths []int64
	Latent int64
	// Skips hands the decoder the encoder's h1..h4 (the study's U-Net-like model).
	Skips      bool
	LeakySlope float64
	Loss       LossOptions
	Adam       AdamOptions
	// Target is the runtime the graphs are lowered for.
	Target graphs.Target
}

// LossOptions weigh the loss terms: total = MSEWeight*MSE + SSIMWeight*(1-SSIM) +
// kl_weight*KL, KL with free bits; SSIM over a Gaussian window of SSIMWindow taps.
type LossOptions struct {
	MSEWeight, SSIMWeight, FreeBits, DataRange float64
	SSIMWindow                                 int
	SSIMSigma                                  float64
}

// AdamOptions are Adam's constants (the learning rate and step are graph inputs).
type AdamOptions struct {
	Beta1, Beta2, Eps float64
}

// ParamSpec names one learnable tensor and its shape.
type ParamSpec struct {
	Name  string
	Shape []int64
}

// Size is the number of elements.
func (p ParamSpec) Size() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

type layerKind int

const (
	convLayer layerKind = iota
	convTLayer
	linearLayer
)

// layer is one learnable layer: weight and bias named <name>.weight, <name>.bias, a kernel of
// k x k with stride and padding (convolutions), and a LeakyReLU after it unless linear.
type layer struct {
	name           string
	kind           layerKind
	in, out        int64
	k, stride, pad int64
	linear         bool
}

func (l layer) weightShape() []int64 {
	switch l.kind {
	case convLayer:
		return []int64{l.out, l.in, l.k, l.k}
	case convTLayer:
		return []int64{l.in, l.out, l.k, l.k} // PyTorch/ONNX ConvTranspose layout
	}
	return []int64{l.out, l.in} // PyTorch Linear layout, used with Gemm transB
}

// fanIn is PyTorch's fan-in of the weight: size(1) * receptive field.
func (l layer) fanIn() int64 {
	s := l.weightShape()
	f := s[1]
	for _, d := range s[2:] {
		f *= d
	}
	return f
}

// VAE is the study's convolutional VAE for one set of Options: five stride-2 4x4 convolutions
// to a latent of Latent numbers (mu and logvar heads), and a decoder of four stride-2 4x4
// transposed convolutions each followed by a 3x3 convolution (taking h1..h4 with Skips), a
// fifth upsampling and a 3x3 output convolution.
type VAE struct {
	o      Options
	layers []layer
	byName map[string]layer
	specs  []ParamSpec
}

// New checks the options and lays out the model's layers and parameters.
func New(o Options) (*VAE, error) {
	if len(o.Widths) != 5 {
		return nil, fmt.Errorf("vae: want 5 encoder widths, got %d", len(o.Widths))
	}
	s := o.Size
	if s < 32 || s%32 != 0 {
		return nil, fmt.Errorf("vae: the input side must be a multiple of 32, got %d", s)
	}
	if o.Latent <= 0 || o.Channels <= 0 {
		return nil, fmt.Errorf("vae: latent size and channels must be > 0, got %d and %d", o.Latent, o.Channels)
	}
	if w := o.Loss.SSIMWindow; w < 3 || w%2 == 0 || int64(w) > s {
		return nil, fmt.Errorf("vae: the SSIM window must be odd, >= 3 and <= %d, got %d", s, w)
	}
	o.Widths = append([]int64(nil), o.Widths...)
	v := &VAE{o: o, byName: map[string]layer{}}
	c := o.Widths
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
	return v, nil
}

// add appends a layer and its weight and bias.
func (v *VAE) add(l layer) {
	v.layers = append(v.layers, l)
	v.byName[l.name] = l
	v.specs = append(v.specs, ParamSpec{l.name + ".weight", l.weightShape()}, ParamSpec{l.name + ".bias", []int64{l.out}})
}

// Options returns the options the model was built with.
func (v *VAE) Options() Options {
	o := v.o
	o.Widths = append([]int64(nil), o.Widths...)
	return o
}

// Params lists the learnable tensors in their fixed order: encoder then decoder, weight
// before bias, PyTorch layouts.
func (v *VAE) Params() []ParamSpec {
	out := make([]ParamSpec, len(v.specs))
	for i, p := range v.specs {
		out[i] = ParamSpec{p.Name, append([]int64(nil), p.Shape...)}
	}
	return out
}

// Layers is the number of learnable layers (19 for the study's model).
func (v *VAE) Layers() int { return len(v.layers) }

// SkipShapes are the per-image shapes of h1..h4 ([C,H,W]), the decoder's extra inputs.
func (v *VAE) SkipShapes() [][]int64 {
	out := make([][]int64, 4)
	for i := range 4 {
		side := v.o.Size >> (i + 1)
		out[i] = []int64{v.o.Widths[i], side, side}
	}
	return out
}

// ParamCount returns the number of parameters of the encoder (enc.*) and the decoder (dec.*).
func (v *VAE) ParamCount() (encoder, decoder int64) {
	for _, p := range v.specs {
		if p.Name[:4] == "enc." {
			encoder += p.Size()
		} else {
			decoder += p.Size()
		}
	}
	return encoder, decoder
}

// InitParams draws initial weights as PyTorch's defaults do: weights and biases uniform in
// ±1/sqrt(fan_in) (Kaiming-uniform with a = sqrt(5)), fan_in = weight.size(1) * k * k
// (so a ConvTranspose uses its output channels, as in PyTorch). Each tensor has its own
// stream seeded by (seed, name), so the result depends only on the seed and the options.
func (v *VAE) InitParams(seed int64) [][]float32 {
	out := make([][]float32, 0, len(v.specs))
	for _, l := range v.layers {
		bound := 1 / math.Sqrt(float64(l.fanIn()))
		for _, suffix := range []string{".weight", ".bias"} {
			name := l.name + suffix
			h := fnv.New64a()
			h.Write([]byte(name))
			r := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
			n := l.out
			if suffix == ".weight" {
				n = ParamSpec{Shape: l.weightShape()}.Size()
			}
			out = append(out, randUniform(r, n, bound))
		}
	}
	return out
}

func randUniform(r *rand.Rand, n int64, bound float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((2*r.Float64() - 1) * bound)
	}
	return out
}

// paramValues maps parameter names to graph values.
type paramValues map[string]*graphs.Value

func (p paramValues) get(name string) *graphs.Value {
	v, ok := p[name]
	if !ok {
		panic("vae: missing parameter " + name)
	}
	return v
}

// inputParams adds every parameter as a graph input, in Params order.
func (v *VAE) inputParams(g *graphs.Graph) paramValues {
	p := paramValues{}
	for _, s := range v.specs {
		p[s.Name] = g.Input(s.Name, s.Shape...)
	}
	return p
}

// bakedParams adds the parameters as named initializers.
func (v *VAE) bakedParams(g *graphs.Graph, data [][]float32) paramValues {
	if len(data) != len(v.specs) {
		panic(fmt.Sprintf("vae: %d parameter tensors given, the model has %d", len(data), len(v.specs)))
	}
	p := paramValues{}
	for i, s := range v.specs {
		p[s.Name] = g.Initializer(s.Name, s.Shape, data[i])
	}
	return p
}

// apply runs the layer called name on x, with its LeakyReLU unless the layer is linear.
func (v *VAE) apply(g *graphs.Graph, p paramValues, name string, x *graphs.Value) *graphs.Value {
	l, ok := v.byName[name]
	if !ok {
		panic("vae: no layer " + name)
	}
	old := g.Scope(name)
	defer g.Scope(old)
	w, b := p.get(name+".weight"), p.get(name+".bias")
	var y *graphs.Value
	switch l.kind {
	case convLayer:
		y = g.Conv(x, w, b, graphs.Conv2(l.stride, l.pad))
	case convTLayer:
		y = g.ConvTranspose(x, w, b, graphs.Conv2(l.stride, l.pad))
	case linearLayer:
		y = g.Gemm(x, w, b, false, true)
	}
	if l.linear {
		return y
	}
	return g.LeakyRelu(y, float32(v.o.LeakySlope))
}

// encode returns mu, logvar and the skip tensors h1..h4.
func (v *VAE) encode(g *graphs.Graph, p paramValues, x *graphs.Value) (mu, logvar *graphs.Value, h []*graphs.Value) {
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
func (v *VAE) decode(g *graphs.Graph, p paramValues, z *graphs.Value, h []*graphs.Value) *graphs.Value {
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
