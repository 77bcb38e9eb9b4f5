package main

import (
	"context"

	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/spf13/cobra"
)

func newPrepareCmd(runF func(context.Context, dirOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prepare --config F --out RUN_DIR",
		Short: "Write a run's splits.json and stats.json (training-split statistics) into RUN_DIR",
		Long: "prepare opens the CMD files of the config, splits the training set with the seed\n" +
			"(data.train_frac, data.val_frac, data.split_by), picks the test-set subset (data.test_maps)\n" +
			"and computes per-channel mean and std of the transformed training maps. Both files are\n" +
			"written atomically; existing ones are reused when they agree with the config and the data,\n" +
			"and drawn again when they do not, unless a model was trained on them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runF(cmd.Context(), dirOptions{Env: envOf(cmd), Config: cfg, Dir: outRunDir(cmd)})
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	cmd.Flags().Int64("seed", 0, "override seed")
	cmd.Flags().String("data", "", "override data.dir")
	return cmd
}

// prepareRun prepares the run directory under its lock.
func prepareRun(ctx context.Context, o dirOptions) error {
	l, err := pipeline.Lock(o.Dir, "camelsvae prepare")
	if err != nil {
		return err
	}
	defer l.Release()
	return pipeline.PrepareDir(ctx, o.Env, o.Config, o.Dir)
}
