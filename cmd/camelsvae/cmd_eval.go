package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/camelsvae/camelsvae/eval"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/spf13/cobra"
)

// newRunDirCmd builds a command that works on an existing run directory (--run): its
// config is the run's, with flags and the environment on top.
func newRunDirCmd(use, short, long string, runF func(context.Context, dirOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			cfg, err := runDirConfig(cmd, run)
			if err != nil {
				return err
			}
			return runF(cmd.Context(), dirOptions{Env: envOf(cmd), Config: cfg, Dir: run})
		},
	}
	cmd.Flags().String("run", "", "run directory of a trained model")
	return cmd
}

func newPCACmd(runF func(context.Context, dirOptions) error) *cobra.Command {
	cmd := newRunDirCmd("pca --run RUN_DIR", "Fit the PCA baseline (pca.components, default 256) on the run's training maps", "", runF)
	cmd.Flags().Lookup("run").Usage = "run directory (after prepare or train)"
	return cmd
}

// pcaRun fits the baseline under the run directory's lock.
func pcaRun(ctx context.Context, o dirOptions) error {
	l, err := pipeline.Lock(o.Dir, "camelsvae pca")
	if err != nil {
		return err
	}
	defer l.Release()
	return pipeline.PCA(ctx, o.Env, o.Config, o.Dir)
}

func newEvalCmd(runF func(context.Context, dirOptions) error) *cobra.Command {
	return newRunDirCmd("eval --run RUN_DIR",
		"Compare the VAE with the PCA baseline on the test set: metrics, spectra, latents, figures",
		"eval reconstructs the run's test-set maps with the VAE (own skips, zeroed skips, another\n"+
			"map's skips), the no-skip model when RUN_DIR/noskip holds one, and the PCA baseline, then\n"+
			"writes RUN_DIR/report/results.json, the figures and report.md/report.html.", runF)
}

// evalRun evaluates the run and prints the summary.
func evalRun(ctx context.Context, o dirOptions) error {
	r, err := pipeline.Evaluate(ctx, o.Env, o.Config, o.Dir)
	if err != nil {
		return err
	}
	pipeline.PrintSummary(o.Env.Out, r, o.Dir)
	return nil
}

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report --run RUN_DIR",
		Short: "Write report.md and a self-contained report.html from the run's results.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			if run == "" {
				return fmt.Errorf("--run is required (a run directory evaluated by `camelsvae eval`)")
			}
			r, err := pipeline.ReadResults(run)
			if err != nil {
				return err
			}
			if err := eval.WriteReport(filepath.Join(run, pipeline.ReportDir), r); err != nil {
				return err
			}
			pipeline.PrintSummary(cmd.OutOrStdout(), r, run)
			return nil
		},
	}
	cmd.Flags().String("run", "", "run directory evaluated by `camelsvae eval`")
	return cmd
}
