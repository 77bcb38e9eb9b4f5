package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camelsvae/camelsvae/trainer"
)

// tinyRun is the demo's model (64x64, a quarter of the widths) on a few generated
// simulations, two epochs: the whole pipeline in seconds.
const tinyRun = `seed: 7
data:
  dir: DIR/data
  size: 64
  test_maps: 30
  train_frac: 0.8
  val_frac: 0.2
synth:
  sets: [CV, LH]
  cv_sims: 4
  lh_sims: 2
  size: 64
model:
  width_mult: 0.25
  latent: 32
loss:
  warmup_epochs: 1
train:
  epochs: 2
  batch: 8
  lr: 1.0e-3
pca:
  components: 16
  solver: exact
eval:
  grid_maps: 2
  noskip_baseline: NOSKIP
runtime:
  intra_op_threads: 2
`

func execute(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("camelsvae %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func tinyConfigFile(t *testing.T, dir string, noskip bool) string {
	body := strings.ReplaceAll(tinyRun, "DIR", dir)
	body = strings.ReplaceAll(body, "NOSKIP", map[bool]string{true: "true", false: "false"}[noskip])
	path := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPipeline runs `camelsvae run` end to end on generated data: every stage leaves its
// outputs, the validation loss falls over two epochs, a second run reuses every stage, and a
// changed PCA setting reruns only pca and eval.
func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfigFile(t, dir, true)
	run := filepath.Join(dir, "run")
	out := execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	for _, f := range []string{"stats.json", "splits.json", "metrics.jsonl", "export/encoder.onnx", "export/decoder.onnx",
		"noskip/export/encoder.onnx", "pca/pca.npz", "latents/LH.parquet", "report/results.json", "report/report.html",
		"report/report.md", "report/figures/reconstructions.png", "report/figures/loss.png"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("missing %s after the pipeline", f)
		}
	}
	ms, err := trainer.ReadMetrics(filepath.Join(run, "metrics.jsonl"))
	if err != nil || len(ms) != 2 {
		t.Fatalf("metrics: %v, %d epochs", err, len(ms))
	}
	if !(ms[1].Val.Total < ms[0].Val.Total) || !(ms[1].Val.MSE < ms[0].Val.MSE) {
		t.Errorf("validation loss did not fall: epoch 1 %+v, epoch 2 %+v", ms[0].Val, ms[1].Val)
	}
	var res struct {
		Methods []struct {
			Name string
			MSE  struct{ Mean float64 }
		}
	}
	b, _ := os.ReadFile(filepath.Join(run, "report/results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	names := ""
	for _, m := range res.Methods {
		names += m.Name + ";"
		if !(m.MSE.Mean > 0) {
			t.Errorf("%s: MSE %g", m.Name, m.MSE.Mean)
		}
	}
	for _, want := range []string{"VAE (skips)", "VAE, skips zeroed", "VAE, another map's skips", "VAE, no skips", "PCA-16"} {
		if !strings.Contains(names, want+";") {
			t.Errorf("results lack %q (have %s)", want, names)
		}
	}
	if !strings.Contains(out, "report: ") {
		t.Errorf("the summary does not name the report:\n%s", out)
	}

	again := execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	if strings.Count(again, "up to date") != 7 {
		t.Errorf("a second run should reuse all 7 stages:\n%s", again)
	}
	body, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, bytes.Replace(body, []byte("components: 16"), []byte("components: 8"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	for _, st := range []string{"synth", "prepare", "train", "noskip", "encode"} {
		if !strings.Contains(changed, st) || !regexpUpToDate(changed, st) {
			t.Errorf("stage %s should be reused after a PCA change:\n%s", st, changed)
		}
	}
	if regexpUpToDate(changed, "pca") || regexpUpToDate(changed, "eval") {
		t.Errorf("pca and eval should rerun after a PCA change:\n%s", changed)
	}
}

func regexpUpToDate(out, stage string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == stage && f[2] == "up" {
			return true
		}
	}
	return false
}

// TestPipelineResumesAfterInterrupt stops the pipeline during training (as Ctrl-C does) and
// runs it again: training resumes from the checkpoint instead of starting over.
func TestPipelineResumesAfterInterrupt(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfigFile(t, dir, false)
	run := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(run, "checkpoints", "epoch-00001.json")); err == nil {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	out, err := executeErr(ctx, "run", "--config", cfg, "--out", run)
	cancel()
	if !errors.Is(err, trainer.ErrInterrupted) || !strings.Contains(out, "stopped cleanly") {
		t.Fatalf("an interrupted run should stop cleanly and say it did not finish: %v\n%s", err, out)
	}
	again := execute(context.Background(), t, "run", "--config", cfg, "--out", run)
	if !strings.Contains(again, "resuming") {
		t.Fatalf("the second run should resume training:\n%s", again)
	}
	ms, err := trainer.ReadMetrics(filepath.Join(run, "metrics.jsonl"))
	if err != nil || len(ms) != 2 || ms[0].Epoch != 1 || ms[1].Epoch != 2 {
		t.Fatalf("metrics after resume: %v %+v", err, ms)
	}
}
