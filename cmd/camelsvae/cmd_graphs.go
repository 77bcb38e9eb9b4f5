package main

import (
	"fmt"

	"github.com/camelsvae/camelsvae/trainer"
	"github.com/camelsvae/camelsvae/vae"
	"github.com/spf13/cobra"
)

// newGraphsCmd writes the six ONNX artifacts of a config, with freshly initialised weights
// (seed from the config) baked into the encoder and decoder.
func newGraphsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graphs --config F --out DIR",
		Short: "Write train_step, eval_step, optimizer, step, encoder and decoder .onnx for a config",
		Long: "graphs writes the training artifacts built in Go (autodiff into standard ONNX ops):\n" +
			"train_step.onnx (static batch train.batch unless --batch), eval_step.onnx (dynamic batch),\n" +
			"optimizer.onnx (Adam), step.onnx (train_step and Adam in one graph: what GPU providers run,\n" +
			"with parameters and moments kept in device memory), and encoder.onnx / decoder.onnx with\n" +
			"initial weights (seed) baked in. The graphs are lowered for runtime.provider (the CPU or a GPU).\n" +
			"The same config always gives the same bytes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			batch, _ := cmd.Flags().GetInt("batch")
			if batch <= 0 {
				batch = cfg.Train.Batch
			}
			// Refuse a model too large for this machine before its weights are drawn.
			if err := trainer.CheckGraphs(cfg); err != nil {
				return err
			}
			v, err := vae.FromConfig(cfg)
			if err != nil {
				return err
			}
			arts, err := v.WriteArtifacts(out, batch, v.InitParams(cfg.Seed), nil)
			if err != nil {
				return err
			}
			enc, dec := v.ParamCount()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d models to %s (%d layers, %d parameters: encoder %d, decoder %d; train batch %d)\n",
				len(arts), out, v.Layers(), enc+dec, enc, dec, batch)
			return nil
		},
	}
	cmd.Flags().String("out", "", "output directory")
	cmd.Flags().Int("batch", 0, "static batch of train_step.onnx (default train.batch)")
	return cmd
}
