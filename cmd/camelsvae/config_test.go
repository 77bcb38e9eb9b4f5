package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
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
		{"NaN beta", "loss:\n  beta: .nan\n", nil, false, []string{"loss.beta", "finite", "NaN"}},
		{"NaN free bits", "loss:\n  free_bits: .nan\n", nil, false, []string{"loss.free_bits", "finite"}},
		{"infinite lr", "train:\n  lr: .inf\n", nil, false, []string{"train.lr", "finite", "+Inf"}},
		{"NaN lr from env", "", []string{"CAMELSVAE_TRAIN_LR=NaN"}, false, []string{"train.lr", "finite"}},
		{"NaN mse weight", "loss:\n  mse_weight: .nan\n", nil, false, []string{"loss.mse_weight", "finite"}},
		{"infinite ridge", "eval:\n  ridge: .inf\n", nil, false, []string{"eval.ridge", "finite"}},
		{"NaN leaky slope", "model:\n  leaky_slope: .nan\n", nil, false, []string{"model.leaky_slope", "finite"}},
		{"NaN val frac", "data:\n  val_frac: .nan\n", nil, false, []string{"data.val_frac", "finite"}},
		{"infinite width", "model:\n  width_mult: .inf\n", nil, false, []string{"model.width_mult", "finite"}},
		{"huge width", "model:\n  width_mult: 1.0e300\n", nil, false, []string{"model.width_mult", "model.widths", "65536"}},
		{"huge data size", "data:\n  size: 1099511627776\n", nil, false, []string{"data.size", "65536"}},
		{"int overflow", "train: {epochs: 99999999999999999999999}\n", nil, false, []string{"train.epochs: 1e+23 does not fit in an integer"}},
		{"uint overflow", "train: {epochs: 18446744073709551615}\n", nil, false, []string{"train.epochs: 18446744073709551615 does not fit in an integer"}},
		{"int overflow from env", "", []string{"CAMELSVAE_TRAIN_EPOCHS=99999999999999999999999"}, false, []string{"train.epochs", "does not fit in an integer"}},
		{"fractional batch", "train: {batch: 16.5}\n", nil, false, []string{"train.batch: 16.5 is not an integer"}},
		{"width overflow", "model: {widths: [32, 64, 1.0e30, 256, 512]}\n", nil, false, []string{"model.widths[2]: 1e+30 does not fit"}},
		{"word for a number", "", []string{"CAMELSVAE_TRAIN_BATCH=many"}, false, []string{"train.batch", `"many" is not an integer`}},
		{"value for a section", "data: 5\n", nil, false, []string{"run.yaml", "data must be a section", "got 5"}},
		{"section for a value", "train:\n  batch:\n    size: 8\n", nil, false, []string{"train.batch is a single value, not a section"}},
		{"too few test maps", "data:\n  test_maps: 4\n", nil, false, []string{"data.test_maps", "eval.clusters 5", ">= 5"}},
		{"one test map", "data:\n  test_maps: 1\neval:\n  clusters: 2\n", nil, false, []string{"data.test_maps", ">= 2"}},
		{"one cluster", "eval:\n  clusters: 1\n", nil, false, []string{"eval.clusters", ">= 2"}},
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

// TestConfigIntegers: integers written as whole floats (YAML 1e3, env 1e3) still load.
func TestConfigIntegers(t *testing.T) {
	cfg, err := resolveConfig(writeConfig(t, "train: {epochs: 1.0e3}\n"), nil, []string{"CAMELSVAE_TRAIN_BATCH=8", "CAMELSVAE_TRAIN_EVAL_BATCH=6.4e1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.Epochs != 1000 || cfg.Train.Batch != 8 || cfg.Train.EvalBatch != 64 {
		t.Fatalf("epochs %d batch %d eval_batch %d", cfg.Train.Epochs, cfg.Train.Batch, cfg.Train.EvalBatch)
	}
}

// TestEnvWarnings: a CAMELSVAE_* variable that is neither a config key nor one of the
// program's own is warned about (one line each, with the closest name or the section's
// keys); config keys and the program's variables are not.
func TestEnvWarnings(t *testing.T) {
	env := []string{"CAMELSVAE_TRAIN_BOGUS=3", "CAMELSVAE_TRAIN_BACTH=4", "CAMELSVAE_TRAIN_BATCH=8", "CAMELSVAE_ORT_LIB=/x.so",
		"CAMELSVAE_TEST_PROVIDER=cpu", "CAMELSVAE_DUMP_GRAPHS=/tmp", "CAMELSVAE_FAULT=x", "CAMELSVAE_TEST_MAIN=1", "OTHER_TRAIN_BOGUS=1"}
	cfg, warnings, err := resolveConfigWarn("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.Batch != 8 {
		t.Fatalf("batch %d", cfg.Train.Batch)
	}
	if len(warnings) != 2 {
		t.Fatalf("want 2 warnings, got %q", warnings)
	}
	for i, want := range [][]string{
		{"CAMELSVAE_TRAIN_BACTH", "did you mean CAMELSVAE_TRAIN_BATCH?"},
		{"CAMELSVAE_TRAIN_BOGUS", "CAMELSVAE_TRAIN_ takes BATCH, BETA1", "EPOCHS"},
	} {
		for _, w := range want {
			if !strings.Contains(warnings[i], w) || strings.Contains(warnings[i], "\n") {
				t.Errorf("warning %q: want one line containing %q", warnings[i], w)
			}
		}
	}
	// Warnings come with errors too: the typo may be why a value is wrong.
	if _, warnings, err := resolveConfigWarn("", nil, []string{"CAMELSVAE_TRAIN_EPOCH=5", "CAMELSVAE_TRAIN_BATCH=-1"}); err == nil ||
		len(warnings) != 1 || !strings.Contains(warnings[0], "CAMELSVAE_TRAIN_EPOCHS") {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
}

// TestProgramEnv: every variable the program or its tests read is known to the warnings.
func TestProgramEnv(t *testing.T) {
	for _, name := range []string{onnx.EnvLibrary, fault.Env, onnxtest.EnvProvider, onnxtest.EnvDump, testMainEnv} {
		if !slices.Contains(configs.ProgramEnv, name) {
			t.Errorf("%s is missing from configs.ProgramEnv", name)
		}
	}
}
