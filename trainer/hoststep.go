package trainer

import (
	"context"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/graphs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/vae"
)

// stepper owns the sessions and the Go memory they run on. Parameters and Adam moments are
// double-buffered: the optimizer reads side and writes 1-side, and commit flips side.
type hostStepper struct {
	train, opt, eval *onnx.Session
	names            []string
	shapes           [][]int64
	params, m, v     [2][][]float32
	paramT, mT, vT   [2][]onnx.Value
	grads            []onnx.Value
	lossBuf          [4][]float32
	lossT            []onnx.Value
	eps              []float32
	epsT, klwT       onnx.Value
	klw, size1, eps1 []float32 // kl_weight, Adam's step_size and eps_hat
	sizeT, eps1T     onnx.Value
	adam             vae.AdamOptions
	batch, size      int64
	channels         int64
	side             int
	steps            int // optimizer runs, for traffic
	owned            []onnx.Value
}

// newHostStepper builds the three training artifacts, writes them to artifactDir (when not
// empty) for inspection and reuse by other tools, and loads them. It is long because it builds,
// writes and loads three artifacts and the tensors they bind.
func newHostStepper(model *vae.VAE, cfg configs.Config, t *Tensors, artifactDir string) (s *hostStepper, err error) {
	s = &hostStepper{names: t.Names, shapes: t.Shapes, batch: int64(cfg.Train.Batch), size: model.Options().Size, channels: model.Options().Channels,
		klw: []float32{0}, size1: []float32{0}, eps1: []float32{0}, adam: model.Options().Adam}
	built := s // the returns below set s to nil; on an error, free what was made
	defer func() {
		if err != nil {
			built.destroy()
		}
	}()
	ts, err := model.TrainStep(cfg.Train.Batch)
	if err != nil {
		return nil, err
	}
	op, err := model.Optimizer()
	if err != nil {
		return nil, err
	}
	ev, err := model.EvalStep(0)
	if err != nil {
		return nil, err
	}
	if err := writeArtifacts(artifactDir, ts, ev, op); err != nil {
		return nil, err
	}
	if s.train, err = sessionOf(ts, cfg.Runtime); err != nil {
		return nil, err
	}
	if s.opt, err = sessionOf(op, cfg.Runtime); err != nil {
		return nil, err
	}
	if s.eval, err = sessionOf(ev, cfg.Runtime); err != nil {
		return nil, err
	}
	mk := func(shape []int64, data []float32) (onnx.Value, error) {
		v, err := onnx.NewTensor(shape, data)
		if err == nil {
			s.owned = append(s.owned, v)
		}
		return v, err
	}
	for side := range 2 {
		for i, shape := range t.Shapes {
			n := len(t.Params[i])
			p, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
			if side == 0 {
				copy(p, t.Params[i])
				copy(m, t.M[i])
				copy(v, t.V[i])
			}
			s.params[side] = append(s.params[side], p)
			s.m[side] = append(s.m[side], m)
			s.v[side] = append(s.v[side], v)
			for _, pair := range []struct {
				dst  *[]onnx.Value
				data []float32
			}{{&s.paramT[side], p}, {&s.mT[side], m}, {&s.vT[side], v}} {
				tv, err := mk(shape, pair.data)
				if err != nil {
					return nil, err
				}
				*pair.dst = append(*pair.dst, tv)
			}
		}
	}
	for i, shape := range t.Shapes {
		g, err := mk(shape, make([]float32, len(t.Params[i])))
		if err != nil {
			return nil, err
		}
		s.grads = append(s.grads, g)
	}
	for i := range s.lossBuf {
		s.lossBuf[i] = []float32{0}
		lt, err := mk([]int64{1}, s.lossBuf[i])
		if err != nil {
			return nil, err
		}
		s.lossT = append(s.lossT, lt)
	}
	s.eps = make([]float32, s.batch*model.Options().Latent)
	if s.epsT, err = mk([]int64{s.batch, model.Options().Latent}, s.eps); err != nil {
		return nil, err
	}
	if s.klwT, err = mk([]int64{1}, s.klw); err != nil {
		return nil, err
	}
	if s.sizeT, err = mk([]int64{1}, s.size1); err != nil {
		return nil, err
	}
	if s.eps1T, err = mk([]int64{1}, s.eps1); err != nil {
		return nil, err
	}
	return s, nil
}

// step runs train_step on x at the current parameters and, when the loss is finite, the
// optimizer into the other buffer (commit makes it current).
func (s *hostStepper) step(x []float32, step int, klw float64, cfg configs.Config) (Terms, error) {
	xt, err := onnx.NewTensor([]int64{s.batch, s.channels, s.size, s.size}, x)
	if err != nil {
		return Terms{}, err
	}
	defer xt.Destroy()
	noise(s.eps, cfg.Seed, step)
	s.klw[0] = float32(klw)
	in := append(append([]onnx.Value{}, s.paramT[s.side]...), xt, s.epsT, s.klwT)
	out := append(append([]onnx.Value{}, s.lossT...), s.grads...)
	if err := s.train.Run(in, out); err != nil {
		return Terms{}, err
	}
	terms := s.terms()
	if !terms.finite() {
		return terms, nil
	}
	s.size1[0], s.eps1[0] = vae.AdamScalars(s.adam, cfg.Train.LR, step)
	o := 1 - s.side
	in = append(append(append(append([]onnx.Value{}, s.paramT[s.side]...), s.grads...), s.mT[s.side]...), s.vT[s.side]...)
	in = append(in, s.sizeT, s.eps1T)
	out = append(append(append([]onnx.Value{}, s.paramT[o]...), s.mT[o]...), s.vT[o]...)
	if err := s.opt.Run(in, out); err != nil {
		return Terms{}, err
	}
	s.steps++
	return terms, nil
}

// writeArtifacts writes the graphs a runner loads into dir (when not empty), for inspection
// and reuse by other tools.
func writeArtifacts(dir string, arts ...graphs.Artifact) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, a := range arts {
		if err := formats.WriteFile(filepath.Join(dir, a.Name), a.Model); err != nil {
			return err
		}
	}
	return nil
}

// commit makes the optimizer's output the current parameters.
func (s *hostStepper) commit() { s.side = 1 - s.side }

func (s *hostStepper) terms() Terms {
	// The graph reports mean SSIM; the objective uses 1-SSIM. Terms keep SSIM itself.
	return Terms{Total: float64(s.lossBuf[0][0]), MSE: float64(s.lossBuf[1][0]),
		SSIM: float64(s.lossBuf[2][0]), KL: float64(s.lossBuf[3][0])}
}

// evaluate runs eval_step (z = mu) over the feed's first epoch order and returns the
// image-weighted mean loss terms.
func (s *hostStepper) evaluate(ctx context.Context, f Feed, klw float64) (Terms, error) {
	s.klw[0] = float32(klw)
	return evalFeed(ctx, f, func(x []float32, n int) (Terms, error) {
		xt, err := onnx.NewTensor([]int64{int64(n), s.channels, s.size, s.size}, x)
		if err != nil {
			return Terms{}, err
		}
		defer xt.Destroy()
		in := append(append([]onnx.Value{}, s.paramT[s.side]...), xt, s.klwT)
		out := make([]onnx.Value, len(s.eval.Outputs))
		copy(out, s.lossT)
		defer onnx.DestroyAll(out[len(s.lossT):])
		err = s.eval.Run(in, out) // before s.terms(), which reads the loss outputs
		return s.terms(), err
	})
}

// tensors is the current state for a checkpoint (no copy: the caller writes it out before
// the next step).
func (s *hostStepper) tensors() (*Tensors, error) {
	return &Tensors{Names: s.names, Shapes: s.shapes, Params: s.params[s.side], M: s.m[s.side], V: s.v[s.side]}, nil
}

// traffic counts what a GPU provider copies for this runner's host-memory tensors: every
// input and output of both graphs, each step. On the CPU provider nothing is copied.
func (s *hostStepper) traffic() (onnx.Traffic, int) {
	if s.train.Provider == "cpu" {
		return onnx.Traffic{}, s.steps
	}
	var state int64
	for _, p := range s.params[0] {
		state += 4 * int64(len(p))
	}
	x := 4 * s.batch * s.channels * s.size * s.size
	perStep := onnx.Traffic{
		// train: params, x, eps, kl_weight in; optimizer: params, grads, m, v, step, lr in.
		ToDevice: state + x + 4*int64(len(s.eps)) + 4 + 4*state + 8,
		// train: 4 loss terms and the gradients out; optimizer: params, m, v out.
		ToHost: 16 + state + 3*state,
	}
	return onnx.Traffic{ToDevice: perStep.ToDevice * int64(s.steps), ToHost: perStep.ToHost * int64(s.steps)}, s.steps
}

func (s *hostStepper) destroy() {
	onnx.DestroyAll(s.owned)
	s.owned = nil
	for _, ss := range []*onnx.Session{s.train, s.opt, s.eval} {
		ss.Destroy()
	}
}
