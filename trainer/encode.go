package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/vae"
)

// EncodeOptions configure a batch encoding job.
type EncodeOptions struct {
	Mem    memory.Allocator
	Src    *preprocess.Source
	Stats  *preprocess.Stats
	Config configs.Config
	Export string // the folder of encoder.onnx
	Set    string
	Maps   []int
	Batch  int
	// Out is .parquet (default) or .arrow (Arrow IPC); NPY also writes mu as Out+".mu.npy".
	Out string
	NPY bool
	Log io.Writer
	// Meta is the table's metadata (formats.Latents.Meta): what made it, under the Meta* keys.
	Meta map[string]string
}

// The latents tables' metadata keys (formats.Latents.Meta).
const (
	MetaEncoder = "camelsvae.encoder_sha256" // sha256 of the encoder.onnx that wrote the rows
	MetaSet     = "camelsvae.set"
	MetaFields  = "camelsvae.fields" // the CMD fields the encoder reads, comma-separated in channel order
)

// EncoderDigest is the sha256 (hex) of the encoder.onnx in the export folder, which every
// latents table records under MetaEncoder.
func EncoderDigest(export string) (string, error) {
	b, err := os.ReadFile(filepath.Join(export, EncoderFile))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// EncodeStats reports an encoding job.
type EncodeStats struct {
	Maps    int
	Seconds float64
}

// Encode runs the exported encoder over maps of a set, fed by the concurrent loader (reading
// and transforming the next batches while ONNX Runtime encodes this one), and writes the
// latents table. With NPY both files are written in full before either is renamed into
// place, the table last: a table never sits beside an older .mu.npy.
func Encode(ctx context.Context, o EncodeOptions) (EncodeStats, error) {
	dir, base := filepath.Split(o.Out)
	if _, err := formats.RemoveStaleTemps(filepath.Clean(dir+"."), base, base+npySuffix); err != nil {
		return EncodeStats{}, err
	}
	lat, st, err := EncodeMaps(ctx, o)
	if err != nil {
		return st, err
	}
	lat.Meta = o.Meta
	var npy, table *formats.Staged
	defer func() { npy.Abort(); table.Abort() }()
	if o.NPY {
		if npy, err = formats.StageNPY(o.Out+npySuffix, lat.Mu, lat.Len(), lat.L); err != nil {
			return st, err
		}
	}
	if strings.HasSuffix(o.Out, ".arrow") {
		table, err = formats.StageLatentsIPC(o.Out, o.Mem, lat)
	} else {
		table, err = formats.StageLatentsParquet(o.Out, o.Mem, lat)
	}
	if err != nil {
		return st, err
	}
	if npy != nil {
		if err := npy.Commit(); err != nil {
			return st, err
		}
		fault.Point("encode-between")
	}
	return st, table.Commit()
}

// npySuffix names the .npy of mu written beside a latents table.
const npySuffix = ".mu.npy"

// EncodeMaps is Encode without the file: it returns the latents table.
func EncodeMaps(ctx context.Context, o EncodeOptions) (*formats.Latents, EncodeStats, error) {
	var st EncodeStats
	if o.Log == nil {
		o.Log = io.Discard
	}
	model, err := vae.FromConfig(o.Config)
	if err != nil {
		return nil, st, err
	}
	// The loader's workers share the cores with ONNX Runtime here: spinning intra-op threads
	// would take their CPU while they wait (measured: 5-10% more maps/s without spinning).
	rt := o.Config.Runtime
	rt.Spinning = false
	codec, err := OpenCodec(o.Export, model, rt, false, false)
	if err != nil {
		return nil, st, err
	}
	defer codec.Close()
	loader, err := preprocess.NewLoader(o.Mem, o.Src, o.Stats,
		preprocess.Items(o.Set, o.Maps, []preprocess.Variant{preprocess.Identity}),
		preprocess.LoaderOptions{Batch: max(1, o.Batch), Workers: o.Config.Data.Workers, Prefetch: o.Config.Data.Prefetch})
	if err != nil {
		return nil, st, err
	}
	L := int(o.Config.Model.Latent)
	lat := &formats.Latents{L: L}
	start, last := time.Now(), time.Now()
	for b, err := range loader.Epoch(ctx, 0) {
		if err != nil {
			return nil, st, err
		}
		mu, lv, _, err := codec.Encode(b.X, b.N)
		if err != nil {
			b.Release()
			return nil, st, fmt.Errorf("encoding batch %d: %w", b.Index, err)
		}
		lat.Mu = append(lat.Mu, mu...)
		lat.Logvar = append(lat.Logvar, lv...)
		for _, it := range b.Items {
			p, err := o.Src.Params(it.Set, int(it.Map))
			if err != nil {
				b.Release()
				return nil, st, err
			}
			var pf [6]float32
			for j := range p {
				pf[j] = float32(p[j])
			}
			lat.Set = append(lat.Set, it.Set)
			lat.Sim = append(lat.Sim, it.Sim)
			lat.Map = append(lat.Map, it.Map)
			lat.Params = append(lat.Params, pf)
		}
		st.Maps += b.N
		b.Release()
		fault.Point("encode-batch")
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			fmt.Fprintf(o.Log, "  encoded %d/%d maps (%.1f maps/s)\n", st.Maps, len(o.Maps), float64(st.Maps)/time.Since(start).Seconds())
		}
	}
	st.Seconds = time.Since(start).Seconds()
	return lat, st, nil
}
