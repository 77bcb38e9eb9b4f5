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
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Run-directory layout shared by the commands.
const (
	runConfigFile = "config.yaml"
	exportDir     = "export"
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
			err = trainRun(cmd, cfg, run, resume)
			if errors.Is(err, trainer.ErrInterrupted) {
				fmt.Fprintf(cmd.OutOrStdout(), "stopped cleanly; resume with: camelsvae train --config %s --out %s --resume\n", configArg(cmd), run)
				return nil
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

// trainRun trains (or resumes) into run and exports the best model. Ctrl-C returns
// trainer.ErrInterrupted after the checkpoint is written.
func trainRun(cmd *cobra.Command, cfg configs.Config, run string, resume bool) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if err := setupRuntime(cmd, cfg); err != nil {
		return err
	}
	if err := saveRunConfig(run, cfg, resume); err != nil {
		return err
	}
	data, err := trainer.Prepare(ctx, cfg, run)
	if err != nil {
		return err
	}
	defer data.Close()
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

// setupRuntime loads ONNX Runtime as the flags and config say.
func setupRuntime(cmd *cobra.Command, cfg configs.Config) error {
	lib, _ := cmd.Flags().GetString("ort-lib")
	_, err := onnx.Setup(lib, cfg.Runtime)
	return err
}

// saveRunConfig records the resolved config in the run directory. A fresh run refuses a
// directory that holds another run's config; a resumed run keeps the one it has.
func saveRunConfig(run string, cfg configs.Config, resume bool) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(run, runConfigFile)
	if old, err := os.ReadFile(path); err == nil {
		if resume || string(old) == string(b) {
			return nil
		}
		return fmt.Errorf("run directory %s holds another run's %s: pass --resume, or choose another --out", run, runConfigFile)
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	return formats.WriteFile(path, b)
}

// loadRunConfig reads a run directory's resolved config (flags and env still override).
func loadRunConfig(cmd *cobra.Command, run string) (configs.Config, error) {
	path := filepath.Join(run, runConfigFile)
	if _, err := os.Stat(path); err != nil {
		return configs.Config{}, fmt.Errorf("run directory %s: no %s (train a model into it first)", run, runConfigFile)
	}
	return resolveConfig(path, cmd.Flags(), os.Environ())
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
