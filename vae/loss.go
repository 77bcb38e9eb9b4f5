package vae

import (
	"math"

	"github.com/camelsvae/camelsvae/graphs"
)

// Losses are the scalar terms of the objective, each of shape [] inside the graph.
type Losses struct {
	Total, MSE, SSIM, KL *graphs.Value
}

// gaussian1D is the normalised Gaussian of size taps and deviation sigma (scikit-image's
// window: truncate 3.5 gives 11 taps at sigma 1.5).
func gaussian1D(taps int, sigma float64) []float32 {
	r := taps / 2
	w := make([]float64, taps)
	var s float64
	for i := range w {
		d := float64(i - r)
		w[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += w[i]
	}
	out := make([]float32, taps)
	for i := range w {
		out[i] = float32(w[i] / s)
	}
	return out
}

// blur is the valid-region Gaussian filter of each channel of x, as two depthwise
// convolutions (1 x w, then w x 1).
func (v *VAE) blur(g *graphs.Graph, x *graphs.Value) *graphs.Value {
	w := v.o.Loss.SSIMWindow
	k := gaussian1D(w, v.o.Loss.SSIMSigma)
	c := x.Shape()[1]
	row := make([]float32, 0, int(c)*w)
	for range c {
		row = append(row, k...)
	}
	kh := g.Const([]int64{c, 1, 1, int64(w)}, row)
	kv := g.Const([]int64{c, 1, int64(w), 1}, row)
	y := g.Conv(x, kh, nil, graphs.ConvOpts{Group: c})
	return g.Conv(y, kv, nil, graphs.ConvOpts{Group: c})
}

// ssim is the mean SSIM over the valid region, channels and batch, as scikit-image's
// structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
// data_range=R) averages it per image: C1 = (0.01 R)^2, C2 = (0.03 R)^2.
func (v *VAE) ssim(g *graphs.Graph, x, y *graphs.Value) *graphs.Value {
	r := v.o.Loss.DataRange
	c1 := g.Scalar(float32((0.01 * r) * (0.01 * r)))
	c2 := g.Scalar(float32((0.03 * r) * (0.03 * r)))
	two := g.Scalar(2)
	mx, my := v.blur(g, x), v.blur(g, y)
	exx, eyy, exy := v.blur(g, g.Mul(x, x)), v.blur(g, g.Mul(y, y)), v.blur(g, g.Mul(x, y))
	mxmy := g.Mul(mx, my)
	mx2, my2 := g.Mul(mx, mx), g.Mul(my, my)
	sxx, syy, sxy := g.Sub(exx, mx2), g.Sub(eyy, my2), g.Sub(exy, mxmy)
	num := g.Mul(g.Add(g.Mul(two, mxmy), c1), g.Add(g.Mul(two, sxy), c2))
	den := g.Mul(g.Add(g.Add(mx2, my2), c1), g.Add(g.Add(sxx, syy), c2))
	return g.Mean(g.Div(num, den))
}

// losses builds total = w_mse*MSE + w_ssim*(1-SSIM) + kl_weight*KL with free bits:
// KL = sum_d max(lambda, mean_batch(-0.5 (1 + logvar - mu^2 - exp(logvar)))).
func (v *VAE) losses(g *graphs.Graph, x, recon, mu, logvar, klWeight *graphs.Value) Losses {
	old := g.Scope("loss.mse")
	d := g.Sub(recon, x)
	mse := g.Mean(g.Mul(d, d))
	g.Scope("loss.ssim")
	ssim := v.ssim(g, x, recon)
	g.Scope("loss.kl")
	one := g.Scalar(1)
	t := g.Sub(g.Add(one, logvar), g.Add(g.Mul(mu, mu), g.Exp(logvar)))
	kld := g.Mul(g.ReduceMean(t, []int64{0}, false), g.Scalar(-0.5))
	kl := g.ReduceSum(g.Max(kld, g.Scalar(float32(v.o.Loss.FreeBits))), []int64{0}, false)
	g.Scope("loss.total")
	total := g.Add(
		g.Add(g.Mul(g.Scalar(float32(v.o.Loss.MSEWeight)), mse), g.Mul(g.Scalar(float32(v.o.Loss.SSIMWeight)), g.Sub(one, ssim))),
		g.Mul(klWeight, kl))
	g.Scope(old)
	return Losses{Total: total, MSE: mse, SSIM: ssim, KL: kl}
}
