package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/camelsvae/camelsvae/trainer"
	"go.yaml.in/yaml/v3"
)

// cli runs the root command with args and returns its stdout, stderr and error.
func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// wantOneLine fails unless err is a one-line error containing every part of want.
func wantOneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line containing %q", err, w)
		}
	}
}

// runDirWithConfig makes a run directory holding only the resolved default config.
func runDirWithConfig(t *testing.T) string {
	t.Helper()
	run := t.TempDir()
	b, err := yaml.Marshal(configs.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, trainer.ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestRunRequired: the commands that read a run directory say that --run is missing
// (they used to say "run directory : no config.yaml").
func TestRunRequired(t *testing.T) {
	for _, args := range [][]string{{"eval"}, {"pca"}, {"report"}, {"encode"}, {"export", "--out", t.TempDir()}, {"export"}} {
		_, _, err := cli(t, args...)
		wantOneLine(t, err, "--run is required")
	}
}

// TestEncodeUnknownSet: a --set the run does not open names the sets it does (it used to
// fail with "loader has no items").
func TestEncodeUnknownSet(t *testing.T) {
	_, _, err := cli(t, "encode", "--run", runDirWithConfig(t), "--set", "XX")
	wantOneLine(t, err, "--set XX", "CV (data.train_set)", "LH (data.test_set)")
}

// TestEnvWarningOnStderr: commands print one warning line per unknown CAMELSVAE_* variable
// on stderr, also when the config then fails, and for run-directory commands.
func TestEnvWarningOnStderr(t *testing.T) {
	t.Setenv("CAMELSVAE_TRAIN_BOGUS", "3")
	t.Setenv("CAMELSVAE_TRAIN_BATCH", "-1")
	stdout, stderr, err := cli(t, "graphs", "--out", t.TempDir())
	wantOneLine(t, err, "train.batch")
	if !strings.Contains(stderr, "warning: CAMELSVAE_TRAIN_BOGUS") || strings.Count(stderr, "\n") != 1 || strings.Contains(stdout, "BOGUS") {
		t.Fatalf("stderr %q, stdout %q: want the warning as one line on stderr", stderr, stdout)
	}
	t.Setenv("CAMELSVAE_TRAIN_BATCH", "16")
	_, stderr, err = cli(t, "export", "--run", runDirWithConfig(t))
	wantOneLine(t, err, "--out is required")
	if !strings.Contains(stderr, "warning: CAMELSVAE_TRAIN_BOGUS") {
		t.Fatalf("export: stderr %q", stderr)
	}
}

// TestGraphsTooLarge: `graphs` refuses a model too large for this machine before drawing its
// weights (CAMELSVAE_MODEL_WIDTH_MULT=64 ran out of memory).
func TestGraphsTooLarge(t *testing.T) {
	cfg := configs.Default()
	cfg.Model.WidthMult = 128
	e, err := trainer.EstimateGraphs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if avail, ok := trainer.MachineMemory(); !ok || float64(avail) >= e.Host {
		t.Skipf("this machine's memory (%d bytes) is unknown or holds %s", avail, trainer.FormatBytes(e.Host))
	}
	t.Setenv("CAMELSVAE_MODEL_WIDTH_MULT", "128")
	out := t.TempDir()
	_, _, err = cli(t, "graphs", "--out", out)
	wantOneLine(t, err, "model.width_mult 128", "the graphs need about", "this machine has")
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Fatalf("wrote %d files", len(entries))
	}
}

// writeTinySet writes a CMD set of sims simulations of side x side positive maps.
func writeTinySet(t *testing.T, dir, set string, sims, side int) {
	t.Helper()
	n := sims * formats.MapsPerSim
	m := make([]float32, side*side)
	for _, field := range configs.Names(configs.StudyFields()) {
		w, err := formats.CreateMaps(formats.MapPath(dir, field, "IllustrisTNG", set), n, side, side)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			for j := range m {
				m[j] = 1 + float32((i*31+j*7)%97)
			}
			if err := w.WriteMap(i, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	params := make([]formats.Params, sims)
	for i := range params {
		params[i] = formats.Params{0.1 + 0.1*float64(i), 0.8, 1, 1, 1, 1}
	}
	if err := formats.WriteParams(formats.ParamsPath(dir, set, "IllustrisTNG"), params); err != nil {
		t.Fatal(err)
	}
}

// TestEvalTooFewTestMaps: with data.test_maps 0 (the whole set) and a test set smaller than
// eval.clusters, eval stops before any work with the counts and keys named (K-means
// panicked).
func TestEvalTooFewTestMaps(t *testing.T) {
	dir := t.TempDir()
	writeTinySet(t, dir, "CV", 2, 32)
	writeTinySet(t, dir, "LH", 1, 32)
	cfg := configs.Default()
	cfg.Data.Dir, cfg.Data.Size, cfg.Synth.Size, cfg.Data.TestMaps, cfg.Eval.Clusters = dir, 32, 32, 0, 20
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	_, err := pipeline.Evaluate(context.Background(), pipeline.Env{}, cfg, run)
	wantOneLine(t, err, "15 LH test maps", "data.test_maps 0", "eval.clusters 20", "at least 20")
	if _, err := os.Stat(filepath.Join(run, pipeline.ReportDir)); !os.IsNotExist(err) {
		t.Fatalf("report directory: %v", err)
	}
}

// TestBenchTooLarge: bench refuses an absurd train.batch before allocating it.
func TestBenchTooLarge(t *testing.T) {
	if _, ok := trainer.MachineMemory(); !ok {
		t.Skip("this machine's memory is unknown")
	}
	t.Setenv("CAMELSVAE_TRAIN_BATCH", "1000000000000")
	_, _, err := cli(t, "bench", "--steps", "1")
	wantOneLine(t, err, "train.batch 1000000000000 at 256x256: training needs about", "this machine has")
}
