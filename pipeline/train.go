package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.yaml.in/yaml/v3"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/trainer"
)

// Train trains (or, with resume, continues) the model of cfg in the run directory dir, which
// the caller has locked, and exports the best model. Ctrl-C returns trainer.ErrInterrupted
// once the checkpoint is written.
func Train(ctx context.Context, env Env, cfg configs.Config, dir string, resume bool) error {
	out := env.out()
	if err := SetupRuntime(env, cfg); err != nil {
		return err
	}
	latest, err := trainer.LatestCheckpoint(dir)
	if err != nil {
		return err
	}
	if latest != "" && !resume {
		return fmt.Errorf("run directory %s already holds a training (checkpoint %s): continue it with --resume, or choose another --out", dir, latest)
	}
	if err := trainer.CleanRun(dir); err != nil {
		return err
	}
	if err := recordRunConfig(dir, cfg); err != nil {
		return err
	}
	// A training that starts over may replace splits and statistics drawn with other
	// settings; one that continues must use its own.
	prepare := Prepare
	if latest == "" {
		prepare = PrepareFresh
	}
	data, err := prepare(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer data.Close()
	// Refuse a batch or model too large for the split or the machine before allocating it.
	if err := trainer.CheckTraining(cfg, len(data.Splits.Train)); err != nil {
		return err
	}
	train, val, err := data.Feeds(memory.DefaultAllocator, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "training %s: %d train maps x %s augmentation, %d validation maps, %dx%d, batch %d, %d epochs\n",
		dir, len(data.Splits.Train), cfg.Data.Augment, len(data.Splits.Val), cfg.Data.Size, cfg.Data.Size, cfg.Train.Batch, cfg.Train.Epochs)
	res, err := trainer.Train(ctx, trainer.Options{Config: cfg, Run: dir, Resume: resume, Train: train, Val: val, Log: out})
	if err != nil {
		return err
	}
	if err := trainer.Export(ExportDir(dir), cfg, res.Params, data.Stats); err != nil {
		return err
	}
	fmt.Fprintf(out, "exported %s and %s to %s\n", trainer.EncoderFile, trainer.DecoderFile, ExportDir(dir))
	return nil
}

// recordRunConfig records the config a run trains with in RUN/config.yaml. A directory whose
// config differs in a key that defines training (configs.TrainingDiff) is refused, naming the
// keys; other keys (train.epochs, train.keep_last, eval.*) are recorded as they are now. The
// runtime section is left out: the provider is a property of a process, not of the run.
func recordRunConfig(dir string, cfg configs.Config) error {
	was, err := readRunConfig(dir)
	if err != nil {
		return err
	}
	if was != nil {
		diff, err := configs.TrainingDiff(*was, cfg)
		if err != nil {
			return err
		}
		if len(diff) > 0 {
			return fmt.Errorf("run directory %s was trained with other settings (%s): a run keeps the settings that define its training (it may change train.epochs and train.patience); choose another --out",
				dir, strings.Join(diff, ", "))
		}
	}
	b, err := runConfigBytes(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, trainer.ConfigFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return formats.WriteFile(path, b)
}

// runConfigBytes is the YAML of a run's config without its runtime section.
func runConfigBytes(cfg configs.Config) ([]byte, error) {
	var m map[string]any
	b, err := yaml.Marshal(cfg)
	if err == nil {
		err = yaml.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, err
	}
	delete(m, "runtime")
	return yaml.Marshal(m)
}

// readRunConfig reads RUN/config.yaml as recorded (nil when there is none).
func readRunConfig(dir string) (*configs.Config, error) {
	path := filepath.Join(dir, trainer.ConfigFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cfg, _, err := configs.Load(path, nil, nil)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// LoadRunConfig reads a run directory's config; overrides (flags) and environ still win, and
// the runtime comes from them and the defaults only, never from the run. It returns
// configs.Load's warnings too.
func LoadRunConfig(dir string, overrides map[string]string, environ []string) (configs.Config, []string, error) {
	path := filepath.Join(dir, trainer.ConfigFile)
	if _, err := os.Stat(path); err != nil {
		return configs.Config{}, nil, fmt.Errorf("run directory %s: no %s (train a model into it first)", dir, trainer.ConfigFile)
	}
	cfg, warnings, err := configs.Load(path, overrides, environ)
	if err != nil {
		return cfg, warnings, err
	}
	rt, _, err := configs.Load("", overrides, environ)
	cfg.Runtime = rt.Runtime
	return cfg, warnings, err
}
