package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

func newEncodeCmd() *cobra.Command {
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
			set, _ := cmd.Flags().GetString("set")
			if set == "" {
				set = cfg.Data.TestSet
			}
			// The run opens these two sets (trainer.Prepare); any other has no maps here.
			if set != cfg.Data.TrainSet && set != cfg.Data.TestSet {
				return fmt.Errorf("--set %s: the run's sets are %s (data.train_set) and %s (data.test_set)", set, cfg.Data.TrainSet, cfg.Data.TestSet)
			}
			if err := setupRuntime(cmd, cfg); err != nil {
				return err
			}
			mapsArg, _ := cmd.Flags().GetString("maps")
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				out = filepath.Join(run, "latents", set+".parquet")
			}
			batch, _ := cmd.Flags().GetInt("batch-size")
			npy, _ := cmd.Flags().GetBool("npy")
			data, err := trainer.Prepare(cmd.Context(), cfg, run)
			if err != nil {
				return err
			}
			defer data.Close()
			maps, err := chooseMaps(data, set, mapsArg, cfg.Data.TestSet)
			if err != nil {
				return err
			}
			st, err := trainer.Encode(cmd.Context(), trainer.EncodeOptions{
				Mem: memory.DefaultAllocator, Data: data, Config: cfg, Encoder: filepath.Join(run, exportDir, trainer.EncoderFile),
				Set: set, Maps: maps, Batch: batch, Out: out, NPY: npy, Log: cmd.OutOrStdout(),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "encoded %d maps of %s in %.1fs (%.1f maps/s) -> %s\n", st.Maps, set, st.Seconds, float64(st.Maps)/st.Seconds, out)
			return nil
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

// chooseMaps resolves --maps: "" is the run's subset of the test set (all maps of other
// sets), "all" every map, N the first N.
func chooseMaps(d *trainer.Data, set, arg, testSet string) ([]int, error) {
	n := d.Src.Len(set)
	all := func(k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = i
		}
		return out
	}
	switch strings.ToLower(arg) {
	case "":
		if set == testSet && len(d.Splits.TestSetMaps) > 0 {
			return d.Splits.TestSetMaps, nil
		}
		return all(n), nil
	case "all":
		return all(n), nil
	}
	k, err := strconv.Atoi(arg)
	if err != nil || k <= 0 {
		return nil, fmt.Errorf("--maps %q: want a positive number or all", arg)
	}
	if k > n {
		return nil, fmt.Errorf("--maps %d: set %s has %d maps", k, set, n)
	}
	return all(k), nil
}
