package main

import (
	"fmt"
	"path/filepath"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

func newPrepareCmd() *cobra.Command {
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
			run := outRunDir(cmd)
			l, err := lock.Acquire(run, "camelsvae prepare")
			if err != nil {
				return err
			}
			defer l.Release()
			// Splits and statistics of other settings are redrawn, unless a model was
			// trained on them.
			prepare := trainer.PrepareFresh
			if latest, err := trainer.LatestCheckpoint(run); err != nil {
				return err
			} else if latest != "" {
				prepare = trainer.Prepare
			}
			d, err := prepare(cmd.Context(), cfg, run)
			if err != nil {
				return err
			}
			defer d.Close()
			out := cmd.OutOrStdout()
			s := d.Splits
			fmt.Fprintf(out, "splits (%s, by %s, seed %d): train %d, val %d, test %d maps; %s test subset %d maps\n",
				s.TrainSet, s.SplitBy, s.Seed, len(s.Train), len(s.Val), len(s.Test), s.TestSet, len(s.TestSetMaps))
			for c, f := range formats.Fields {
				fmt.Fprintf(out, "stats %-4s %-5s mean %.4f std %.4f\n", f, d.Stats.Transforms[c], d.Stats.Mean[c], d.Stats.Std[c])
			}
			if d.Stats.Floored > 0 {
				fmt.Fprintf(out, "warning: %d non-positive values in log10 channels were floored to %g\n", d.Stats.Floored, d.Stats.Floor)
			}
			fmt.Fprintf(out, "wrote %s and %s\n", filepath.Join(run, trainer.SplitsFile), filepath.Join(run, trainer.StatsFile))
			return nil
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	cmd.Flags().Int64("seed", 0, "override seed")
	cmd.Flags().String("data", "", "override data.dir")
	return cmd
}
