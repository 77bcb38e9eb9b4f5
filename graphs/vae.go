package graphs

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/camelsvae/camelsvae/configs"
)

// ParamSpec names one learnable tensor and its shape.
type ParamSpec struct {
	Name  string
	Shape []int64
}

// Size is the number of elements.
func (p ParamSpec) Size() int64 { return numel(p.Shape) }

type layerKind int

const (
	convLayer layerKind = iota
	convTLayer
	linearLayer
)

// layer is one learnable layer: weight and bias named <name>.weight, <name>.bias.
type layer struct {
	name    string
	kind    layerKind
	in, out int64
	k       int64
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

// VAE is the study's convolutional VAE (DESIGN.md, "The model") for one configuration.
type VAE struct {
	size   int64 // input side S
	ch     []int64
	latent int64
	skips  bool
	slope  float32
	loss   configs.Loss
	train  configs.Train
	seed   int64
	layers []layer
	specs  []ParamSpec
	target Target
}

// Channels is the number of input maps (Mgas, Vgas, B).
const Channels = 3

// New builds the model description from a config (model, loss, train and data.size).
func New(cfg configs.Config) (*VAE, error) {
	m := cfg.Model
	if len(m.Widths) != 5 {
		return nil, fmt.Errorf("graphs: model.widths must list 5 widths, got %d", len(m.Widths))
	}
	s := int64(cfg.Data.Size)
	if s < 32 || s%32 != 0 {
		return nil, fmt.Errorf("graphs: data.size must be a multiple of 32, got %d", s)
	}
	if m.Latent <= 0 {
		return nil, fmt.Errorf("graphs: model.latent must be > 0, got %d", m.Latent)
	}
	if cfg.Loss.SSIMWindow < 3 || cfg.Loss.SSIMWindow%2 == 0 || int64(cfg.Loss.SSIMWindow) > s {
		return nil, fmt.Errorf("graphs: loss.ssim_window must be odd, >= 3 and <= %d, got %d", s, cfg.Loss.SSIMWindow)
	}
	v := &VAE{size: s, latent: int64(m.Latent), skips: m.Skips, slope: float32(m.LeakySlope),
		loss: cfg.Loss, train: cfg.Train, seed: cfg.Seed, target: TargetFor(cfg.Runtime.Provider)}
	for _, w := range m.ChannelWidths() {
		v.ch = append(v.ch, int64(w))
	}
	c := v.ch
	in := int64(Channels)
	for i := range 5 {
		v.layers = append(v.layers, layer{fmt.Sprintf("enc.conv%d", i+1), convLayer, in, c[i], 4})
		in = c[i]
	}
	flat := c[4] * (s / 32) * (s / 32)
	v.layers = append(v.layers,
		layer{"enc.fc_mu", linearLayer, flat, v.latent, 0},
		layer{"enc.fc_logvar", linearLayer, flat, v.latent, 0},
		layer{"dec.fc", linearLayer, v.latent, flat, 0})
	for i := range 4 {
		from, to := c[4-i], c[3-i]
		refineIn := to
		if v.skips {
			refineIn = 2 * to
		}
		v.layers = append(v.layers,
			layer{fmt.Sprintf("dec.up%d", i+1), convTLayer, from, to, 4},
			layer{fmt.Sprintf("dec.refine%d", i+1), convLayer, refineIn, to, 3})
	}
	v.layers = append(v.layers,
		layer{"dec.up5", convTLayer, c[0], c[0], 4},
		layer{"dec.refine5", convLayer, c[0], c[0], 3},
		layer{"dec.out", convLayer, c[0], Channels, 3})
	for _, l := range v.layers {
		v.specs = append(v.specs, ParamSpec{l.name + ".weight", l.weightShape()}, ParamSpec{l.name + ".bias", []int64{l.out}})
	}
	return v, nil
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

// Size is the input side S; Latent the latent size; Skips whether the decoder takes h1..h4.
func (v *VAE) Size() int64 { return v.size }

// Latent is the latent dimension.
func (v *VAE) Latent() int64 { return v.latent }

// Skips reports whether the decoder takes the encoder's h1..h4.
func (v *VAE) Skips() bool { return v.skips }

// SkipShapes are the per-image shapes of h1..h4 ([C,H,W]), the decoder's extra inputs.
func (v *VAE) SkipShapes() [][]int64 {
	out := make([][]int64, 4)
	for i := range 4 {
		side := v.size >> (i + 1)
		out[i] = []int64{v.ch[i], side, side}
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
// stream seeded by (seed, name), so the result depends only on the seed and the config.
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
				n = numel(l.weightShape())
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
type paramValues map[string]*Value

func (p paramValues) get(name string) *Value {
	v, ok := p[name]
	if !ok {
		panic("graphs: missing parameter " + name)
	}
	return v
}

// inputParams adds every parameter as a graph input, in Params order.
func (v *VAE) inputParams(g *Graph) paramValues {
	p := paramValues{}
	for _, s := range v.specs {
		p[s.Name] = g.Input(s.Name, s.Shape...)
	}
	return p
}

// bakedParams adds the parameters as named initializers.
func (v *VAE) bakedParams(g *Graph, data [][]float32) paramValues {
	if len(data) != len(v.specs) {
		panic(fmt.Sprintf("graphs: %d parameter tensors given, the model has %d", len(data), len(v.specs)))
	}
	p := paramValues{}
	for i, s := range v.specs {
		p[s.Name] = g.Initializer(s.Name, s.Shape, data[i])
	}
	return p
}

// apply runs one layer (with its LeakyReLU unless linear is set).
func (v *VAE) apply(g *Graph, p paramValues, name string, x *Value, linear bool) *Value {
	old := g.Scope(name)
	defer g.Scope(old)
	w, b := p.get(name+".weight"), p.get(name+".bias")
	var y *Value
	var l layer
	for _, c := range v.layers {
		if c.name == name {
			l = c
		}
	}
	switch l.kind {
	case convLayer:
		pad := (l.k - 1) / 2
		if l.k == 4 {
			y = g.Conv(x, w, b, Conv2(2, 1))
		} else {
			y = g.Conv(x, w, b, Conv2(1, pad))
		}
	case convTLayer:
		y = g.ConvTranspose(x, w, b, Conv2(2, 1))
	case linearLayer:
		y = g.Gemm(x, w, b, false, true)
	}
	if linear {
		return y
	}
	return g.LeakyRelu(y, v.slope)
}

// encode returns mu, logvar and the skip tensors h1..h4.
func (v *VAE) encode(g *Graph, p paramValues, x *Value) (mu, logvar *Value, h []*Value) {
	for i := range 5 {
		x = v.apply(g, p, fmt.Sprintf("enc.conv%d", i+1), x, false)
		if i < 4 {
			h = append(h, x)
		}
	}
	old := g.Scope("enc.flatten")
	f := g.Flatten(x, 1)
	g.Scope(old)
	mu = v.apply(g, p, "enc.fc_mu", f, true)
	logvar = v.apply(g, p, "enc.fc_logvar", f, true)
	return mu, logvar, h
}

// decode maps z (and h1..h4 when the model has skips) to the reconstruction.
func (v *VAE) decode(g *Graph, p paramValues, z *Value, h []*Value) *Value {
	x := v.apply(g, p, "dec.fc", z, false)
	side := v.size / 32
	old := g.Scope("dec.reshape")
	x = g.Reshape(x, -1, v.ch[4], side, side)
	g.Scope(old)
	for i := range 4 {
		x = v.apply(g, p, fmt.Sprintf("dec.up%d", i+1), x, false)
		if v.skips {
			old := g.Scope(fmt.Sprintf("dec.skip%d", i+1))
			x = g.Concat(1, x, h[3-i])
			g.Scope(old)
		}
		x = v.apply(g, p, fmt.Sprintf("dec.refine%d", i+1), x, false)
	}
	x = v.apply(g, p, "dec.up5", x, false)
	x = v.apply(g, p, "dec.refine5", x, false)
	return v.apply(g, p, "dec.out", x, true)
}
