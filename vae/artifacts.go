package vae

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/graphs"
)

// Names of the artifacts' non-parameter inputs and outputs. Scalars cross the graph
// boundary with shape [1].
const (
	InX        = "x"         // [B,3,S,S] normalised maps
	InEps      = "eps"       // [B,L] standard normal noise of the reparameterisation
	InKLWeight = "kl_weight" // [1] the warmed-up beta
	InZ        = "z"         // decoder input [N,L]
	InStepSize = "step_size" // [1] Adam's step size lr·sqrt(1-b2^t)/(1-b1^t) (AdamScalars)
	InEpsHat   = "eps_hat"   // [1] Adam's eps·sqrt(1-b2^t) (AdamScalars)
	OutLoss    = "loss"      // [1] total loss
	OutMSE     = "mse"       // [1]
	OutSSIM    = "ssim"      // [1] mean SSIM (not 1-SSIM)
	OutKL      = "kl"        // [1] free-bits KL
	OutRecon   = "recon"     // [B,3,S,S]
	OutMu      = "mu"        // [B,L]
	OutLogvar  = "logvar"    // [B,L]
)

// Prefixes of per-parameter names: train_step outputs GradPrefix+name; the optimizer takes
// name, GradPrefix+name, MPrefix+name, VPrefix+name and returns NewPrefix+name,
// NewMPrefix+name, NewVPrefix+name.
const (
	GradPrefix = "grad."
	MPrefix    = "m."
	VPrefix    = "v."
	NewPrefix  = "new."
	NewMPrefix = "new_m."
	NewVPrefix = "new_v."
)

// SkipName is the name of skip tensor i (1..4), an encoder output and decoder input when the
// model has skips.
func SkipName(i int) string { return fmt.Sprintf("h%d", i) }

// Artifact is one serialised model with its input and output names in order.
type Artifact = graphs.Artifact

func finish(name string, g *graphs.Graph) (Artifact, error) { return g.Artifact(name) }

// TrainStep builds train_step.onnx for a static batch size: inputs are every parameter (by
// name, in Params order), x [batch,3,S,S], eps [batch,L] and kl_weight [1]; outputs loss,
// mse, ssim, kl ([1] each) and grad.<name> for every parameter, in Params order. The batch is
// static because fixed shapes let ORT plan memory and pick kernels once; a trainer with a
// short last batch builds a second TrainStep for that size (or drops it).
func (v *VAE) TrainStep(batch int) (Artifact, error) {
	if batch <= 0 {
		panic(fmt.Sprintf("vae: TrainStep batch must be > 0, got %d", batch))
	}
	g := v.newGraph("train_step")
	l, _, grads, err := v.trainGraph(g, v.inputParams(g), int64(batch))
	if err != nil {
		return Artifact{}, fmt.Errorf("train_step: %w", err)
	}
	v.lossOutputs(g, l)
	for i, s := range v.specs {
		g.Output(GradPrefix+s.Name, grads[i])
	}
	return finish("train_step.onnx", g)
}

// trainGraph adds x, eps and kl_weight, the forward pass with z = mu + exp(logvar/2)·eps, the
// losses, and the gradients of the total with respect to p (returned in Params order with p).
func (v *VAE) trainGraph(g *graphs.Graph, p paramValues, b int64) (Losses, []*graphs.Value, []*graphs.Value, error) {
	x := g.Input(InX, b, v.o.Channels, v.o.Size, v.o.Size)
	eps := g.Input(InEps, b, v.o.Latent)
	klw := g.Input(InKLWeight, 1)
	mu, logvar, h := v.encode(g, p, x)
	old := g.Scope("reparam")
	z := g.Add(mu, g.Mul(g.Exp(g.Mul(logvar, g.Scalar(0.5))), eps))
	g.Scope(old)
	recon := v.decode(g, p, z, h)
	l := v.losses(g, x, recon, mu, logvar, klw)
	wrt := make([]*graphs.Value, len(v.specs))
	for i, s := range v.specs {
		wrt[i] = p[s.Name]
	}
	grads, err := g.Grad(l.Total, wrt)
	return l, wrt, grads, err
}

// newGraph starts a graph lowered for the provider the config runs on.
func (v *VAE) newGraph(name string) *graphs.Graph {
	g := graphs.NewGraph(name)
	g.Target = v.o.Target
	return g
}

func (v *VAE) lossOutputs(g *graphs.Graph, l Losses) {
	g.Output(OutLoss, l.Total)
	g.Output(OutMSE, l.MSE)
	g.Output(OutSSIM, l.SSIM)
	g.Output(OutKL, l.KL)
}

// EvalStep builds eval_step.onnx: parameters, x and kl_weight in; loss, mse, ssim, kl,
// recon, mu and logvar out, with the deterministic z = mu. batch 0 gives a dynamic batch
// dimension "N" (any batch size, losses averaged over it).
func (v *VAE) EvalStep(batch int) (Artifact, error) {
	b := int64(batch)
	if batch <= 0 {
		b = -1
	}
	g := v.newGraph("eval_step")
	p := v.inputParams(g)
	x := g.Input(InX, b, v.o.Channels, v.o.Size, v.o.Size)
	klw := g.Input(InKLWeight, 1)
	mu, logvar, h := v.encode(g, p, x)
	recon := v.decode(g, p, mu, h)
	l := v.losses(g, x, recon, mu, logvar, klw)
	v.lossOutputs(g, l)
	g.Output(OutRecon, recon)
	g.Output(OutMu, mu)
	g.Output(OutLogvar, logvar)
	return finish("eval_step.onnx", g)
}

// Optimizer builds optimizer.onnx, one Adam step as torch.optim.Adam takes it:
//
//	m' = b1 m + (1-b1) g;  v' = b2 v + (1-b2) g²
//	p' = p - lr/(1-b1^t) · m' / (sqrt(v')/sqrt(1-b2^t) + eps)
//	   = p - step_size · m' / (sqrt(v') + eps_hat)
//
// with step_size and eps_hat computed on the host in float64 (AdamScalars), as torch computes
// its bias corrections in Python floats. Inputs: every parameter <name>, then grad.<name>,
// m.<name>, v.<name> (each group in Params order), step_size [1] and eps_hat [1]. Outputs:
// new.<name>, new_m.<name>, new_v.<name>, grouped the same way. The betas come from Options.
func (v *VAE) Optimizer() (Artifact, error) {
	g := v.newGraph("optimizer")
	n := len(v.specs)
	ps, gs := make([]*graphs.Value, n), make([]*graphs.Value, n)
	for i, s := range v.specs {
		ps[i] = g.Input(s.Name, s.Shape...)
	}
	for i, s := range v.specs {
		gs[i] = g.Input(GradPrefix+s.Name, s.Shape...)
	}
	ms, vs := v.momentInputs(g)
	v.adam(g, ps, gs, ms, vs, g.Input(InStepSize, 1), g.Input(InEpsHat, 1))
	return finish("optimizer.onnx", g)
}

// AdamScalars are optimizer.onnx's and step.onnx's step_size and eps_hat for step t (1-based)
// at learning rate lr: the bias corrections 1-b^t in float64, as torch.optim.Adam computes
// them (in float32, float32(0.999) = 0.99900001287 made updates 6.5e-6 to 9e-6 smaller at
// steps 1-5), moved into the two scalars so that the graph passes over the tensors once.
func AdamScalars(o AdamOptions, lr float64, t int) (stepSize, epsHat float32) {
	bc1 := 1 - math.Pow(o.Beta1, float64(t))
	bc2 := math.Sqrt(1 - math.Pow(o.Beta2, float64(t)))
	return float32(lr * bc2 / bc1), float32(o.Eps * bc2)
}

// momentInputs adds the inputs m.<name> then v.<name>, each group in Params order.
func (v *VAE) momentInputs(g *graphs.Graph) (ms, vs []*graphs.Value) {
	for _, s := range v.specs {
		ms = append(ms, g.Input(MPrefix+s.Name, s.Shape...))
	}
	for _, s := range v.specs {
		vs = append(vs, g.Input(VPrefix+s.Name, s.Shape...))
	}
	return ms, vs
}

// adam adds one Adam step and the outputs new.<name>, new_m.<name>, new_v.<name>.
func (v *VAE) adam(g *graphs.Graph, ps, gs, ms, vs []*graphs.Value, stepSize, eps *graphs.Value) {
	n := len(v.specs)
	b1, b2 := float32(v.o.Adam.Beta1), float32(v.o.Adam.Beta2)
	old := g.Scope("adam")
	defer g.Scope(old)
	np, nm, nv := make([]*graphs.Value, n), make([]*graphs.Value, n), make([]*graphs.Value, n)
	for i, s := range v.specs {
		g.Scope("adam." + s.Name)
		// torch: m.mul_(b1).add_(g, alpha=1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2), with
		// 1-b computed in float64 as Python does.
		nm[i] = g.Add(g.Mul(ms[i], g.Scalar(b1)), g.Mul(gs[i], g.Scalar(float32(1-v.o.Adam.Beta1))))
		nv[i] = g.Add(g.Mul(vs[i], g.Scalar(b2)), g.Mul(g.Mul(gs[i], g.Scalar(float32(1-v.o.Adam.Beta2))), gs[i]))
		denom := g.Add(g.Sqrt(nv[i]), eps)
		np[i] = g.Sub(ps[i], g.Div(g.Mul(nm[i], stepSize), denom))
	}
	g.Scope("")
	for i, s := range v.specs {
		g.Output(NewPrefix+s.Name, np[i])
	}
	for i, s := range v.specs {
		g.Output(NewMPrefix+s.Name, nm[i])
	}
	for i, s := range v.specs {
		g.Output(NewVPrefix+s.Name, nv[i])
	}
}

// FusedStep builds step.onnx, train_step and the optimizer in one graph, so that one run
// takes a whole training step and the gradients never leave the runtime: the graph an
// accelerator wants, where parameters and moments can stay in device memory between runs.
// Inputs: every parameter, m.<name>, v.<name>, x, eps, kl_weight, step_size, eps_hat. Outputs: loss,
// mse, ssim, kl, then new.<name>, new_m.<name>, new_v.<name> as Optimizer's.
func (v *VAE) FusedStep(batch int) (Artifact, error) {
	if batch <= 0 {
		panic(fmt.Sprintf("vae: FusedStep batch must be > 0, got %d", batch))
	}
	g := v.newGraph("step")
	p := v.inputParams(g)
	ms, vs := v.momentInputs(g)
	l, ps, grads, err := v.trainGraph(g, p, int64(batch))
	if err != nil {
		return Artifact{}, fmt.Errorf("step: %w", err)
	}
	v.lossOutputs(g, l)
	v.adam(g, ps, grads, ms, vs, g.Input(InStepSize, 1), g.Input(InEpsHat, 1))
	return finish("step.onnx", g)
}

// Encoder builds encoder.onnx with the weights baked in: x [N,3,S,S] -> mu, logvar [N,L],
// plus h1..h4 when the model has skips (the decoder needs them). meta is recorded in the
// model's metadata_props (e.g. the normalisation statistics).
func (v *VAE) Encoder(params [][]float32, meta map[string]string) (Artifact, error) {
	g := v.newGraph("encoder")
	p := v.bakedParams(g, params)
	x := g.Input(InX, -1, v.o.Channels, v.o.Size, v.o.Size)
	mu, logvar, h := v.encode(g, p, x)
	g.Output(OutMu, mu)
	g.Output(OutLogvar, logvar)
	if v.o.Skips {
		for i, hv := range h {
			g.Output(SkipName(i+1), hv)
		}
	}
	v.meta(g, meta)
	return finish("encoder.onnx", g)
}

// Decoder builds decoder.onnx with the weights baked in: z [N,L] (and h1..h4 [N,C_i,S/2^i,
// S/2^i] when the model has skips) -> recon [N,3,S,S].
func (v *VAE) Decoder(params [][]float32, meta map[string]string) (Artifact, error) {
	g := v.newGraph("decoder")
	p := v.bakedParams(g, params)
	z := g.Input(InZ, -1, v.o.Latent)
	var h []*graphs.Value
	if v.o.Skips {
		for i, s := range v.SkipShapes() {
			h = append(h, g.Input(SkipName(i+1), append([]int64{-1}, s...)...))
		}
	}
	g.Output(OutRecon, v.decode(g, p, z, h))
	v.meta(g, meta)
	return finish("decoder.onnx", g)
}

func (v *VAE) meta(g *graphs.Graph, meta map[string]string) {
	for k, val := range meta {
		g.Meta[k] = val
	}
	g.Meta["camelsvae.size"] = fmt.Sprint(v.o.Size)
	g.Meta["camelsvae.latent"] = fmt.Sprint(v.o.Latent)
	g.Meta["camelsvae.skips"] = fmt.Sprint(v.o.Skips)
}

// Artifacts builds all six artifacts: train_step (static batch), eval_step (dynamic batch),
// optimizer, the encoder and decoder with params baked in and meta recorded, and step
// (train_step and optimizer fused, what GPU providers run).
func (v *VAE) Artifacts(batch int, params [][]float32, meta map[string]string) ([]Artifact, error) {
	var out []Artifact
	for _, f := range []func() (Artifact, error){
		func() (Artifact, error) { return v.TrainStep(batch) },
		func() (Artifact, error) { return v.EvalStep(0) },
		v.Optimizer,
		func() (Artifact, error) { return v.Encoder(params, meta) },
		func() (Artifact, error) { return v.Decoder(params, meta) },
		func() (Artifact, error) { return v.FusedStep(batch) },
	} {
		a, err := f()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// WriteArtifacts writes the six artifacts into dir (created if needed), each through a
// temporary file renamed into place, so no half-written model is left behind. It returns
// the names written.
func (v *VAE) WriteArtifacts(dir string, batch int, params [][]float32, meta map[string]string) ([]string, error) {
	arts, err := v.Artifacts(batch, params, meta)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	var names []string
	for _, a := range arts {
		if err := formats.WriteFile(filepath.Join(dir, a.Name), a.Model); err != nil {
			return nil, fmt.Errorf("vae: %w", err)
		}
		names = append(names, a.Name)
	}
	return names, nil
}
