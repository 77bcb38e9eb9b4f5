package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/graphs"
	"github.com/camelsvae/camelsvae/preprocess"
)

// Exported model files, written by Export.
const (
	EncoderFile = "encoder.onnx"
	DecoderFile = "decoder.onnx"
)

// Export writes encoder.onnx and decoder.onnx with params baked in, a dynamic batch
// dimension, and in their metadata the normalisation statistics and transforms a consumer
// needs to feed them (keys camelsvae.stats, camelsvae.transforms, camelsvae.fields,
// camelsvae.input, camelsvae.outputs). Files are replaced atomically.
func Export(dir string, cfg configs.Config, params [][]float32, stats *preprocess.Stats) error {
	vae, err := graphs.New(cfg)
	if err != nil {
		return err
	}
	st, err := json.Marshal(stats)
	if err != nil {
		return err
	}
	outputs := "mu [N,L], logvar [N,L]"
	if cfg.Model.Skips {
		outputs += ", h1..h4 (skip tensors the decoder needs)"
	}
	meta := map[string]string{
		"camelsvae.stats":      string(st),
		"camelsvae.transforms": fmt.Sprintf("%v", cfg.Data.Transforms.List()),
		"camelsvae.fields":     "Mgas,Vgas,B",
		"camelsvae.input":      fmt.Sprintf("x [N,3,%d,%d]: per channel transform, then (value - mean) / std from camelsvae.stats", cfg.Data.Size, cfg.Data.Size),
		"camelsvae.outputs":    outputs,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, build := range []func([][]float32, map[string]string) (graphs.Artifact, error){vae.Encoder, vae.Decoder} {
		a, err := build(params, meta)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := formats.WriteFile(filepath.Join(dir, a.Name), a.Model); err != nil {
			return err
		}
	}
	return nil
}

// BestParams reads the best checkpoint of a run for the model cfg describes.
func BestParams(cfg configs.Config, run string) ([][]float32, error) {
	vae, err := graphs.New(cfg)
	if err != nil {
		return nil, err
	}
	t := &Tensors{}
	for _, s := range vae.Params() {
		t.Names = append(t.Names, s.Name)
		t.Shapes = append(t.Shapes, s.Shape)
	}
	return loadBest(run, t)
}
