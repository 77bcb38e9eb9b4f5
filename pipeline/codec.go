package pipeline

import (
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/camelsvae/camelsvae/vae"
)

// vaeOutputs are an exported model's latents and reconstructions of a set of maps.
type vaeOutputs struct {
	mu     [][]float32
	recon  [][]float32 // z = mu with the map's own skips
	zero   [][]float32 // z = mu, skips zeroed (skip models only)
	others [][]float32 // z = mu, skips of the next map (skip models only)
}

// codecBatch is how many maps the encoder and decoder take per run.
const codecBatch = 32

// runCodec encodes maps with the export in dir and decodes mu: with each map's own skips and,
// for a skip model, with zeroed skips and with the next map's skips, which measures how much
// of the reconstruction travels through the latent.
func runCodec(cfg configs.Config, model *vae.VAE, dir string, maps [][]float32) (*vaeOutputs, error) {
	c, err := trainer.OpenCodec(dir, model, cfg.Runtime, true, true)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	o := model.Options()
	n, L := len(maps), int(o.Latent)
	out := &vaeOutputs{mu: make([][]float32, n)}
	skips := make([][][]float32, n) // [map][skip]
	sizes := c.SkipSizes()
	// Encode everything first (skips kept per map), then decode in batches.
	for lo := 0; lo < n; lo += codecBatch {
		hi := min(n, lo+codecBatch)
		var x []float32
		for _, m := range maps[lo:hi] {
			x = append(x, m...)
		}
		mu, _, hs, err := c.Encode(x, hi-lo)
		if err != nil {
			return nil, err
		}
		for i := lo; i < hi; i++ {
			out.mu[i] = mu[(i-lo)*L : (i-lo+1)*L]
			for s, per := range sizes {
				skips[i] = append(skips[i], hs[s][(i-lo)*per:(i-lo+1)*per])
			}
		}
	}
	decode := func(skipOf func(i, s int) []float32) ([][]float32, error) {
		recs := make([][]float32, 0, n)
		per := len(maps[0])
		for lo := 0; lo < n; lo += codecBatch {
			hi := min(n, lo+codecBatch)
			var z []float32
			hs := make([][]float32, len(sizes))
			for i := lo; i < hi; i++ {
				z = append(z, out.mu[i]...)
				for s := range sizes {
					hs[s] = append(hs[s], skipOf(i, s)...)
				}
			}
			rec, err := c.Decode(z, hs, hi-lo)
			if err != nil {
				return nil, err
			}
			for i := 0; i < hi-lo; i++ {
				recs = append(recs, rec[i*per:(i+1)*per])
			}
		}
		return recs, nil
	}
	if out.recon, err = decode(func(i, s int) []float32 { return skips[i][s] }); err != nil {
		return nil, err
	}
	if !o.Skips {
		return out, nil
	}
	zeros := make([][]float32, len(sizes))
	for s, per := range sizes {
		zeros[s] = make([]float32, per)
	}
	if out.zero, err = decode(func(_, s int) []float32 { return zeros[s] }); err != nil {
		return nil, err
	}
	if out.others, err = decode(func(i, s int) []float32 { return skips[(i+1)%n][s] }); err != nil {
		return nil, err
	}
	return out, nil
}

func numel(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}
