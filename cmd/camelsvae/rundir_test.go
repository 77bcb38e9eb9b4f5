package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/synth"
	"github.com/camelsvae/camelsvae/trainer"
)

// executeErr runs the CLI and returns its output and error.
func executeErr(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestRunNeverOverwritesData: with only the CV files of a real download in data.dir, run
// names the missing LH files and changes nothing; synth refuses to write over them, with
// --force too.
func TestRunNeverOverwritesData(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfigFile(t, dir, false)
	data := filepath.Join(dir, "data")
	gen := filepath.Join(dir, "elsewhere")
	if err := synth.Generate(context.Background(), synth.Options{Dir: gen, Sets: []string{"CV"}, CVSims: 4, Size: 64, Seed: 1, Workers: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, name := range synth.SetFiles("CV", configs.Names(configs.StudyFields())) {
		b, err := os.ReadFile(filepath.Join(gen, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "Maps_Mgas") {
			copy(b[len(b)-4:], []byte{0x00, 0xe4, 0x40, 0x46}) // a marker pixel, 12345.0
		}
		before[name] = b
		if err := os.WriteFile(filepath.Join(data, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unchanged := func(when string) {
		t.Helper()
		ents, _ := os.ReadDir(data)
		if len(ents) != len(before) {
			t.Errorf("%s: data.dir has %d entries, want the user's %d files only", when, len(ents), len(before))
		}
		for name, b := range before {
			if got, _ := os.ReadFile(filepath.Join(data, name)); !bytes.Equal(got, b) {
				t.Errorf("%s: %s was changed", when, name)
			}
		}
	}
	out, err := executeErr(context.Background(), "run", "--config", cfg, "--out", filepath.Join(dir, "run"))
	if err == nil || !strings.Contains(err.Error(), formats.MapPath("", "Mgas", synth.Suite, "LH")) || strings.Contains(err.Error(), "Maps_B_IllustrisTNG_CV") {
		t.Errorf("run with only the CV files: %v, want an error naming the missing LH files\n%s", err, out)
	}
	unchanged("run")
	for _, args := range [][]string{{"synth", "--config", cfg}, {"synth", "--config", cfg, "--force"}} {
		if _, err := executeErr(context.Background(), args...); err == nil || !strings.Contains(err.Error(), "did not create") {
			t.Errorf("%s: %v, want a refusal", strings.Join(args, " "), err)
		}
		unchanged(strings.Join(args, " "))
	}
}

// metricsEpochs lists the epochs of a run's metrics.jsonl.
func metricsEpochs(t *testing.T, run string) []int {
	t.Helper()
	ms, err := trainer.ReadMetrics(filepath.Join(run, trainer.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range ms {
		out = append(out, m.Epoch)
	}
	return out
}

// TestMetricsSurviveKill: a process killed right after epoch 1's checkpoint, before the
// metrics file, loses no row: the checkpoint carries it and --resume restores it.
func TestMetricsSurviveKill(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	run := filepath.Join(dir, "run")
	// Epoch 1 writes the best checkpoint, then the rolling one: its second "checkpoint".
	code, out := camelsvae(t, []string{fault.Env + "=checkpoint:2"}, "train", "--config", cfg, "--out", run)
	if code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(run, "checkpoints", "epoch-00001.json")); err != nil {
		t.Fatalf("killed before the checkpoint: %v", err)
	}
	if got := metricsEpochs(t, run); len(got) != 0 {
		t.Fatalf("killed after the metrics were written (%v): the fault point is misplaced", got)
	}
	if code, out := camelsvae(t, nil, "train", "--config", cfg, "--out", run, "--resume"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	if got := metricsEpochs(t, run); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("metrics after resume have epochs %v, want 1..4", got)
	}
}

// TestSignalsAndLock: a second writer is refused while a training runs, naming its pid;
// SIGINT and SIGTERM stop training cleanly with exit 130 and 143; a SIGKILLed holder's lock
// is taken over.
func TestSignalsAndLock(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	run := filepath.Join(dir, "run")
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		args := []string{"train", "--config", cfg, "--out", run, "--epochs", "1000"}
		if i > 0 {
			args = append(args, "--resume")
		}
		before, _ := trainer.LatestCheckpoint(run)
		p := start(t, nil, args...)
		// Signal it once it has written a new checkpoint: it is training then.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if l, _ := trainer.LatestCheckpoint(run); l != before {
				break
			}
		}
		if i == 0 {
			_, err := executeErr(context.Background(), "train", "--config", cfg, "--out", run, "--resume", "--epochs", "1000")
			var held *lock.HeldError
			if !errors.As(err, &held) || held.PID != p.cmd.Process.Pid || !strings.Contains(err.Error(), strconv.Itoa(p.cmd.Process.Pid)) {
				t.Errorf("a second train into the run: %v, want a refusal naming pid %d", err, p.cmd.Process.Pid)
			}
		}
		p.cmd.Process.Signal(sig)
		code := p.wait()
		want := map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143, syscall.SIGKILL: -9}[sig]
		if code != want {
			t.Errorf("%v: exit %d, want %d\n%s%s", sig, code, want, p.out.String(), p.err.String())
		}
		if sig != syscall.SIGKILL && !strings.Contains(p.out.String(), "stopped cleanly") {
			t.Errorf("%v: no clean stop:\n%s", sig, p.out.String())
		}
	}
	l, err := lock.Acquire(run, "test")
	if err != nil {
		t.Fatalf("the killed holder's lock: %v", err)
	}
	l.Release()
}

// TestSoakKills kills a training 20 times, at random fault points and random moments, and
// resumes it each time: it ends bit for bit where an uninterrupted run does, with every
// metrics row, and leaves no temporary file or orphaned checkpoint weights.
func TestSoakKills(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	const epochs = "40"
	ref, run := filepath.Join(dir, "ref"), filepath.Join(dir, "run")
	if code, out := camelsvae(t, nil, "train", "--config", cfg, "--out", ref, "--epochs", epochs); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, out)
	}
	rng := rand.New(rand.NewPCG(18, 1))
	points := []string{"step", "checkpoint-weights", "checkpoint", "prune", "metrics"}
	kills, finished := 0, false
	var trail []string
	for attempt := 0; kills < 20 && !finished && attempt < 200; attempt++ {
		args := []string{"train", "--config", cfg, "--out", run, "--epochs", epochs}
		if l, _ := trainer.LatestCheckpoint(run); l != "" {
			args = append(args, "--resume")
		}
		var p *process
		if rng.IntN(4) == 0 {
			delay := time.Duration(20+rng.IntN(150)) * time.Millisecond
			trail = append(trail, "after "+delay.String())
			p = start(t, nil, args...)
			time.AfterFunc(delay, func() { p.cmd.Process.Kill() })
		} else {
			point := fmt.Sprintf("%s:%d", points[rng.IntN(len(points))], 1+rng.IntN(5))
			trail = append(trail, point)
			p = start(t, []string{fault.Env + "=" + point}, args...)
		}
		switch code := p.wait(); code {
		case -int(syscall.SIGKILL):
			kills++
		case 0:
			finished = true
		default:
			t.Fatalf("after kills at %v: exit %d\n%s%s", trail, code, p.out.String(), p.err.String())
		}
	}
	if kills < 20 {
		t.Fatalf("only %d kills before the run finished (%v)", kills, trail)
	}
	if code, out := camelsvae(t, nil, "train", "--config", cfg, "--out", run, "--epochs", epochs, "--resume"); code != 0 {
		t.Fatalf("final resume after kills at %v: exit %d\n%s", trail, code, out)
	}
	t.Logf("killed at %v", trail)
	for _, f := range []string{"checkpoints/best.npz", "checkpoints/epoch-000" + epochs + ".npz", "export/encoder.onnx", "export/decoder.onnx"} {
		a, err1 := os.ReadFile(filepath.Join(ref, f))
		b, err2 := os.ReadFile(filepath.Join(run, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the uninterrupted run's (%v %v)", f, err1, err2)
		}
	}
	rows := func(r string) []trainer.EpochMetrics {
		ms, err := trainer.ReadMetrics(filepath.Join(r, trainer.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		for i := range ms {
			ms[i].ImagesPS, ms[i].Elapsed = 0, 0 // timings
		}
		return ms
	}
	if a, b := rows(ref), rows(run); !slices.Equal(a, b) {
		t.Errorf("metrics differ from the uninterrupted run's: %d rows against %d", len(b), len(a))
	}
	filepath.WalkDir(run, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.Contains(name, ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		if strings.HasSuffix(name, ".npz") {
			if _, err := os.Stat(strings.TrimSuffix(path, ".npz") + ".json"); err != nil {
				t.Errorf("checkpoint weights without their JSON: %s", path)
			}
		}
		return nil
	})
}

// edit replaces old by new in a config file.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q (%v)", path, old, err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stageLine returns the line run printed first for a stage ("[3/6] train    up to date ...").
func stageLine(out, stage string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "[") && f[1] == stage {
			return line
		}
	}
	return ""
}

// TestRunKeepsTraining: settings that do not define the model retrain nothing, more epochs
// continue the run, and a real change moves the old training aside instead of deleting it.
func TestRunKeepsTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	// A relative run directory, as `make demo` gives: stage outputs are relative to it.
	lib, err := onnx.FindLibrary("", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(onnx.EnvLibrary, lib)
	t.Chdir(dir)
	run := "run"
	execute(context.Background(), t, "run", "--config", cfg, "--out", run)

	edit(t, cfg, "test_maps: 20", "test_maps: 10")
	edit(t, cfg, "keep_last: 2", "keep_last: 1\n  eval_batch: 4")
	out := execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	if l := stageLine(out, "train"); !strings.Contains(l, "up to date") {
		t.Errorf("train after test_maps, keep_last and eval_batch changed: %q, want up to date\n%s", l, out)
	}
	for _, st := range []string{"prepare", "encode", "eval"} {
		if strings.Contains(stageLine(out, st), "up to date") {
			t.Errorf("%s should run again for another test subset:\n%s", st, out)
		}
	}

	edit(t, cfg, "epochs: 4", "epochs: 6")
	out = execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	if l := stageLine(out, "train"); !strings.Contains(l, "continuing") {
		t.Errorf("train after epochs 4 -> 6: %q, want it continued\n%s", l, out)
	}
	if got := metricsEpochs(t, run); !slices.Equal(got, []int{1, 2, 3, 4, 5, 6}) {
		t.Errorf("epochs after continuing: %v", got)
	}
	if m, _ := filepath.Glob(filepath.Join(run, "train.prev-*")); len(m) != 0 {
		t.Errorf("continuing moved a training aside: %v", m)
	}

	edit(t, cfg, "batch: 4", "batch: 4\n  lr: 2.0e-3")
	out = execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	if !strings.Contains(out, "moved the earlier training (train.lr 0.0003 -> 0.002) to "+filepath.Join(run, "train.prev-1")) {
		t.Errorf("a new lr should move the old training aside and say so:\n%s", out)
	}
	if got := metricsEpochs(t, filepath.Join(run, "train.prev-1")); len(got) != 6 {
		t.Errorf("train.prev-1 holds metrics of epochs %v, want the old 6", got)
	}
	if _, err := os.Stat(filepath.Join(run, "train.prev-1", "checkpoints", "best.npz")); err != nil {
		t.Errorf("the old checkpoints were not kept: %v", err)
	}
	if got := metricsEpochs(t, run); len(got) != 6 || got[0] != 1 {
		t.Errorf("the new training's epochs: %v", got)
	}

	// A directory trained by `train` with other settings is refused by run, naming them.
	other := filepath.Join(dir, "trained")
	edit(t, cfg, "lr: 2.0e-3", "lr: 3.0e-3")
	execute(context.Background(), t, "train", "--config", cfg, "--out", other, "--epochs", "1")
	edit(t, cfg, "lr: 3.0e-3", "lr: 2.0e-3")
	_, err = executeErr(context.Background(), "run", "--config", cfg, "--out", other)
	if err == nil || !strings.Contains(err.Error(), "train.lr 0.003 -> 0.002") || strings.Contains(err.Error(), "--resume") {
		t.Errorf("run on a train directory of other settings: %v", err)
	}
}

// TestResumeKeepsItsSettings: a resumed run refuses changes to what defines its training
// and records the rest; splits drawn with another seed are redrawn for a fresh training and
// refused by a reader; the provider is never recorded.
func TestResumeKeepsItsSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	run := filepath.Join(dir, "run")
	ctx := context.Background()
	execute(ctx, t, "train", "--config", cfg, "--out", run, "--epochs", "2")
	recorded, _ := os.ReadFile(filepath.Join(run, "config.yaml"))
	if _, err := executeErr(ctx, "train", "--config", cfg, "--out", run, "--resume", "--batch", "2", "--epochs", "3"); err == nil || !strings.Contains(err.Error(), "train.batch 4 -> 2") {
		t.Errorf("--resume --batch 2: %v, want a refusal naming train.batch", err)
	}
	if now, _ := os.ReadFile(filepath.Join(run, "config.yaml")); !bytes.Equal(now, recorded) {
		t.Error("a refused resume changed config.yaml")
	}
	execute(ctx, t, "train", "--config", cfg, "--out", run, "--resume", "--epochs", "3")
	now, _ := os.ReadFile(filepath.Join(run, "config.yaml"))
	if !strings.Contains(string(now), "epochs: 3") || strings.Contains(string(now), "runtime") {
		t.Errorf("config.yaml after --epochs 3 should record 3 epochs and no runtime:\n%s", now)
	}

	// A failed start on an unavailable provider does not block a retry on the CPU.
	fresh := filepath.Join(dir, "fresh")
	if _, err := executeErr(ctx, "train", "--config", cfg, "--out", fresh, "--provider", "cuda"); err == nil {
		t.Skip("this machine has CUDA")
	}
	// prepare with another seed, then a training with the config's: the splits are redrawn.
	execute(ctx, t, "prepare", "--config", cfg, "--out", fresh, "--seed", "9")
	execute(ctx, t, "train", "--config", cfg, "--out", fresh, "--epochs", "1")
	var sp struct{ Seed int64 }
	b, _ := os.ReadFile(filepath.Join(fresh, "splits.json"))
	if json.Unmarshal(b, &sp); sp.Seed != 7 {
		t.Errorf("splits.json after training with seed 7 was drawn with seed %d", sp.Seed)
	}
	// An export whose encoder and decoder come from two trainings (a reader between the two
	// renames of a re-export) is refused.
	b, _ = os.ReadFile(filepath.Join(fresh, "export", "encoder.onnx"))
	if err := os.WriteFile(filepath.Join(run, "export", "encoder.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := executeErr(ctx, "eval", "--run", run); err == nil || !strings.Contains(err.Error(), "two models") {
		t.Errorf("eval of a mixed export: %v", err)
	}
	// Statistics of other training maps than splits.json lists (read between a writer's two
	// files) are refused.
	statsPath := filepath.Join(run, "stats.json")
	good, _ := os.ReadFile(statsPath)
	if err := os.WriteFile(statsPath, bytes.Replace(good, []byte(`"split": "`), []byte(`"split": "0`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := executeErr(ctx, "encode", "--run", run); err == nil || !strings.Contains(err.Error(), "other training maps") {
		t.Errorf("encode with statistics of other maps: %v", err)
	}
	os.WriteFile(statsPath, good, 0o644)
	// A reader of a run whose splits were drawn with another seed is refused, naming the file.
	seed9 := filepath.Join(dir, "seed9")
	execute(ctx, t, "prepare", "--config", cfg, "--out", seed9, "--seed", "9")
	b, _ = os.ReadFile(filepath.Join(seed9, "splits.json"))
	if err := os.WriteFile(filepath.Join(run, "splits.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := executeErr(ctx, "encode", "--run", run)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(run, "splits.json")) || !strings.Contains(err.Error(), "seed 9, now 7") {
		t.Errorf("encode with stale splits: %v", err)
	}
}

// TestStaleTemporariesRemoved: what killed processes left (temporaries of dead writers, the
// weights of a checkpoint without its JSON) goes at the next start; a live writer's stays.
func TestStaleTemporariesRemoved(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	run := filepath.Join(dir, "run")
	ctx := context.Background()
	execute(ctx, t, "train", "--config", cfg, "--out", run, "--epochs", "2")
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(gone.Process.Pid)
	live := filepath.Join(run, "checkpoints", ".epoch-00009.npz.tmp-"+strconv.Itoa(os.Getpid())+"-1")
	stale := []string{"checkpoints/.epoch-00003.npz.tmp-" + dead + "-1", "checkpoints/.best.json.tmp-" + dead + "-2",
		".metrics.jsonl.tmp-" + dead + "-3", "export/.encoder.onnx.tmp-" + dead + "-4", "checkpoints/epoch-00000.npz",
		"latents/.LH.parquet.tmp-" + dead + "-5", "latents/.LH.parquet.mu.npy.tmp-" + dead + "-6"}
	for _, f := range append(stale, live) {
		os.MkdirAll(filepath.Dir(filepath.Join(run, f)), 0o755)
		if !filepath.IsAbs(f) {
			f = filepath.Join(run, f)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	execute(ctx, t, "train", "--config", cfg, "--out", run, "--resume", "--epochs", "3")
	execute(ctx, t, "encode", "--run", run, "--npy")
	for _, f := range stale {
		if _, err := os.Stat(filepath.Join(run, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was not removed", f)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live writer's temporary was removed: %v", err)
	}
}

// TestEncodeTableLast: encode --npy killed between its two files never leaves a new table
// beside an older .mu.npy.
func TestEncodeTableLast(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	run := filepath.Join(dir, "run")
	ctx := context.Background()
	execute(ctx, t, "train", "--config", cfg, "--out", run, "--epochs", "1")
	table := filepath.Join(dir, "lh.parquet")
	execute(ctx, t, "encode", "--run", run, "--maps", "5", "--npy", "--out", table)
	code, out := camelsvae(t, []string{fault.Env + "=encode-between"}, "encode", "--run", run, "--maps", "10", "--npy", "--out", table)
	if code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed between the files\n%s", code, out)
	}
	lat, err := formats.ReadLatents(memory.DefaultAllocator, table)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(table + ".mu.npy")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mu, err := formats.ParseNpyHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if lat.Len() != 5 || mu.Shape[0] != 10 {
		t.Errorf("after a kill between the files: table %d rows, .mu.npy %d; want the old table (5) and the new npy (10)", lat.Len(), mu.Shape[0])
	}
}

// TestTrainTooLarge: a batch beyond the training split or the machine is refused before
// anything is allocated, naming train.batch.
func TestTrainTooLarge(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, dir)
	for _, batch := range []string{"1000000000000", "25"} {
		_, err := executeErr(context.Background(), "train", "--config", cfg, "--out", filepath.Join(dir, "run"+batch), "--batch", batch)
		if err == nil || !strings.Contains(err.Error(), "train.batch "+batch) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--batch %s: %v, want a one-line refusal naming train.batch", batch, err)
		}
	}
}
