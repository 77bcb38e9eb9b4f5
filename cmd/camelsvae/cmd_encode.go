package main

import (
	"context"
	"os"

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
		Use:   "encode --run RUN_DIR --set LH [--maps N|all] [--shard K/N|auto] --out F.parquet|DIR",
		Short: "Encode maps to latents (mu, logvar) with the run's exported encoder",
		Long: "encode streams maps through the concurrent loader into encoder.onnx and writes one row per\n" +
			"map: set, sim, map, params[6], mu[L], logvar[L], as Parquet (or Arrow IPC for .arrow),\n" +
			"plus mu as .npy with --npy. Memory stays bounded by the batch size and prefetch depth.\n\n" +
			"With --shard K/N it encodes only part K of N (whole simulations, K from 0) into\n" +
			"OUT/part-K-of-N.parquet; the parts in K order hold the rows of the unsharded table. A part\n" +
			"already there from the same encoder is skipped, so rerunning an array finishes it; a part\n" +
			"from another encoder is refused. docs/cluster.md has Slurm and Kubernetes recipes and how\n" +
			"to read the parts as one table in order.",
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
			if shard, _ := f.GetString("shard"); shard != "" {
				shards, _ := f.GetInt("shards")
				s, err := pipeline.ParseShard(shard, shards, os.Getenv)
				if err != nil {
					return err
				}
				o.Encode.Shard = &s
			}
			return runF(cmd.Context(), o)
		},
	}
	cmd.Flags().String("run", "", "run directory of a trained model")
	cmd.Flags().String("set", "", "CMD set to encode (default data.test_set)")
	cmd.Flags().String("maps", "", "N (first N maps), all, or empty for the run's test subset of data.test_set")
	cmd.Flags().String("out", "", "output .parquet or .arrow (default RUN_DIR/latents/SET.parquet)")
	cmd.Flags().Int("batch-size", 64, "maps per encoder call")
	cmd.Flags().Bool("npy", false, "also write mu as OUT.mu.npy (float32 [N,L])")
	cmd.Flags().String("shard", "", "encode part K/N of the maps (whole simulations) into OUT/part-K-of-N.parquet, skipped when complete;\n"+
		"auto reads a Slurm job array (SLURM_ARRAY_TASK_*) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shards)")
	cmd.Flags().Int("shards", 0, "the number of parts N, for --shard auto in a Kubernetes Indexed Job")
	return cmd
}

func encodeRun(ctx context.Context, o encodeOptions) error {
	return pipeline.Encode(ctx, o.Env, o.Config, o.Dir, o.Encode)
}
