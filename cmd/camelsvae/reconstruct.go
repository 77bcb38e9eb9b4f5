package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/pca"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/camelsvae/camelsvae/vae"
	"golang.org/x/sync/errgroup"
)

// pcaFile is the fitted baseline in a run directory.
const pcaFile = "pca/pca.npz"

// readMaps reads maps of a set as the model sees them (transformed, z-scored, identity
// variant), in parallel, in order.
func readMaps(ctx context.Context, d *trainer.Data, set string, maps []int, workers int) ([][]float32, error) {
	out := make([][]float32, len(maps))
	n := preprocess.Channels * d.Src.Size * d.Src.Size
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for i, m := range maps {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			out[i] = make([]float32, n)
			_, err := preprocess.ReadNormalized(d.Src, d.Stats, set, m, preprocess.Identity, out[i])
			return err
		})
	}
	return out, g.Wait()
}

// fitPCA fits the baseline on the training split's maps (no augmentation, as the study).
func fitPCA(ctx context.Context, cfg configs.Config, d *trainer.Data) (*pca.Model, error) {
	rows, err := readMaps(ctx, d, cfg.Data.TrainSet, d.Splits.Train, cfg.Data.Workers)
	if err != nil {
		return nil, err
	}
	opt := pca.OptionsFrom(cfg.PCA, cfg.Seed)
	if k := min(len(rows), len(rows[0])); opt.Components > k {
		opt.Components = k
	}
	return pca.Fit(rows, opt)
}

// vaeOutputs are the exported model's reconstructions of a batch of maps.
type vaeOutputs struct {
	Mu     [][]float32
	Recon  [][]float32 // z = mu with the map's own skips
	Zero   [][]float32 // z = mu, skips zeroed (skip models only)
	Others [][]float32 // z = mu, skips of the next map (skip models only)
}

// runVAE encodes maps with encoder.onnx and decodes mu with decoder.onnx: with the map's
// own skips, and for skip models also with zeroed skips and with another map's skips, which
// measures how much of the reconstruction travels through the latent.
func runVAE(cfg configs.Config, run string, maps [][]float32) (*vaeOutputs, error) {
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	// Both files are read before either is used, and must come from one export: a pair
	// read while a training re-exports could hold two models.
	var models [2][]byte
	var ids [2]string
	for i, name := range []string{trainer.EncoderFile, trainer.DecoderFile} {
		if models[i], err = os.ReadFile(filepath.Join(run, exportDir, name)); err != nil {
			return nil, fmt.Errorf("%w (train the model first)", err)
		}
		if ids[i], err = trainer.ModelID(models[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(run, exportDir, name), err)
		}
	}
	if ids[0] != ids[1] {
		return nil, fmt.Errorf("%s holds an encoder and a decoder of two models (%s and %s): it was being rewritten; run again when the training has finished",
			filepath.Join(run, exportDir), ids[0], ids[1])
	}
	load := func(name string, in, out []string) (*onnx.Session, error) {
		i := 0
		if name == trainer.DecoderFile {
			i = 1
		}
		return onnx.NewSession(models[i], in, out, cfg.Runtime)
	}
	encOut := []string{vae.OutMu, vae.OutLogvar}
	decIn := []string{vae.InZ}
	if model.Options().Skips {
		for i := 1; i <= 4; i++ {
			encOut = append(encOut, vae.SkipName(i))
			decIn = append(decIn, vae.SkipName(i))
		}
	}
	enc, err := load(trainer.EncoderFile, []string{vae.InX}, encOut)
	if err != nil {
		return nil, err
	}
	defer enc.Destroy()
	dec, err := load(trainer.DecoderFile, decIn, []string{vae.OutRecon})
	if err != nil {
		return nil, err
	}
	defer dec.Destroy()

	S, L := model.Options().Size, model.Options().Latent
	n := len(maps)
	res := &vaeOutputs{}
	// Encode everything first (skips kept per map), then decode in batches.
	mus := make([][]float32, n)
	skips := make([][][]float32, n) // [map][skip] per-map tensors
	const batch = 32
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		var x []float32
		for _, m := range maps[lo:hi] {
			x = append(x, m...)
		}
		out, shapes, err := onnx.RunFloat32(enc, [][]float32{x}, [][]int64{{int64(hi - lo), preprocess.Channels, S, S}})
		if err != nil {
			return nil, fmt.Errorf("encoder: %w", err)
		}
		for i := lo; i < hi; i++ {
			mus[i] = out[0][int64(i-lo)*L : int64(i-lo+1)*L]
			for s := 2; s < len(out); s++ {
				per := int(numel(shapes[s]) / int64(hi-lo))
				skips[i] = append(skips[i], out[s][(i-lo)*per:(i-lo+1)*per])
			}
		}
	}
	res.Mu = mus
	decode := func(skipOf func(i, s int) []float32) ([][]float32, error) {
		recs := make([][]float32, 0, n)
		for lo := 0; lo < n; lo += batch {
			hi := min(n, lo+batch)
			b := int64(hi - lo)
			in := [][]float32{nil}
			shapes := [][]int64{{b, L}}
			for i := lo; i < hi; i++ {
				in[0] = append(in[0], mus[i]...)
			}
			for s, sh := range model.SkipShapes() {
				if !model.Options().Skips {
					break
				}
				var buf []float32
				for i := lo; i < hi; i++ {
					buf = append(buf, skipOf(i, s)...)
				}
				in = append(in, buf)
				shapes = append(shapes, append([]int64{b}, sh...))
			}
			out, _, err := onnx.RunFloat32(dec, in, shapes)
			if err != nil {
				return nil, fmt.Errorf("decoder: %w", err)
			}
			per := int(preprocess.Channels * S * S)
			for i := 0; i < hi-lo; i++ {
				recs = append(recs, out[0][i*per:(i+1)*per])
			}
		}
		return recs, nil
	}
	if res.Recon, err = decode(func(i, s int) []float32 { return skips[i][s] }); err != nil {
		return nil, err
	}
	if model.Options().Skips {
		zeros := make([][]float32, 4)
		for s, sh := range model.SkipShapes() {
			zeros[s] = make([]float32, numel(sh))
		}
		if res.Zero, err = decode(func(_, s int) []float32 { return zeros[s] }); err != nil {
			return nil, err
		}
		if res.Others, err = decode(func(i, s int) []float32 { return skips[(i+1)%n][s] }); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func numel(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}
