package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

// newBenchCmd times the training step on the configured provider: what a user sizes a run by.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench --config F [--steps N]",
		Short: "Time training steps on the configured provider (images/s, bytes to and from the device)",
		Long: "bench runs --warmup then --steps training steps on random maps, exactly as train runs them\n" +
			"(train.batch, data.size, the model and loss of the config, runtime.provider), and reports\n" +
			"images/s, ms per step, and on a GPU provider the bytes copied between host and device per\n" +
			"step and any node that ran off the device. --json writes the same as JSON.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			// Refuse a batch or model too large for this machine before allocating it.
			if err := trainer.CheckTrainingMemory(cfg, 0); err != nil {
				return err
			}
			if err := pipeline.SetupRuntime(envOf(cmd), cfg); err != nil {
				return err
			}
			steps, _ := cmd.Flags().GetInt("steps")
			warmup, _ := cmd.Flags().GetInt("warmup")
			if steps <= 0 || warmup < 0 {
				return fmt.Errorf("--steps must be > 0 and --warmup >= 0, got %d and %d", steps, warmup)
			}
			out := cmd.OutOrStdout()
			host, _ := cmd.Flags().GetBool("host-state")
			r, err := trainer.BenchSteps(cmd.Context(), cfg, warmup, steps, host, out)
			if err != nil {
				if cmd.Context().Err() != nil {
					return fmt.Errorf("bench interrupted; nothing written")
				}
				return err
			}
			fmt.Fprintf(out, "%s, %dx%d, batch %d: %.2f images/s (%.1f ms/step over %d steps; setup and %d warm-up steps %.1f s)\n",
				r.Provider, r.Size, r.Size, r.Batch, r.ImagesPerS, r.MsPerStep, r.Steps, warmup, r.SetupS)
			if r.Provider != "cpu" {
				fmt.Fprintf(out, "per step: %.2f MB to the device, %d bytes back\n", float64(r.ToDevicePerStp)/1e6, r.ToHostPerStep)
				if len(r.OffDevice) > 0 {
					fmt.Fprintf(out, "off the device: %s\n", strings.Join(r.OffDevice, ", "))
				}
			}
			if path, _ := cmd.Flags().GetString("json"); path != "" {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				if err := formats.WriteFile(path, append(b, '\n')); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().Int("steps", 20, "timed training steps")
	cmd.Flags().Int("warmup", 3, "untimed steps first (kernel compilation, allocation)")
	cmd.Flags().String("json", "", "also write the result to this JSON file")
	cmd.Flags().Bool("host-state", false, "on a GPU provider, keep parameters and moments in host memory (two graphs, everything copied each step) for comparison")
	return cmd
}
