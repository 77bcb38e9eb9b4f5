package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Run-directory layout shared by the commands (training's part is the trainer's).
const (
	runConfigFile = trainer.ConfigFile
	exportDir     = trainer.ExportDir
)

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train --config F [--out RUN_DIR] [--resume]",
		Short: "Train the VAE from a config; Ctrl-C writes a checkpoint, --resume continues",
		Long: "train prepares the data (splits and training statistics, saved in the run directory),\n" +
			"builds the ONNX training artifacts, and runs epochs with validation, KL warm-up, early\n" +
			"stopping and checkpoints. The best model is exported to RUN_DIR/export/.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			run := outRunDir(cmd)
			resume, _ := cmd.Flags().GetBool("resume")
			l, err := lock.Acquire(run, "camelsvae train")
			if err != nil {
				return err
			}
			defer l.Release()
			err = trainRun(cmd, cfg, run, resume)
			if errors.Is(err, trainer.ErrInterrupted) {
				fmt.Fprintf(cmd.OutOrStdout(), "stopped cleanly; resume with: camelsvae train --config %s --out %s --resume\n", configArg(cmd), run)
			}
			return err
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	cmd.Flags().Bool("resume", false, "continue the run in --out from its newest checkpoint")
	cmd.Flags().Int("epochs", 0, "override train.epochs")
	cmd.Flags().Int("batch", 0, "override train.batch")
	cmd.Flags().Int64("seed", 0, "override seed")
	return cmd
}

// trainRun trains (or resumes) into run, which the caller has locked, and exports the best
// model. Ctrl-C returns trainer.ErrInterrupted after the checkpoint is written.
func trainRun(cmd *cobra.Command, cfg configs.Config, run string, resume bool) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if err := setupRuntime(cmd, cfg); err != nil {
		return err
	}
	latest, err := trainer.LatestCheckpoint(run)
	if err != nil {
		return err
	}
	if latest != "" && !resume {
		return fmt.Errorf("run directory %s already holds a training (checkpoint %s): continue it with --resume, or choose another --out", run, latest)
	}
	if err := trainer.CleanRun(run); err != nil {
		return err
	}
	if err := recordRunConfig(run, cfg); err != nil {
		return err
	}
	// A training that starts over may replace splits and statistics drawn with other
	// settings; one that continues must use its own.
	prepare := trainer.Prepare
	if latest == "" {
		prepare = trainer.PrepareFresh
	}
	data, err := prepare(ctx, cfg, run)
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
		run, len(data.Splits.Train), cfg.Data.Augment, len(data.Splits.Val), cfg.Data.Size, cfg.Data.Size, cfg.Train.Batch, cfg.Train.Epochs)
	res, err := trainer.Train(ctx, trainer.Options{Config: cfg, Run: run, Resume: resume, Train: train, Val: val, Log: out})
	if err != nil {
		return err
	}
	if err := trainer.Export(filepath.Join(run, exportDir), cfg, res.Params, data.Stats); err != nil {
		return err
	}
	fmt.Fprintf(out, "exported %s and %s to %s\n", trainer.EncoderFile, trainer.DecoderFile, filepath.Join(run, exportDir))
	return nil
}

// setupRuntime loads ONNX Runtime as the flags and config say and, for a GPU provider,
// checks at once that it runs.
func setupRuntime(cmd *cobra.Command, cfg configs.Config) error {
	lib, _ := cmd.Flags().GetString("ort-lib")
	if _, err := onnx.Setup(lib, cfg.Runtime); err != nil {
		return err
	}
	if cfg.Runtime.Provider != "cpu" {
		return onnx.CheckProvider(cfg.Runtime)
	}
	return nil
}

// recordRunConfig records the config a run trains with in RUN/config.yaml. A directory whose
// config differs in a key that defines training (configs.TrainingDiff) is refused, naming the
// keys; other keys (train.epochs, train.keep_last, eval.*) are recorded as they are now. The
// runtime section is left out: the provider is a property of a process, not of the run.
func recordRunConfig(run string, cfg configs.Config) error {
	was, err := readRunConfig(run)
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
				run, strings.Join(diff, ", "))
		}
	}
	b, err := runConfigBytes(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(run, runConfigFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
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
func readRunConfig(run string) (*configs.Config, error) {
	path := filepath.Join(run, runConfigFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cfg, err := resolveConfig(path, nil, nil)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// loadRunConfig reads a run directory's resolved config; flags and env still override, and
// the runtime comes from them and the defaults only, never from the run.
func loadRunConfig(cmd *cobra.Command, run string) (configs.Config, error) {
	path := filepath.Join(run, runConfigFile)
	if _, err := os.Stat(path); err != nil {
		return configs.Config{}, fmt.Errorf("run directory %s: no %s (train a model into it first)", run, runConfigFile)
	}
	cfg, err := resolveConfig(path, cmd.Flags(), os.Environ())
	if err != nil {
		return cfg, err
	}
	rt, err := resolveConfig("", cmd.Flags(), os.Environ())
	cfg.Runtime = rt.Runtime
	return cfg, err
}

// outRunDir is --out, or runs/<config file name without extension> (runs/default).
func outRunDir(cmd *cobra.Command) string {
	if out, _ := cmd.Flags().GetString("out"); out != "" {
		return out
	}
	name := "default"
	if c := configArg(cmd); c != "" {
		name = strings.TrimSuffix(filepath.Base(c), filepath.Ext(c))
	}
	return filepath.Join("runs", name)
}

func configArg(cmd *cobra.Command) string {
	c, _ := cmd.Flags().GetString("config")
	return c
}
