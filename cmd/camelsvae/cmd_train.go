package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

// trainOptions are what `camelsvae train` runs with.
type trainOptions struct {
	dirOptions
	Resume bool
}

func newTrainCmd(runF func(context.Context, trainOptions) error) *cobra.Command {
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
			resume, _ := cmd.Flags().GetBool("resume")
			return runF(cmd.Context(), trainOptions{dirOptions{Env: envOf(cmd), Config: cfg, Dir: outRunDir(cmd)}, resume})
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	cmd.Flags().Bool("resume", false, "continue the run in --out from its newest checkpoint")
	cmd.Flags().Int("epochs", 0, "override train.epochs")
	cmd.Flags().Int("batch", 0, "override train.batch")
	cmd.Flags().Int64("seed", 0, "override seed")
	return cmd
}

// trainRun trains into the run directory under its lock; Ctrl-C prints how to resume.
func trainRun(ctx context.Context, o trainOptions) error {
	l, err := pipeline.Lock(o.Dir, "camelsvae train")
	if err != nil {
		return err
	}
	defer l.Release()
	err = pipeline.Train(ctx, o.Env, o.Config, o.Dir, o.Resume)
	if errors.Is(err, trainer.ErrInterrupted) {
		fmt.Fprintf(o.Env.Out, "stopped cleanly; resume with: camelsvae train --config %s --out %s --resume\n", o.Env.ConfigPath, o.Dir)
	}
	return err
}

// envOf is what the pipeline takes from the command: its output and --ort-lib.
func envOf(cmd *cobra.Command) pipeline.Env {
	lib, _ := cmd.Flags().GetString("ort-lib")
	return pipeline.Env{Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(), ORTLib: lib, ConfigPath: configArg(cmd)}
}

// loadRunConfig reads a run directory's config; flags and env still override, and the
// runtime comes from them and the defaults only, never from the run.
func loadRunConfig(cmd *cobra.Command, run string) (configs.Config, error) {
	cfg, warnings, err := pipeline.LoadRunConfig(run, flagOverrides(cmd.Flags()), os.Environ())
	printWarnings(cmd, warnings)
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
