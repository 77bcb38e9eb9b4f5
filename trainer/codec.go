package trainer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/vae"
)

// Codec is an exported model's encoder (and decoder) loaded once: what `encode` and `eval`
// share to turn maps into latents and latents back into maps.
type Codec struct {
	enc, dec *onnx.Session
	o        vae.Options
	skips    [][]int64 // per-image shapes of h1..h4 the encoder returns (skip models with skips asked for)
}

// OpenCodec loads ExportDir's encoder.onnx for model and, with decoder, its decoder.onnx,
// which must come from the same export (one camelsvae.model_id): a pair read while a
// training re-exports could hold two models. withSkips makes Encode return h1..h4 of a skip
// model.
func OpenCodec(dir string, model *vae.VAE, rt configs.Runtime, withSkips, decoder bool) (*Codec, error) {
	o := model.Options()
	names := []string{EncoderFile}
	if decoder {
		names = append(names, DecoderFile)
	}
	var bytes [2][]byte
	var ids [2]string
	for i, name := range names {
		var err error
		if bytes[i], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("%w (train or export the model first)", err)
		}
		if ids[i], err = ModelID(bytes[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
	}
	if decoder && ids[0] != ids[1] {
		return nil, fmt.Errorf("%s holds an encoder and a decoder of two models (%s and %s): it was being rewritten; run again when the training has finished",
			dir, ids[0], ids[1])
	}
	c := &Codec{o: o}
	encOut, decIn := []string{vae.OutMu, vae.OutLogvar}, []string{vae.InZ}
	if o.Skips {
		for i := range model.SkipShapes() {
			decIn = append(decIn, vae.SkipName(i+1))
			if withSkips {
				encOut = append(encOut, vae.SkipName(i+1))
			}
		}
		if withSkips {
			c.skips = model.SkipShapes()
		}
	}
	var err error
	if c.enc, err = onnx.NewSession(bytes[0], []string{vae.InX}, encOut, rt); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, EncoderFile), err)
	}
	if decoder {
		if c.dec, err = onnx.NewSession(bytes[1], decIn, []string{vae.OutRecon}, rt); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, DecoderFile), err)
		}
	}
	return c, nil
}

// Encode runs the encoder on n normalised maps x [n,C,S,S]: mu and logvar [n,L] and, when
// asked for, the skip tensors h1..h4 [n,...] (nil otherwise).
func (c *Codec) Encode(x []float32, n int) (mu, logvar []float32, skips [][]float32, err error) {
	out, _, err := onnx.RunFloat32(c.enc, [][]float32{x}, [][]int64{{int64(n), c.o.Channels, c.o.Size, c.o.Size}})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoder: %w", err)
	}
	return out[0], out[1], out[2:], nil
}

// Decode runs the decoder on z [n,L] and, for a skip model, h1..h4 [n,...] (one slice each).
func (c *Codec) Decode(z []float32, skips [][]float32, n int) ([]float32, error) {
	in, shapes := [][]float32{z}, [][]int64{{int64(n), c.o.Latent}}
	for i, sh := range c.skips {
		in, shapes = append(in, skips[i]), append(shapes, append([]int64{int64(n)}, sh...))
	}
	out, _, err := onnx.RunFloat32(c.dec, in, shapes)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	return out[0], nil
}

// SkipSizes are the numbers of values per image of h1..h4 (none for a model without skips).
func (c *Codec) SkipSizes() []int {
	var out []int
	for _, sh := range c.skips {
		n := 1
		for _, d := range sh {
			n *= int(d)
		}
		out = append(out, n)
	}
	return out
}

// Close frees the sessions.
func (c *Codec) Close() {
	c.enc.Destroy()
	c.dec.Destroy()
}
