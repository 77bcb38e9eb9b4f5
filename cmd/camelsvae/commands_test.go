package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/trainer"
)

// TestCommandOptions checks the commands' first half: flags and configs become the options
// their run function gets (the run functions are the pipeline's, tested end to end).
func TestCommandOptions(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("train: {batch: 8}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got trainOptions
	cmd := newTrainCmd(func(_ context.Context, o trainOptions) error { got = o; return nil })
	cmd.PersistentFlags().AddFlagSet(NewRootCommand().PersistentFlags())
	cmd.SetArgs([]string{"--config", cfgPath, "--resume", "--epochs", "3", "--ort-lib", "/x.so"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !got.Resume || got.Dir != filepath.Join("runs", "c") || got.Config.Train.Batch != 8 || got.Config.Train.Epochs != 3 ||
		got.Env.ORTLib != "/x.so" || got.Env.ConfigPath != cfgPath {
		t.Errorf("train options: %+v", got)
	}

	// A run directory's own config, with flags on top, for the --run commands.
	run := filepath.Join(dir, "run")
	c := configs.Default()
	c.Train.Batch = 4
	b, _ := yaml.Marshal(c)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, trainer.ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var enc encodeOptions
	cmd = newEncodeCmd(func(_ context.Context, o encodeOptions) error { enc = o; return nil })
	cmd.PersistentFlags().AddFlagSet(NewRootCommand().PersistentFlags())
	cmd.SetArgs([]string{"--run", run, "--set", "CV", "--maps", "all", "--npy", "--provider", "webgpu"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if enc.Dir != run || enc.Config.Train.Batch != 4 || enc.Config.Runtime.Provider != "webgpu" ||
		enc.Encode.Set != "CV" || enc.Encode.Maps != "all" || !enc.Encode.NPY || enc.Encode.Batch != 64 {
		t.Errorf("encode options: %+v", enc)
	}
}
