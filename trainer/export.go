package trainer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/graphs"
	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/vae"
	"google.golang.org/protobuf/proto"
)

// Exported model files, written by Export.
const (
	EncoderFile = "encoder.onnx"
	DecoderFile = "decoder.onnx"
)

// ModelIDKey is the metadata key of an exported model's identity: a digest of its
// parameters, the same in the encoder and the decoder of one export.
const ModelIDKey = "camelsvae.model_id"

// Export writes encoder.onnx and decoder.onnx with params baked in, a dynamic batch
// dimension, and in their metadata the normalisation statistics and transforms a consumer
// needs to feed them (keys camelsvae.stats, camelsvae.transforms, camelsvae.fields,
// camelsvae.input, camelsvae.outputs) and ModelIDKey. Both files are written in full before
// either replaces its old version; a reader that finds two IDs reads a pair being replaced.
func Export(dir string, cfg configs.Config, params [][]float32, stats *preprocess.Stats) error {
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return err
	}
	st, err := json.Marshal(stats)
	if err != nil {
		return err
	}
	var transforms []string
	for _, f := range cfg.Data.Fields {
		transforms = append(transforms, f.Transform)
	}
	outputs := "mu [N,L], logvar [N,L]"
	if cfg.Model.Skips {
		outputs += ", h1..h4 (skip tensors the decoder needs)"
	}
	meta := map[string]string{
		"camelsvae.stats":      string(st),
		"camelsvae.transforms": fmt.Sprintf("%v", transforms),
		"camelsvae.fields":     strings.Join(cfg.Data.FieldNames(), ","),
		"camelsvae.input": fmt.Sprintf("x [N,%d,%d,%d]: per channel transform, then (value - mean) / std from camelsvae.stats",
			len(cfg.Data.Fields), cfg.Data.Size, cfg.Data.Size),
		"camelsvae.outputs": outputs,
		ModelIDKey:          paramsDigest(params),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var staged []*formats.Staged
	defer func() {
		for _, s := range staged {
			s.Abort()
		}
	}()
	for _, build := range []func([][]float32, map[string]string) (graphs.Artifact, error){model.Encoder, model.Decoder} {
		a, err := build(params, meta)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		s, err := formats.Stage(filepath.Join(dir, a.Name), func(w io.Writer) error { _, err := w.Write(a.Model); return err })
		if err != nil {
			return err
		}
		staged = append(staged, s)
	}
	for _, s := range staged {
		if err := s.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// paramsDigest is ModelIDKey's value: the first 16 hex digits of the SHA-256 of the
// parameters' float32 bits, in order.
func paramsDigest(params [][]float32) string {
	h := sha256.New()
	var b [4]byte
	for _, p := range params {
		for _, v := range p {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ModelID reads ModelIDKey from an exported model ("" for an export older than the key).
func ModelID(model []byte) (string, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return "", err
	}
	for _, p := range m.GetMetadataProps() {
		if p.GetKey() == ModelIDKey {
			return p.GetValue(), nil
		}
	}
	return "", nil
}

// BestParams reads the best checkpoint of a run for the model cfg describes.
func BestParams(cfg configs.Config, run string) ([][]float32, error) {
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	t := &Tensors{}
	for _, s := range model.Params() {
		t.Names = append(t.Names, s.Name)
		t.Shapes = append(t.Shapes, s.Shape)
	}
	return loadBest(run, t)
}
