package main

import (
	"fmt"
	"path/filepath"

	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export --run RUN_DIR --out DIR",
		Short: "Write encoder.onnx and decoder.onnx (weights baked in, dynamic batch) from a run's best checkpoint",
		Long: "export writes plain ONNX models (opset 21) that any ONNX consumer can run: encoder.onnx\n" +
			"takes x [N,3,S,S] (normalised maps) and returns mu and logvar (and h1..h4 for skip models);\n" +
			"decoder.onnx takes z (and the skips) and returns recon. The normalisation statistics and\n" +
			"transforms are in the models' metadata (camelsvae.stats, camelsvae.transforms).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			out, _ := cmd.Flags().GetString("out")
			cfg, err := runDirConfig(cmd, run)
			if err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			params, err := trainer.BestParams(cfg, run)
			if err != nil {
				return err
			}
			stats, err := preprocess.LoadStats(filepath.Join(run, pipeline.StatsFile))
			if err != nil {
				return err
			}
			if err := trainer.Export(out, cfg, params, stats); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", filepath.Join(out, trainer.EncoderFile), filepath.Join(out, trainer.DecoderFile))
			return nil
		},
	}
	cmd.Flags().String("run", "", "run directory of a trained model")
	cmd.Flags().String("out", "", "output directory")
	return cmd
}
