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
	cfg := o.Config
	if o.Log == nil {
		o.Log = io.Discard
	}
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	specs := model.Params()
	t := &Tensors{}
	for _, s := range specs {
		t.Names = append(t.Names, s.Name)
		t.Shapes = append(t.Shapes, s.Shape)
	}
	arch := Fingerprint(model)

	st := State{Seed: cfg.Seed, Arch: arch}
	var metrics []EpochMetrics
	latest, err := LatestCheckpoint(o.Run)
	if err != nil {
		return nil, err
	}
	switch {
	case latest != "" && !o.Resume:
		return nil, fmt.Errorf("run directory %s already has checkpoints (newest %s): pass --resume to continue it, or choose another --out", o.Run, latest)
	case latest != "":
		// Check the architecture before reading tensors, for a clear error.
		var peek State
		if err := readJSON(filepath.Join(checkpointDir(o.Run), latest+".json"), &peek); err != nil {
			return nil, err
		}
		if peek.Arch != arch {
			return nil, fmt.Errorf("run directory %s holds a model of another architecture (checkpoint %s): its config differs in model or data.size; use a new --out", o.Run, latest)
		}
		if st, err = LoadCheckpoint(o.Run, latest, t); err != nil {
			return nil, err
		}
		if st.Seed != cfg.Seed {
			return nil, fmt.Errorf("run directory %s was trained with seed %d, the config says %d", o.Run, st.Seed, cfg.Seed)
		}
		// The checkpoint carries the metrics rows up to it (older ones: the file's rows),
		// and the file is made whole again at once.
		metrics = st.Metrics
		if metrics == nil {
			if metrics, err = ReadMetrics(filepath.Join(o.Run, MetricsFile)); err != nil {
				return nil, err
			}
		}
		metrics = keepEpochs(metrics, st.Epoch)
		if err := writeMetrics(filepath.Join(o.Run, MetricsFile), metrics); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "resuming %s from %s (epoch %d, step %d)\n", o.Run, latest, st.Epoch, st.Step)
	default:
		t = freshTensors(model, cfg.Seed)
	}
	if st.Done && cfg.Train.Epochs > st.Epoch && (!st.EarlyStopped || cfg.Train.Patience == 0 || st.BadEpochs < cfg.Train.Patience) {
		fmt.Fprintf(o.Log, "continuing to %d epochs (the run had %s)\n", cfg.Train.Epochs, st.StopReason)
		st.Done, st.EarlyStopped, st.StopReason = false, false, ""
	}
	if st.Done {
		fmt.Fprintf(o.Log, "run %s already finished (%s)\n", o.Run, st.StopReason)
		best, err := loadBest(o.Run, t)
		if err != nil {
			return nil, err
		}
		return &Result{State: st, Metrics: metrics, Params: best}, nil
	}

	s, err := newSteps(model, cfg, t, filepath.Join(o.Run, ArtifactsDir))
	if err != nil {
		return nil, err
	}
	defer s.destroy()
	if d, ok := s.(*devStepper); ok {
		d.describe(o.Log, cfg.Runtime)
		defer d.reportTraffic(o.Log)
	}

	progress := NewProgress(o.Log)
	steps := o.Train.Batches()
	start := time.Now()
	base := st.Elapsed
	for epoch := st.Epoch + 1; epoch <= cfg.Train.Epochs; epoch++ {
		klw := KLWeight(cfg.Loss, epoch)
		sums, images := st.Partial, st.PartialImages
		if st.EpochStep == 0 {
			sums, images = Terms{}, 0
		}
		epochStart := time.Now()
		stepInEpoch := st.EpochStep
		progress.StartEpoch(epoch, cfg.Train.Epochs, steps, stepInEpoch)
		err := o.Train.Epoch(ctx, epoch, stepInEpoch, func(x []float32, n int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if n != cfg.Train.Batch {
				return nil // drop_last: train_step has a static batch
			}
			st.Step++
			terms, err := s.step(x, st.Step, klw, cfg)
			if err != nil {
				return fmt.Errorf("step %d (epoch %d): %w", st.Step, epoch, err)
			}
			if !terms.finite() {
				return fmt.Errorf("step %d (epoch %d, batch %d): loss is not finite (total %g, mse %g, ssim %g, kl %g); the last good checkpoint is kept",
					st.Step, epoch, stepInEpoch+1, terms.Total, terms.MSE, terms.SSIM, terms.KL)
			}
			s.commit()
			fault.Point("step")
			stepInEpoch++
			sums.add(terms, float64(n))
			images += n
			progress.Step(stepInEpoch, sums.Total/float64(images), float64(images)/time.Since(epochStart).Seconds())
			return nil
		})
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				st.EpochStep, st.Partial, st.PartialImages = stepInEpoch, sums, images
				st.Elapsed = base + time.Since(start).Seconds()
				st.Metrics = metrics
				tag := epochTag(epoch-1, 0)
				if stepInEpoch > 0 {
					tag = epochTag(epoch-1, stepInEpoch)
				}
				if err := saveState(o.Run, tag, st, s); err != nil {
					return nil, err
				}
				fmt.Fprintf(o.Log, "\ninterrupted in epoch %d after %d batches; checkpoint %s written\n", epoch, stepInEpoch, tag)
				return nil, ErrInterrupted
			}
			return nil, err
		}
		if images == 0 {
			return nil, fmt.Errorf("epoch %d: no full training batch of %d maps (the training split is too small)", epoch, cfg.Train.Batch)
		}
		trainTime := time.Since(epochStart).Seconds()
		// Validation uses the final KL weight (beta), not the warm-up's: totals of different
		// epochs then measure the same objective, so best-model choice and early stopping
		// are not fooled by the rising weight.
		val, err := s.evaluate(ctx, o.Val, cfg.Loss.Beta)
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted during validation: the epoch's training is done; keep it.
				st.EpochStep, st.Partial, st.PartialImages = stepInEpoch, sums, images
				st.Metrics = metrics
				tag := epochTag(epoch-1, stepInEpoch)
				if err := saveState(o.Run, tag, st, s); err != nil {
					return nil, err
				}
				return nil, ErrInterrupted
			}
			return nil, err
		}
		if !val.finite() {
			return nil, fmt.Errorf("epoch %d: validation loss is not finite (%g)", epoch, val.Total)
		}
		st.Epoch, st.EpochStep, st.Partial, st.PartialImages = epoch, 0, Terms{}, 0
		st.Elapsed = base + time.Since(start).Seconds()
		m := EpochMetrics{
			Epoch: epoch, Step: st.Step, Train: sums.scaled(1 / float64(images)), Val: val,
			KLWeight: klw, ValKLWeight: cfg.Loss.Beta, LR: cfg.Train.LR, ImagesPS: float64(images) / trainTime, Elapsed: st.Elapsed,
		}
		if st.BestEpoch == 0 || val.Total < st.BestLoss {
			st.BestLoss, st.BestEpoch, st.BadEpochs = val.Total, epoch, 0
			m.Best = true
		} else {
			st.BadEpochs++
		}
		if cfg.Train.Patience > 0 && st.BadEpochs >= cfg.Train.Patience {
			st.Done, st.EarlyStopped, st.StopReason = true, true, fmt.Sprintf("early stopping: no validation improvement for %d epochs (best %.6f at epoch %d)", st.BadEpochs, st.BestLoss, st.BestEpoch)
		} else if epoch == cfg.Train.Epochs {
			st.Done, st.StopReason = true, fmt.Sprintf("reached %d epochs (best %.6f at epoch %d)", epoch, st.BestLoss, st.BestEpoch)
		}
		metrics = append(metrics, m)
		st.Metrics = metrics
		// Order matters for crash safety: best weights, then the rolling checkpoint (its JSON
		// last, with the metrics), then the metrics file.
		if m.Best {
			if err := saveState(o.Run, "best", st, s); err != nil {
				return nil, err
			}
		}
		if err := saveState(o.Run, epochTag(epoch, 0), st, s); err != nil {
			return nil, err
		}
		if err := pruneCheckpoints(o.Run, cfg.Train.KeepLast); err != nil {
			return nil, err
		}
		if err := writeMetrics(filepath.Join(o.Run, MetricsFile), metrics); err != nil {
			return nil, err
		}
		fault.Point("metrics")
		progress.EndEpoch(m, cfg.Train.Epochs)
		if o.AfterEpoch != nil {
			o.AfterEpoch(epoch)
		}
		if st.Done {
			fmt.Fprintln(o.Log, st.StopReason)
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintf(o.Log, "interrupted after epoch %d; checkpoint %s written\n", epoch, epochTag(epoch, 0))
			return nil, ErrInterrupted
		}
	}
	best, err := loadBest(o.Run, t)
	if err != nil {
		return nil, err
	}
	return &Result{State: st, Metrics: metrics, Params: best}, nil
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
func saveState(run, tag string, st State, s steps) error {
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
