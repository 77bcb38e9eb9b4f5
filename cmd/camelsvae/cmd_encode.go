package main

import (
	"context"

	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/spf13/cobra"
)

// encodeOptions are what `camelsvae encode` runs with.
type encodeOptions struct {
	dirOptions
	Encode pipeline.EncodeOptions
}

func newEncodeCmd(runF func(context.Context, encodeOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encode --run RUN_DIR --set LH [--maps N|all] --out F.parquet",
		Short: "Encode maps to latents (mu, logvar) with the run's exported encoder",
		Long: "encode streams maps through the concurrent loader into encoder.onnx and writes one row per\n" +
			"map: set, sim, map, params[6], mu[L], logvar[L], as Parquet (or Arrow IPC for .arrow),\n" +
			"plus mu as .npy with --npy. Memory stays bounded by the batch size and prefetch depth.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			cfg, err := runDirConfig(cmd, run)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			o := encodeOptions{dirOptions: dirOptions{Env: envOf(cmd), Config: cfg, Dir: run}}
			o.Encode.Set, _ = f.GetString("set")
			o.Encode.Maps, _ = f.GetString("maps")
			o.Encode.Out, _ = f.GetString("out")
			o.Encode.Batch, _ = f.GetInt("batch-size")
			o.Encode.NPY, _ = f.GetBool("npy")
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().String("run", "", "run directory of a trained model")
	cmd.Flags().String("set", "", "CMD set to encode (default data.test_set)")
	cmd.Flags().String("maps", "", "N (first N maps), all, or empty for the run's test subset of data.test_set")
	cmd.Flags().String("out", "", "output .parquet or .arrow (default RUN_DIR/latents/SET.parquet)")
	cmd.Flags().Int("batch-size", 64, "maps per encoder call")
	cmd.Flags().Bool("npy", false, "also write mu as OUT.mu.npy (float32 [N,L])")
	return cmd
}

func encodeRun(ctx context.Context, o encodeOptions) error {
	return pipeline.Encode(ctx, o.Env, o.Config, o.Dir, o.Encode)
}
