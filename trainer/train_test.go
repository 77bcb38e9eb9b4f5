package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
	"github.com/camelsvae/camelsvae/vae"
)

// memFeed serves fixed maps in an order shuffled by the epoch (epoch 0: in order).
type memFeed struct {
	maps  [][]float32 // each 3*S*S
	batch int
	seed  int64
}

func (f *memFeed) Batches() int { return (len(f.maps) + f.batch - 1) / f.batch }

func (f *memFeed) Epoch(ctx context.Context, epoch, skip int, fn func(x []float32, n int) error) error {
	order := make([]int, len(f.maps))
	for i := range order {
		order[i] = i
	}
	if epoch > 0 {
		r := rand.New(rand.NewPCG(uint64(f.seed), uint64(epoch)))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for b := skip; b*f.batch < len(order); b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo, hi := b*f.batch, min((b+1)*f.batch, len(order))
		var x []float32
		for _, i := range order[lo:hi] {
			x = append(x, f.maps[i]...)
		}
		if err := fn(x, hi-lo); err != nil {
			return err
		}
	}
	return nil
}

// smoothMaps makes n smooth random 3 x s x s maps with unit-ish variance: learnable signal.
func smoothMaps(n, s int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([][]float32, n)
	for k := range out {
		m := make([]float32, 3*s*s)
		for c := 0; c < 3; c++ {
			a, b, p := r.Float64()*3+1, r.Float64()*3+1, r.Float64()*6
			for i := 0; i < s; i++ {
				for j := 0; j < s; j++ {
					m[(c*s+i)*s+j] = float32(math.Sin(a*float64(i)/float64(s)*2*math.Pi+p) * math.Cos(b*float64(j)/float64(s)*2*math.Pi))
				}
			}
		}
		out[k] = m
	}
	return out
}

func tinyConfig() configs.Config {
	c := configs.Default()
	c.Data.Size = 32
	c.Model.WidthMult = 0.125
	c.Model.Latent = 8
	c.Train.Batch = 4
	c.Train.Epochs = 3
	c.Train.LR = 3e-3
	c.Loss.WarmupEpochs = 2
	c.Train.KeepLast = 2
	c.Runtime.IntraOpThreads = 1
	return c
}

func feeds(c configs.Config) (Feed, Feed) {
	all := smoothMaps(72, c.Data.Size, 1)
	return &memFeed{maps: all[:64], batch: c.Train.Batch, seed: c.Seed}, &memFeed{maps: all[64:], batch: 8}
}

// TestTrainLearnsAndResumes trains 3 epochs straight, then the same run interrupted after
// epoch 1 and resumed: the resumed metrics equal the uninterrupted ones, and the
// validation loss falls.
func TestTrainLearnsAndResumes(t *testing.T) {
	onnxtest.Setup(t)
	c := tinyConfig()
	tr, val := feeds(c)
	ctx := context.Background()

	dirA := t.TempDir()
	a, err := Train(ctx, Options{Config: c, Run: dirA, Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Metrics) != 3 {
		t.Fatalf("got %d epochs of metrics, want 3", len(a.Metrics))
	}
	if first, last := a.Metrics[0].Val.MSE, a.Metrics[2].Val.MSE; !(last < 0.9*first) {
		t.Errorf("validation MSE did not fall: epoch 1 %.5f, epoch 3 %.5f", first, last)
	}

	dirB := t.TempDir()
	cctx, cancel := context.WithCancel(ctx)
	_, err = Train(cctx, Options{Config: c, Run: dirB, Train: tr, Val: val, AfterEpoch: func(e int) {
		if e == 1 {
			cancel()
		}
	}})
	if err != ErrInterrupted {
		t.Fatalf("interrupted run: got %v, want ErrInterrupted", err)
	}
	if _, err := Train(ctx, Options{Config: c, Run: dirB, Train: tr, Val: val}); err == nil ||
		!strings.Contains(err.Error(), "--resume") {
		t.Fatalf("a second run into the same directory without --resume must refuse, got %v", err)
	}
	b, err := Train(ctx, Options{Config: c, Run: dirB, Resume: true, Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Metrics {
		ma, mb := a.Metrics[i], b.Metrics[i]
		if ma.Train != mb.Train || ma.Val != mb.Val || ma.Step != mb.Step {
			t.Errorf("epoch %d: uninterrupted %+v / %+v, resumed %+v / %+v", i+1, ma.Train, ma.Val, mb.Train, mb.Val)
		}
	}
}

// TestInterruptMidEpoch cancels inside an epoch: the checkpoint records the position and the
// resumed run ends where an uninterrupted one does.
func TestInterruptMidEpoch(t *testing.T) {
	onnxtest.Setup(t)
	c := tinyConfig()
	c.Train.Epochs = 1
	tr, val := feeds(c)
	ref, err := Train(context.Background(), Options{Config: c, Run: t.TempDir(), Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	cut := &cutFeed{Feed: tr, after: 3, cancel: cancel, calls: &calls}
	if _, err := Train(ctx, Options{Config: c, Run: dir, Train: cut, Val: val}); err != ErrInterrupted {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	tag, _ := LatestCheckpoint(dir)
	if tag != "epoch-00000-step-000003" {
		t.Fatalf("latest checkpoint %q, want epoch-00000-step-000003", tag)
	}
	got, err := Train(context.Background(), Options{Config: c, Run: dir, Resume: true, Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics[0].Val != ref.Metrics[0].Val || got.Metrics[0].Train != ref.Metrics[0].Train {
		t.Errorf("resumed mid-epoch: %+v, uninterrupted %+v", got.Metrics[0], ref.Metrics[0])
	}
}

// cutFeed cancels the context after a number of batches.
type cutFeed struct {
	Feed
	after  int
	cancel func()
	calls  *int
}

func (f *cutFeed) Epoch(ctx context.Context, epoch, skip int, fn func([]float32, int) error) error {
	return f.Feed.Epoch(ctx, epoch, skip, func(x []float32, n int) error {
		if *f.calls == f.after {
			f.cancel()
		}
		*f.calls++
		return fn(x, n)
	})
}

// oneEpochRun trains the tiny model for one epoch into a new run directory.
func oneEpochRun(t *testing.T) (configs.Config, Feed, Feed, string) {
	t.Helper()
	onnxtest.Setup(t)
	c := tinyConfig()
	c.Train.Epochs = 1
	tr, val := feeds(c)
	dir := t.TempDir()
	if _, err := Train(context.Background(), Options{Config: c, Run: dir, Train: tr, Val: val}); err != nil {
		t.Fatal(err)
	}
	return c, tr, val, dir
}

// TestResumeRefusals: another architecture, and a corrupt checkpoint, are one-line errors and
// nothing is overwritten.
func TestResumeRefusals(t *testing.T) {
	c, tr, val, dir := oneEpochRun(t)
	other := c
	other.Model.Latent = 16
	_, err := Train(context.Background(), Options{Config: other, Run: dir, Resume: true, Train: tr, Val: val})
	if err == nil || !strings.Contains(err.Error(), "another architecture") {
		t.Fatalf("other architecture: got %v", err)
	}
	npz := filepath.Join(dir, "checkpoints", "epoch-00001.npz")
	before, _ := os.ReadFile(npz)
	if err := os.WriteFile(npz, before[:len(before)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	c.Train.Epochs = 2
	_, err = Train(context.Background(), Options{Config: c, Run: dir, Resume: true, Train: tr, Val: val})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "epoch-00001.npz") {
		t.Fatalf("corrupt npz: want a one-line error naming the file, got %v", err)
	}
	after, _ := os.ReadFile(npz)
	if len(after) != len(before)/2 {
		t.Fatalf("the corrupt checkpoint was rewritten")
	}
}

func TestKLWeight(t *testing.T) {
	l := configs.Default().Loss // beta 0.1 over 150 epochs
	for _, c := range []struct {
		epoch int
		want  float64
	}{{1, 0}, {76, 0.05}, {151, 0.1}, {200, 0.1}} {
		if got := KLWeight(l, c.epoch); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("epoch %d: %g, want %g", c.epoch, got, c.want)
		}
	}
}

// nanFeed serves memFeed's batches but poisons one pixel from epoch 2 on.
type nanFeed struct{ *memFeed }

func (f nanFeed) Epoch(ctx context.Context, epoch, skip int, fn func([]float32, int) error) error {
	return f.memFeed.Epoch(ctx, epoch, skip, func(x []float32, n int) error {
		if epoch >= 2 {
			x[0] = float32(math.NaN())
		}
		return fn(x, n)
	})
}

// TestNaNStops: a non-finite loss stops the run with an error naming the step, and the last
// good checkpoint stays loadable.
func TestNaNStops(t *testing.T) {
	onnxtest.Setup(t)
	c := tinyConfig()
	tr, val := feeds(c)
	dir := t.TempDir()
	_, err := Train(context.Background(), Options{Config: c, Run: dir, Train: nanFeed{tr.(*memFeed)}, Val: val})
	if err == nil || !strings.Contains(err.Error(), "step 17 (epoch 2") || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("want an error naming step 17 of epoch 2, got %v", err)
	}
	tag, _ := LatestCheckpoint(dir)
	if tag != "epoch-00001" {
		t.Fatalf("latest checkpoint %q, want epoch-00001", tag)
	}
	v, err := vae.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	tt := &Tensors{}
	for _, s := range v.Params() {
		tt.Names, tt.Shapes = append(tt.Names, s.Name), append(tt.Shapes, s.Shape)
	}
	if st, err := LoadCheckpoint(dir, tag, tt); err != nil || st.Epoch != 1 {
		t.Fatalf("the last good checkpoint does not load: %v (epoch %d)", err, st.Epoch)
	}
	if _, err := os.Stat(filepath.Join(dir, ArtifactsDir, "train_step.onnx")); err != nil {
		t.Errorf("the run directory lacks its training artifacts: %v", err)
	}
}

// TestCrashDuringCheckpoint simulates a process killed while writing the epoch-2 checkpoint:
// a half-written temporary file and an .npz whose JSON never came. The previous checkpoint
// is still the latest, and resuming from it works.
func TestCrashDuringCheckpoint(t *testing.T) {
	c, tr, val, dir := oneEpochRun(t)
	ck := filepath.Join(dir, "checkpoints")
	good, _ := os.ReadFile(filepath.Join(ck, "epoch-00001.npz"))
	for name, b := range map[string][]byte{".epoch-00002.npz.tmp123": good[:len(good)/3], "epoch-00002.npz": good[:len(good)/2]} {
		if err := os.WriteFile(filepath.Join(ck, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if tag, _ := LatestCheckpoint(dir); tag != "epoch-00001" {
		t.Fatalf("latest checkpoint %q after a crash, want epoch-00001", tag)
	}
	c.Train.Epochs = 2
	res, err := Train(context.Background(), Options{Config: c, Run: dir, Resume: true, Train: tr, Val: val})
	if err != nil || len(res.Metrics) != 2 {
		t.Fatalf("resume after a crash: %v", err)
	}
}
