package trainer

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/vae"
)

// stepRunner runs training steps: on host memory (hostStepper, the CPU provider) or with
// the model state in device memory (deviceStepper, GPU providers).
type stepRunner interface {
	// step runs one training step on x; the update becomes current at commit.
	step(x []float32, step int, klw float64, cfg configs.Config) (Terms, error)
	commit()
	evaluate(ctx context.Context, f Feed, klw float64) (Terms, error)
	// tensors is the current state on the host, valid until the next step.
	tensors() (*Tensors, error)
	// traffic is the bytes copied between host and device so far, and the steps taken.
	traffic() (onnx.Traffic, int)
	destroy()
}

// onDevice is what a stepRunner that keeps the state on a device also offers.
type onDevice interface {
	// describe logs the device and where step.onnx's nodes run, and returns those off it.
	describe(w io.Writer, rt configs.Runtime) []string
	// reportTraffic logs the bytes copied per step.
	reportTraffic(w io.Writer)
	// sync waits for the device's queued work.
	sync(rt configs.Runtime) error
}

// newStepRunner picks the step runner for the configured provider: a GPU provider keeps the
// parameters and Adam moments on the device and runs the fused step graph.
func newStepRunner(model *vae.VAE, cfg configs.Config, t *Tensors, artifactDir string) (stepRunner, error) {
	if cfg.Runtime.Provider == "cpu" {
		return newHostStepper(model, cfg, t, artifactDir)
	}
	return newDeviceStepper(model, cfg, t, artifactDir)
}

// deviceStepper runs step.onnx (train step and Adam fused) through IO binding: parameters and
// moments are device values that each step's outputs replace, so per step only the batch,
// the noise and a few scalars go to the device and four loss terms come back.
type deviceStepper struct {
	fused, eval *onnx.Bound
	reader      *onnx.Reader
	names       []string
	shapes      [][]int64
	n           int                // parameter tensors
	init        []*onnx.HostTensor // the starting state (3n: params, m, v)
	cur         []onnx.Arg         // current state, 3n
	pending     []*onnx.DeviceValue
	host        []*onnx.HostTensor // readback buffers, 3n
	x, eps      *onnx.HostTensor
	klw         *onnx.HostTensor
	size1, eps1 *onnx.HostTensor // Adam's step_size and eps_hat
	adam        vae.AdamOptions
	loss        [4]*onnx.HostTensor
	evalX       map[int]*onnx.HostTensor
	batch, size int64
	channels    int64
	latent      int64
	steps       int
	model       []byte // step.onnx, for the placement check
	syncRd      *onnx.Reader
	syncH       *onnx.HostTensor
}

func newDeviceStepper(model *vae.VAE, cfg configs.Config, t *Tensors, artifactDir string) (s *deviceStepper, err error) {
	s = &deviceStepper{names: t.Names, shapes: t.Shapes, n: len(t.Names), batch: int64(cfg.Train.Batch),
		size: model.Options().Size, channels: model.Options().Channels, latent: model.Options().Latent, adam: model.Options().Adam, evalX: map[int]*onnx.HostTensor{}}
	built := s // the returns below set s to nil; on an error, free what was made
	defer func() {
		if err != nil {
			built.destroy()
		}
	}()
	fs, err := model.FusedStep(cfg.Train.Batch)
	if err != nil {
		return nil, err
	}
	ev, err := model.EvalStep(0)
	if err != nil {
		return nil, err
	}
	if err := writeArtifacts(artifactDir, fs, ev); err != nil {
		return nil, err
	}
	s.model = fs.Model
	if s.fused, err = onnx.NewBound(fs.Model, fs.Inputs, fs.Outputs, cfg.Runtime); err != nil {
		return nil, fmt.Errorf("%s: %w", fs.Name, err)
	}
	if s.eval, err = onnx.NewBound(ev.Model, ev.Inputs, ev.Outputs, cfg.Runtime); err != nil {
		return nil, fmt.Errorf("%s: %w", ev.Name, err)
	}
	all := append(append(append([][]int64{}, t.Shapes...), t.Shapes...), t.Shapes...)
	if s.reader, err = onnx.NewReader(all, cfg.Runtime); err != nil {
		return nil, err
	}
	src := append(append(append([][]float32{}, t.Params...), t.M...), t.V...)
	for i, shape := range all {
		h, err := onnx.NewHostTensor(shape)
		if err != nil {
			return nil, err
		}
		copy(h.Data, src[i])
		s.init = append(s.init, h)
		s.cur = append(s.cur, h)
		if h, err = onnx.NewHostTensor(shape); err != nil {
			return nil, err
		}
		s.host = append(s.host, h)
	}
	for _, b := range []struct {
		dst   **onnx.HostTensor
		shape []int64
	}{
		{&s.x, []int64{s.batch, s.channels, s.size, s.size}}, {&s.eps, []int64{s.batch, s.latent}},
		{&s.klw, []int64{1}}, {&s.size1, []int64{1}}, {&s.eps1, []int64{1}},
		{&s.loss[0], []int64{1}}, {&s.loss[1], []int64{1}}, {&s.loss[2], []int64{1}}, {&s.loss[3], []int64{1}},
	} {
		if *b.dst, err = onnx.NewHostTensor(b.shape); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *deviceStepper) step(x []float32, step int, klw float64, cfg configs.Config) (Terms, error) {
	if len(x) != len(s.x.Data) {
		return Terms{}, fmt.Errorf("batch has %d values, the step graph takes %d", len(x), len(s.x.Data))
	}
	copy(s.x.Data, x)
	noise(s.eps.Data, cfg.Seed, step)
	s.klw.Data[0] = float32(klw)
	s.size1.Data[0], s.eps1.Data[0] = vae.AdamScalars(s.adam, cfg.Train.LR, step)
	onnx.ReleaseValues(s.pending) // an uncommitted step (non-finite loss) is dropped
	s.pending = nil
	in := append(append([]onnx.Arg{}, s.cur...), s.x, s.eps, s.klw, s.size1, s.eps1)
	out, err := s.fused.Run(in, s.loss[:])
	if err != nil {
		return Terms{}, err
	}
	s.pending = out[len(s.loss):]
	s.steps++
	return s.terms(), nil
}

func (s *deviceStepper) terms() Terms {
	return Terms{Total: float64(s.loss[0].Data[0]), MSE: float64(s.loss[1].Data[0]),
		SSIM: float64(s.loss[2].Data[0]), KL: float64(s.loss[3].Data[0])}
}

// commit makes the pending state current and returns the old state's device memory.
func (s *deviceStepper) commit() {
	if s.pending == nil {
		return
	}
	for i, a := range s.cur {
		if d, ok := a.(*onnx.DeviceValue); ok {
			d.Release()
		}
		s.cur[i] = s.pending[i]
	}
	s.pending = nil
}

func (s *deviceStepper) evaluate(ctx context.Context, f Feed, klw float64) (Terms, error) {
	s.klw.Data[0] = float32(klw)
	return evalFeed(ctx, f, func(x []float32, n int) (Terms, error) {
		xt := s.evalX[n]
		if xt == nil {
			var err error
			if xt, err = onnx.NewHostTensor([]int64{int64(n), s.channels, s.size, s.size}); err != nil {
				return Terms{}, err
			}
			s.evalX[n] = xt
		}
		copy(xt.Data, x)
		in := append(append([]onnx.Arg{}, s.cur[:s.n]...), xt, s.klw)
		out, err := s.eval.Run(in, s.loss[:])
		onnx.ReleaseValues(out) // recon, mu, logvar stay on the device, unused
		return s.terms(), err
	})
}

func (s *deviceStepper) tensors() (*Tensors, error) {
	if err := s.reader.Read(s.cur, s.host); err != nil {
		return nil, fmt.Errorf("reading the model state from the device: %w", err)
	}
	data := make([][]float32, len(s.host))
	for i, h := range s.host {
		data[i] = h.Data
	}
	return &Tensors{Names: s.names, Shapes: s.shapes, Params: data[:s.n], M: data[s.n : 2*s.n], V: data[2*s.n:]}, nil
}

func (s *deviceStepper) traffic() (onnx.Traffic, int) {
	t := s.fused.Traffic
	return t, s.steps
}

// describe logs the device the provider runs on and where step.onnx's nodes ran (one
// profiled run on zeros): a node on the CPU costs copies each step. It returns those nodes.
func (s *deviceStepper) describe(w io.Writer, rt configs.Runtime) []string {
	if s.fused.Provider == "webgpu" {
		if a, err := onnx.VulkanAdapters(); err == nil {
			fmt.Fprintf(w, "webgpu: adapter %s\n", a[0])
		} else {
			fmt.Fprintf(w, "webgpu: adapter unknown (%v)\n", err)
		}
	}
	r := rt
	r.Provider = s.fused.Provider
	p, err := onnx.PlacementOf(s.model, r)
	if err != nil {
		fmt.Fprintf(w, "%s: placement check failed: %v\n", r.Provider, err)
		return nil
	}
	off := p.Off(r.Provider)
	if len(off) > 0 {
		fmt.Fprintf(w, "%s: %d of step.onnx's nodes run elsewhere (each costs copies): %s\n", r.Provider, len(off), strings.Join(off, ", "))
	} else {
		fmt.Fprintf(w, "%s: all %d nodes of step.onnx run on the device; parameters and Adam moments stay there\n", r.Provider, p.Count(r.Provider))
	}
	return off
}

// reportTraffic logs the bytes bound between host and device per training step.
func (s *deviceStepper) reportTraffic(w io.Writer) {
	t, n := s.traffic()
	if n == 0 || s.fused.Provider == "cpu" {
		return
	}
	fmt.Fprintf(w, "%s: host to device %.2f MB per step, device to host %d bytes per step (%d steps)\n",
		s.fused.Provider, float64(t.ToDevice)/float64(n)/1e6, t.ToHost/int64(n), n)
}

// sync waits until the device has finished the last step: it copies the last state tensor
// (the last the step writes) to the host, which the device's in-order queue serves only
// after all earlier work. The first call prepares the copy.
func (s *deviceStepper) sync(rt configs.Runtime) error {
	last := len(s.cur) - 1
	if s.syncRd == nil {
		r := rt
		r.Provider = s.fused.Provider
		var err error
		if s.syncRd, err = onnx.NewReader([][]int64{s.shapes[last%s.n]}, r); err != nil {
			return err
		}
		if s.syncH, err = onnx.NewHostTensor(s.shapes[last%s.n]); err != nil {
			return err
		}
	}
	return s.syncRd.Read(s.cur[last:], []*onnx.HostTensor{s.syncH})
}

// releaseState returns the state's device memory and makes the host copies it started
// from current again.
func (s *deviceStepper) releaseState() {
	onnx.ReleaseValues(s.pending)
	s.pending = nil
	for i, a := range s.cur {
		if d, ok := a.(*onnx.DeviceValue); ok {
			d.Release()
		}
		s.cur[i] = s.init[i]
	}
}

func (s *deviceStepper) destroy() {
	s.releaseState()
	for _, h := range append(append(append([]*onnx.HostTensor{}, s.init...), s.host...), s.x, s.eps, s.klw, s.size1, s.eps1) {
		h.Destroy()
	}
	for _, h := range s.loss {
		h.Destroy()
	}
	for _, h := range s.evalX {
		h.Destroy()
	}
	s.syncH.Destroy()
	s.syncRd.Destroy()
	s.fused.Destroy()
	s.eval.Destroy()
	s.reader.Destroy()
}
