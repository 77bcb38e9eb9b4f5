package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func flagsWith(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := NewRootCommand().PersistentFlags()
	fs.Int("batch", 0, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestConfigPrecedence checks every layer: defaults < file < env < flag.
func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, "train:\n  batch: 8\n  lr: 0.001\n")
	cases := []struct {
		name      string
		path      string
		env       []string
		args      []string
		wantBatch int
		wantLR    float64
	}{
		{"defaults", "", nil, nil, 16, 3e-4},
		{"file over defaults", file, nil, nil, 8, 1e-3},
		{"env over file", file, []string{"CAMELSVAE_TRAIN_BATCH=4"}, nil, 4, 1e-3},
		{"flag over env", file, []string{"CAMELSVAE_TRAIN_BATCH=4"}, []string{"--batch=2"}, 2, 1e-3},
		{"env without file", "", []string{"CAMELSVAE_TRAIN_LR=0.01"}, nil, 16, 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := resolveConfig(c.path, flagsWith(t, c.args...), c.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Train.Batch != c.wantBatch || cfg.Train.LR != c.wantLR {
				t.Fatalf("batch %d lr %g, want %d %g", cfg.Train.Batch, cfg.Train.LR, c.wantBatch, c.wantLR)
			}
		})
	}
}

// TestConfigErrors checks that each bad input gives one line naming the key or file.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, body string
		env        []string
		missing    bool
		want       []string
	}{
		{"unknown key", "train:\n  batchsize: 8\n", nil, false, []string{"unknown key", "train.batchsize"}},
		{"negative batch", "train:\n  batch: -1\n", nil, false, []string{"train.batch", "-1"}},
		{"negative batch from env", "", []string{"CAMELSVAE_TRAIN_BATCH=-3"}, false, []string{"train.batch", "-3"}},
		{"bad provider", "runtime:\n  provider: tpu\n", nil, false, []string{"runtime.provider", "tpu"}},
		{"bad webgpu layout", "runtime:\n  webgpu_layout: NCWH\n", nil, false, []string{"runtime.webgpu_layout", "NCWH"}},
		{"provider option without =", "runtime:\n  provider_options: \"deviceId\"\n", nil, false, []string{"runtime.provider_options", "deviceId"}},
		{"graph capture refused", "", []string{"CAMELSVAE_RUNTIME_PROVIDER_OPTIONS=enableGraphCapture=1"}, false, []string{"runtime.provider_options", "enableGraphCapture"}},
		{"missing file", "", nil, true, []string{"nope.yaml"}},
		{"not yaml", "train: [1, 2\n", nil, false, []string{"config file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := ""
			if c.missing {
				path = filepath.Join(t.TempDir(), "nope.yaml")
			} else if c.body != "" {
				path = writeConfig(t, c.body)
			}
			_, err := resolveConfig(path, nil, c.env)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not name %q", msg, w)
				}
			}
		})
	}
}

// TestShippedConfigsLoad keeps the YAML files in configs/ valid against the schema.
func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs/*.yaml found")
	}
	for _, f := range files {
		if _, err := resolveConfig(f, nil, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
