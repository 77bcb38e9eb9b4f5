// Package vae is the study's convolutional VAE written as ONNX graphs with package graphs:
// its layers and parameters, the loss (MSE, SSIM, free-bits KL), Adam, and the artifacts the
// trainer and other ONNX consumers load (train_step, eval_step, optimizer, step, encoder,
// decoder). It is set up by its own Options; OptionsFrom maps a run config onto them.
//
// The model is its options, its layers and parameters (model.go) and an architecture: the
// layer list and the forward pass (study.go, the study's). The losses, Adam and the artifact
// builders work with any architecture: a second one is a new file implementing architecture,
// chosen in New.
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

// VAE is a model for one set of Options: its architecture's layers and parameters, and the
// graphs built from them.
type VAE struct {
	o      Options
	arch   architecture
	layers []layer
	byName map[string]layer
	specs  []ParamSpec
}

// architecture is a model's layer list and forward pass.
type architecture interface {
	// check refuses options the architecture cannot build.
	check(o Options) error
	// build adds the learnable layers in parameter order (VAE.add).
	build(v *VAE)
	// encode returns mu, logvar and the tensors the decoder also takes with Skips.
	encode(v *VAE, g *graphs.Graph, p paramValues, x *graphs.Value) (mu, logvar *graphs.Value, h []*graphs.Value)
	// decode maps z (and h with Skips) to the reconstruction.
	decode(v *VAE, g *graphs.Graph, p paramValues, z *graphs.Value, h []*graphs.Value) *graphs.Value
	// skipShapes are the per-image shapes of encode's h ([C,H,W] each).
	skipShapes(o Options) [][]int64
}

// New checks the options and lays out the model's layers and parameters (the study's
// architecture).
func New(o Options) (*VAE, error) {
	var arch architecture = study{}
	s := o.Size
	if o.Latent <= 0 || o.Channels <= 0 {
		return nil, fmt.Errorf("vae: latent size and channels must be > 0, got %d and %d", o.Latent, o.Channels)
	}
	if w := o.Loss.SSIMWindow; w < 3 || w%2 == 0 || int64(w) > s {
		return nil, fmt.Errorf("vae: the SSIM window must be odd, >= 3 and <= %d, got %d", s, w)
	}
	if err := arch.check(o); err != nil {
		return nil, err
	}
	o.Widths = append([]int64(nil), o.Widths...)
	v := &VAE{o: o, arch: arch, byName: map[string]layer{}}
	arch.build(v)
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

// SkipShapes are the per-image shapes of the skip tensors h1, h2, ... ([C,H,W]), the
// decoder's extra inputs with Skips.
func (v *VAE) SkipShapes() [][]int64 { return v.arch.skipShapes(v.o) }

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

// encode returns mu, logvar and the skip tensors.
func (v *VAE) encode(g *graphs.Graph, p paramValues, x *graphs.Value) (mu, logvar *graphs.Value, h []*graphs.Value) {
	return v.arch.encode(v, g, p, x)
}

// decode maps z (and the skips when the model has them) to the reconstruction.
func (v *VAE) decode(g *graphs.Graph, p paramValues, z *graphs.Value, h []*graphs.Value) *graphs.Value {
	return v.arch.decode(v, g, p, z, h)
}
