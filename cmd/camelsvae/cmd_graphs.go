package main

import (
	"fmt"

	"github.com/camelsvae/camelsvae/graphs"
	"github.com/spf13/cobra"
)

// newGraphsCmd writes the five ONNX artifacts of a config, with freshly initialised weights
// (seed from the config) baked into the encoder and decoder.
func newGraphsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graphs --config F --out DIR",
		Short: "Write train_step, eval_step, optimizer, encoder and decoder .onnx for a config",
		Long: "graphs writes the training artifacts built in Go (autodiff into standard ONNX ops):\n" +
			"train_step.onnx (static batch train.batch unless --batch), eval_step.onnx (dynamic batch),\n" +
			"optimizer.onnx (Adam), and encoder.onnx / decoder.onnx with initial weights (seed) baked in.\n" +
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
			v, err := graphs.New(cfg)
			if err != nil {
				return err
			}
			if err := v.WriteArtifacts(out, batch, v.InitParams(cfg.Seed), nil); err != nil {
				return err
			}
			enc, dec := v.ParamCount()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote 5 models to %s (%d layers, %d parameters: encoder %d, decoder %d; train batch %d)\n",
				out, v.Layers(), enc+dec, enc, dec, batch)
			return nil
		},
	}
	cmd.Flags().String("out", "", "output directory")
	cmd.Flags().Int("batch", 0, "static batch of train_step.onnx (default train.batch)")
	return cmd
}
