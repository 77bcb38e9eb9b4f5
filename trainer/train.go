// Package trainer runs the study's training procedure on ONNX Runtime: epochs over a
// deterministic feed, the KL warm-up, validation after each epoch, early stopping, atomic
// checkpoints with resume, a metrics log and progress.
//
// A step is two ONNX Runtime calls: train_step.onnx (loss terms and every gradient) then
// optimizer.onnx (Adam). Parameters and moments live in Go memory, in two buffers that the
// optimizer alternates between, so no tensor is copied on the CPU provider.
//
// Invariants: the run is a function of the config alone. Batch order comes from the feed
// (seeded by the epoch), the reparameterisation noise from (seed, step), so a resumed run
// continues with exactly the numbers an uninterrupted one would have produced.
package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/graphs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/vae"
)

// ArtifactsDir is where a run keeps train_step.onnx, eval_step.onnx and optimizer.onnx.
const ArtifactsDir = "artifacts"

// ErrInterrupted reports that the context was cancelled and a checkpoint was written.
var ErrInterrupted = errors.New("training interrupted; checkpoint written")

// Feed streams the batches of one epoch in an order fixed by the epoch number. fn gets the
// batch as [n,3,S,S] float32, valid only during the call. The first skip batches are passed
// over without calling fn (resuming in the middle of an epoch).
type Feed interface {
	Epoch(ctx context.Context, epoch, skip int, fn func(x []float32, n int) error) error
	// Batches is the number of batches of an epoch (for progress and the schedule).
	Batches() int
}

// Options configure one training run.
type Options struct {
	Config configs.Config
	// Run is the run directory: checkpoints/, artifacts/, metrics.jsonl go there.
	Run string
	// Resume continues from the newest checkpoint in Run; without it a Run holding a
	// checkpoint is an error (nothing the user made is overwritten).
	Resume bool
	// Train and Val feed the training split (augmented, shuffled per epoch; full batches
	// only: the last partial batch is dropped) and the validation split.
	Train, Val Feed
	// Log receives progress and epoch lines (nil: discard).
	Log io.Writer
	// AfterEpoch, if set, runs after each epoch's checkpoint (tests use it to interrupt).
	AfterEpoch func(epoch int)
}

// Result summarises a finished (or stopped) run.
type Result struct {
	State   State
	Metrics []EpochMetrics
	// Params are the best parameters (lowest validation loss), in the model's order.
	Params [][]float32
}

// Train runs (or resumes) training and returns the best parameters.
func Train(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	model, err := vae.FromConfig(o.Config)
	if err != nil {
		return nil, err
	}
	r := &training{o: o, cfg: o.Config}
	t, err := r.resume(model)
	if err != nil {
		return nil, err
	}
	if r.st.Done {
		fmt.Fprintf(o.Log, "run %s already finished (%s)\n", o.Run, r.st.StopReason)
		return r.result(t)
	}
	if r.steps, err = newStepRunner(model, r.cfg, t, filepath.Join(o.Run, ArtifactsDir)); err != nil {
		return nil, err
	}
	defer r.steps.destroy()
	if d, ok := r.steps.(onDevice); ok {
		d.describe(o.Log, r.cfg.Runtime)
		defer d.reportTraffic(o.Log)
	}
	r.progress, r.start, r.base = NewProgress(o.Log), time.Now(), r.st.Elapsed
	for epoch := r.st.Epoch + 1; epoch <= r.cfg.Train.Epochs; epoch++ {
		ep, err := r.runEpoch(ctx, epoch)
		if err != nil {
			return nil, err
		}
		if err := r.endEpoch(ctx, ep); err != nil {
			return nil, err
		}
		if r.st.Done {
			fmt.Fprintln(o.Log, r.st.StopReason)
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintf(o.Log, "interrupted after epoch %d; checkpoint %s written\n", epoch, epochTag(epoch, 0))
			return nil, ErrInterrupted
		}
	}
	return r.result(t)
}

// training is the state of one Train call.
type training struct {
	o        Options
	cfg      configs.Config
	st       State
	metrics  []EpochMetrics
	steps    stepRunner
	progress *Progress
	start    time.Time
	base     float64 // training seconds before this process
}

// epochRun is what an epoch's training steps leave: the loss sums over its images.
type epochRun struct {
	epoch, batches int
	klw            float64
	sums           Terms
	images         int
	seconds        float64
}

// resume returns the starting tensors: the newest checkpoint's (with its state and metrics
// rows, the metrics file made whole again), or fresh ones. A run that only ran out of epochs,
// or stopped early with a patience since raised, continues when train.epochs allows.
func (r *training) resume(model *vae.VAE) (*Tensors, error) {
	o, cfg := r.o, r.cfg
	t := &Tensors{}
	for _, s := range model.Params() {
		t.Names = append(t.Names, s.Name)
		t.Shapes = append(t.Shapes, s.Shape)
	}
	arch := Fingerprint(model)
	r.st = State{Seed: cfg.Seed, Arch: arch}
	latest, err := LatestCheckpoint(o.Run)
	switch {
	case err != nil:
		return nil, err
	case latest == "":
		return freshTensors(model, cfg.Seed), nil
	case !o.Resume:
		return nil, fmt.Errorf("run directory %s already has checkpoints (newest %s): pass --resume to continue it, or choose another --out", o.Run, latest)
	}
	// Check the architecture before reading tensors, for a clear error.
	var peek State
	if err := readJSON(filepath.Join(checkpointDir(o.Run), latest+".json"), &peek); err != nil {
		return nil, err
	}
	if peek.Arch != arch {
		return nil, fmt.Errorf("run directory %s holds a model of another architecture (checkpoint %s): its config differs in model or data.size; use a new --out", o.Run, latest)
	}
	if r.st, err = LoadCheckpoint(o.Run, latest, t); err != nil {
		return nil, err
	}
	if r.st.Seed != cfg.Seed {
		return nil, fmt.Errorf("run directory %s was trained with seed %d, the config says %d", o.Run, r.st.Seed, cfg.Seed)
	}
	// The checkpoint carries the metrics rows up to it (older ones: the file's rows).
	r.metrics = r.st.Metrics
	if r.metrics == nil {
		if r.metrics, err = ReadMetrics(filepath.Join(o.Run, MetricsFile)); err != nil {
			return nil, err
		}
	}
	r.metrics = keepEpochs(r.metrics, r.st.Epoch)
	if err := writeMetrics(filepath.Join(o.Run, MetricsFile), r.metrics); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "resuming %s from %s (epoch %d, step %d)\n", o.Run, latest, r.st.Epoch, r.st.Step)
	st := &r.st
	if st.Done && cfg.Train.Epochs > st.Epoch && (!st.EarlyStopped || cfg.Train.Patience == 0 || st.BadEpochs < cfg.Train.Patience) {
		fmt.Fprintf(o.Log, "continuing to %d epochs (the run had %s)\n", cfg.Train.Epochs, st.StopReason)
		st.Done, st.EarlyStopped, st.StopReason = false, false, ""
	}
	return t, nil
}

// runEpoch runs the training steps of an epoch, from where a mid-epoch checkpoint left it.
// Ctrl-C saves a checkpoint at the batch reached (interrupted).
func (r *training) runEpoch(ctx context.Context, epoch int) (epochRun, error) {
	cfg, st := r.cfg, &r.st
	ep := epochRun{epoch: epoch, batches: st.EpochStep, klw: KLWeight(cfg.Loss, epoch)}
	if st.EpochStep > 0 {
		ep.sums, ep.images = st.Partial, st.PartialImages
	}
	start := time.Now()
	r.progress.StartEpoch(epoch, cfg.Train.Epochs, r.o.Train.Batches(), ep.batches)
	err := r.o.Train.Epoch(ctx, epoch, ep.batches, func(x []float32, n int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n != cfg.Train.Batch {
			return nil // drop_last: train_step has a static batch
		}
		st.Step++
		terms, err := r.steps.step(x, st.Step, ep.klw, cfg)
		if err != nil {
			return fmt.Errorf("step %d (epoch %d): %w", st.Step, epoch, err)
		}
		if !terms.finite() {
			return fmt.Errorf("step %d (epoch %d, batch %d): loss is not finite (total %g, mse %g, ssim %g, kl %g); the last good checkpoint is kept",
				st.Step, epoch, ep.batches+1, terms.Total, terms.MSE, terms.SSIM, terms.KL)
		}
		r.steps.commit()
		fault.Point("step")
		ep.batches++
		ep.sums.add(terms, float64(n))
		ep.images += n
		r.progress.Step(ep.batches, ep.sums.Total/float64(ep.images), float64(ep.images)/time.Since(start).Seconds())
		return nil
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ep, r.interrupted(ep)
	}
	if err == nil && ep.images == 0 {
		err = fmt.Errorf("epoch %d: no full training batch of %d maps (the training split is too small)", epoch, cfg.Train.Batch)
	}
	ep.seconds = time.Since(start).Seconds()
	return ep, err
}

// interrupted writes the checkpoint of a run stopped in an epoch (before or after its
// validation) and returns ErrInterrupted: the one save-on-interrupt path.
func (r *training) interrupted(ep epochRun) error {
	st := &r.st
	st.EpochStep, st.Partial, st.PartialImages = ep.batches, ep.sums, ep.images
	st.Elapsed = r.base + time.Since(r.start).Seconds()
	st.Metrics = r.metrics
	tag := epochTag(ep.epoch-1, ep.batches)
	if err := saveState(r.o.Run, tag, *st, r.steps); err != nil {
		return err
	}
	fmt.Fprintf(r.o.Log, "\ninterrupted in epoch %d after %d batches; checkpoint %s written\n", ep.epoch, ep.batches, tag)
	return ErrInterrupted
}

// endEpoch validates, records the epoch (best model, early stopping), and writes the best
// and rolling checkpoints, then the metrics file: in that order for crash safety, the
// rolling checkpoint's JSON (which carries the metrics rows) last of the checkpoint.
func (r *training) endEpoch(ctx context.Context, ep epochRun) error {
	cfg, st := r.cfg, &r.st
	// Validation uses the final KL weight (beta), not the warm-up's: totals of different
	// epochs then measure the same objective, so best-model choice and early stopping
	// are not fooled by the rising weight.
	val, err := r.steps.evaluate(ctx, r.o.Val, cfg.Loss.Beta)
	if err != nil && ctx.Err() != nil {
		return r.interrupted(ep) // the epoch's training is done; keep it
	}
	if err != nil {
		return err
	}
	if !val.finite() {
		return fmt.Errorf("epoch %d: validation loss is not finite (%g)", ep.epoch, val.Total)
	}
	st.Epoch, st.EpochStep, st.Partial, st.PartialImages = ep.epoch, 0, Terms{}, 0
	st.Elapsed = r.base + time.Since(r.start).Seconds()
	m := EpochMetrics{
		Epoch: ep.epoch, Step: st.Step, Train: ep.sums.scaled(1 / float64(ep.images)), Val: val,
		KLWeight: ep.klw, ValKLWeight: cfg.Loss.Beta, LR: cfg.Train.LR, ImagesPS: float64(ep.images) / ep.seconds, Elapsed: st.Elapsed,
	}
	if st.BestEpoch == 0 || val.Total < st.BestLoss {
		st.BestLoss, st.BestEpoch, st.BadEpochs = val.Total, ep.epoch, 0
		m.Best = true
	} else {
		st.BadEpochs++
	}
	if cfg.Train.Patience > 0 && st.BadEpochs >= cfg.Train.Patience {
		st.Done, st.EarlyStopped, st.StopReason = true, true, fmt.Sprintf("early stopping: no validation improvement for %d epochs (best %.6f at epoch %d)", st.BadEpochs, st.BestLoss, st.BestEpoch)
	} else if ep.epoch == cfg.Train.Epochs {
		st.Done, st.StopReason = true, fmt.Sprintf("reached %d epochs (best %.6f at epoch %d)", ep.epoch, st.BestLoss, st.BestEpoch)
	}
	r.metrics = append(r.metrics, m)
	st.Metrics = r.metrics
	if m.Best {
		if err := saveState(r.o.Run, "best", *st, r.steps); err != nil {
			return err
		}
	}
	if err := saveState(r.o.Run, epochTag(ep.epoch, 0), *st, r.steps); err != nil {
		return err
	}
	if err := pruneCheckpoints(r.o.Run, cfg.Train.KeepLast); err != nil {
		return err
	}
	if err := writeMetrics(filepath.Join(r.o.Run, MetricsFile), r.metrics); err != nil {
		return err
	}
	fault.Point("metrics")
	r.progress.EndEpoch(m, cfg.Train.Epochs)
	if r.o.AfterEpoch != nil {
		r.o.AfterEpoch(ep.epoch)
	}
	return nil
}

// result is the run's state and metrics with the best checkpoint's parameters.
func (r *training) result(shape *Tensors) (*Result, error) {
	best, err := loadBest(r.o.Run, shape)
	if err != nil {
		return nil, err
	}
	return &Result{State: r.st, Metrics: r.metrics, Params: best}, nil
}

// loadBest reads the best checkpoint's parameters.
func loadBest(run string, shape *Tensors) ([][]float32, error) {
	t := &Tensors{Names: shape.Names, Shapes: shape.Shapes}
	if _, err := LoadCheckpoint(run, "best", t); err != nil {
		return nil, err
	}
	return t.Params, nil
}

// KLWeight is beta warmed up linearly over the first warmup epochs: epoch 1 trains with 0,
// epoch warmup+1 and later with beta (the study: 150 epochs to 0.1).
func KLWeight(l configs.Loss, epoch int) float64 {
	if l.WarmupEpochs <= 0 {
		return l.Beta
	}
	return l.Beta * math.Min(1, float64(epoch-1)/float64(l.WarmupEpochs))
}

// Fingerprint identifies an architecture by its parameter names and shapes and its input
// size: checkpoints of another architecture are refused on resume.
func Fingerprint(v *vae.VAE) string {
	h := sha256.New()
	fmt.Fprintf(h, "size=%d latent=%d skips=%v\n", v.Options().Size, v.Options().Latent, v.Options().Skips)
	for _, s := range v.Params() {
		fmt.Fprintf(h, "%s %v\n", s.Name, s.Shape)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func keepEpochs(ms []EpochMetrics, upTo int) []EpochMetrics {
	var out []EpochMetrics
	for _, m := range ms {
		if m.Epoch <= upTo {
			out = append(out, m)
		}
	}
	return out
}

// noise fills eps with standard normal draws from a stream fixed by (seed, step).
func noise(eps []float32, seed int64, step int) {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(step)))
	for i := range eps {
		eps[i] = float32(r.NormFloat64())
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// freshTensors is the model's starting state for a seed: PyTorch-style initial parameters
// and zero Adam moments.
func freshTensors(model *vae.VAE, seed int64) *Tensors {
	t := &Tensors{Params: model.InitParams(seed)}
	for i, s := range model.Params() {
		t.Names = append(t.Names, s.Name)
		t.Shapes = append(t.Shapes, s.Shape)
		t.M = append(t.M, make([]float32, len(t.Params[i])))
		t.V = append(t.V, make([]float32, len(t.Params[i])))
	}
	return t
}

// evalFeed runs one validation pass of f (epoch 0 order) through run, which returns each
// batch's loss terms, and returns their image-weighted mean.
func evalFeed(ctx context.Context, f Feed, run func(x []float32, n int) (Terms, error)) (Terms, error) {
	var sums Terms
	images := 0
	err := f.Epoch(ctx, 0, 0, func(x []float32, n int) error {
		t, err := run(x, n)
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		sums.add(t, float64(n))
		images += n
		return nil
	})
	if err != nil {
		return Terms{}, err
	}
	if images == 0 {
		return Terms{}, fmt.Errorf("validation split is empty")
	}
	return sums.scaled(1 / float64(images)), nil
}

// saveState writes the runner's current state as checkpoint tag.
func saveState(run, tag string, st State, s stepRunner) error {
	t, err := s.tensors()
	if err != nil {
		return err
	}
	return SaveCheckpoint(run, tag, st, t)
}

// sessionOf loads an artifact on the configured provider.
func sessionOf(a graphs.Artifact, rt configs.Runtime) (*onnx.Session, error) {
	s, err := onnx.NewSession(a.Model, a.Inputs, a.Outputs, rt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	return s, nil
}
