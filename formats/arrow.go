package formats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ShapeKey is the field metadata key holding the JSON shape of a FixedSizeList image column
// (Arrow has no tensor column type), e.g. "[3,256,256]".
const ShapeKey = "shape"

// BatchSchema is the schema of a training/eval batch: one row per (map, variant) with the
// image in "x" as FixedSizeList<float32>[c*h*w] (C order, shape in the field metadata) and
// the row's provenance: set, simulation, map index in its set file, D4 variant, parameters.
func BatchSchema(c, h, w int) *arrow.Schema {
	shape, _ := json.Marshal([]int{c, h, w})
	return arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.FixedSizeListOf(int32(c*h*w), arrow.PrimitiveTypes.Float32),
			Metadata: arrow.NewMetadata([]string{ShapeKey}, []string{string(shape)})},
		{Name: "set", Type: arrow.BinaryTypes.String},
		{Name: "sim", Type: arrow.PrimitiveTypes.Int32},
		{Name: "map", Type: arrow.PrimitiveTypes.Int32},
		{Name: "variant", Type: arrow.PrimitiveTypes.Int8},
		{Name: "params", Type: arrow.FixedSizeListOf(6, arrow.PrimitiveTypes.Float32)},
	}, nil)
}

// ImageShape reads the shape metadata of field name in schema.
func ImageShape(schema *arrow.Schema, name string) ([]int, error) {
	idx := schema.FieldIndices(name)
	if len(idx) != 1 {
		return nil, fmt.Errorf("formats: schema has %d fields %q, want 1", len(idx), name)
	}
	f := schema.Field(idx[0])
	v, ok := f.Metadata.GetValue(ShapeKey)
	if !ok {
		return nil, fmt.Errorf("formats: field %q has no %q metadata", name, ShapeKey)
	}
	var shape []int
	if err := json.Unmarshal([]byte(v), &shape); err != nil {
		return nil, fmt.Errorf("formats: field %q shape %q: %w", name, v, err)
	}
	return shape, nil
}

// BatchColumns are the per-row columns of a batch besides the image.
type BatchColumns struct {
	Set     []string
	Sim     []int32
	Map     []int32
	Variant []int8
	Params  [][6]float32
}

// NewBatchRecord assembles a batch record over x, a buffer of n*c*h*w float32 that the
// caller filled (or will fill before reading the record): no copy is made; the record holds
// its own reference to x. n is len(cols.Set).
func NewBatchRecord(mem memory.Allocator, schema *arrow.Schema, x *memory.Buffer, cols BatchColumns) (arrow.RecordBatch, error) {
	n := len(cols.Set)
	if len(cols.Sim) != n || len(cols.Map) != n || len(cols.Variant) != n || len(cols.Params) != n {
		return nil, fmt.Errorf("formats: batch columns have lengths set %d sim %d map %d variant %d params %d, want equal",
			n, len(cols.Sim), len(cols.Map), len(cols.Variant), len(cols.Params))
	}
	xt, ok := schema.Field(0).Type.(*arrow.FixedSizeListType)
	if !ok || schema.Field(0).Name != "x" {
		return nil, fmt.Errorf("formats: schema field 0 is %s, want x: FixedSizeList<float32>", schema.Field(0))
	}
	size := int(xt.Len())
	if x.Len() != 4*n*size {
		return nil, fmt.Errorf("formats: x buffer has %d bytes, want %d (%d rows x %d float32)", x.Len(), 4*n*size, n, size)
	}
	child := array.NewData(arrow.PrimitiveTypes.Float32, n*size, []*memory.Buffer{nil, x}, nil, 0, 0)
	defer child.Release()
	xd := array.NewData(xt, n, []*memory.Buffer{nil}, []arrow.ArrayData{child}, 0, 0)
	defer xd.Release()
	xa := array.NewFixedSizeListData(xd)
	defer xa.Release()

	sa, simA, mapA := idColumns(mem, cols.Set, cols.Sim, cols.Map)
	defer sa.Release()
	defer simA.Release()
	defer mapA.Release()
	vb := array.NewInt8Builder(mem)
	defer vb.Release()
	vb.AppendValues(cols.Variant, nil)
	va := vb.NewArray()
	defer va.Release()
	flat := make([]float32, 0, 6*n)
	for _, p := range cols.Params {
		flat = append(flat, p[:]...)
	}
	pa := newFSL(mem, 6, flat)
	defer pa.Release()
	return array.NewRecordBatch(schema, []arrow.Array{xa, sa, simA, mapA, va, pa}, int64(n)), nil
}

// idColumns builds the set, sim and map columns that batch and latent records share.
func idColumns(mem memory.Allocator, set []string, sim, mp []int32) (sa, simA, mapA arrow.Array) {
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.AppendValues(set, nil)
	return sb.NewArray(), newInt32(mem, sim), newInt32(mem, mp)
}

func newInt32(mem memory.Allocator, v []int32) arrow.Array {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// newFSL builds a FixedSizeList<float32>[size] array from flat (len a multiple of size).
func newFSL(mem memory.Allocator, size int, flat []float32) arrow.Array {
	b := array.NewFixedSizeListBuilder(mem, int32(size), arrow.PrimitiveTypes.Float32)
	defer b.Release()
	vb := b.ValueBuilder().(*array.Float32Builder)
	n := len(flat) / size
	b.Reserve(n)
	vb.Reserve(len(flat))
	for i := 0; i < n; i++ {
		b.Append(true)
	}
	vb.AppendValues(flat, nil)
	return b.NewArray()
}

// FSLFloat32 returns the flat float32 values of a FixedSizeList<float32> column without a
// copy (offset-adjusted), and the list size.
func FSLFloat32(col arrow.Array) ([]float32, int, error) {
	fsl, ok := col.(*array.FixedSizeList)
	if !ok {
		return nil, 0, fmt.Errorf("formats: column is %s, want FixedSizeList<float32>", col.DataType())
	}
	size := int(fsl.DataType().(*arrow.FixedSizeListType).Len())
	vals, ok := fsl.ListValues().(*array.Float32)
	if !ok {
		return nil, 0, fmt.Errorf("formats: list values are %s, want float32", fsl.ListValues().DataType())
	}
	off := fsl.Data().Offset()
	all := vals.Float32Values()
	return all[off*size : (off+fsl.Len())*size], size, nil
}

// Latents is a table of encoded maps: provenance, parameters and the encoder's mu and
// logvar (row-major, len = rows*L).
type Latents struct {
	L      int
	Set    []string
	Sim    []int32
	Map    []int32
	Params [][6]float32
	Mu     []float32
	Logvar []float32
	// Meta is written into the schema's metadata (key order sorted) and read back: what
	// made the table (the encoder's hash, the set, the shard). The key "latent" is L's.
	Meta map[string]string
}

// Len is the number of rows.
func (t *Latents) Len() int { return len(t.Set) }

func (t *Latents) check() error {
	n := len(t.Set)
	if t.L <= 0 || len(t.Sim) != n || len(t.Map) != n || len(t.Params) != n || len(t.Mu) != n*t.L || len(t.Logvar) != n*t.L {
		return fmt.Errorf("formats: latents: L=%d rows %d: sim %d map %d params %d mu %d logvar %d, want equal rows and mu/logvar = rows*L",
			t.L, n, len(t.Sim), len(t.Map), len(t.Params), len(t.Mu), len(t.Logvar))
	}
	return nil
}

// LatentSchema is the schema of a latents table with latent size l and the metadata meta
// (besides "latent", which holds l).
func LatentSchema(l int, meta map[string]string) *arrow.Schema {
	keys := []string{"latent"}
	for k := range meta {
		if k != "latent" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[1:])
	vals := []string{strconv.Itoa(l)}
	for _, k := range keys[1:] {
		vals = append(vals, meta[k])
	}
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema([]arrow.Field{
		{Name: "set", Type: arrow.BinaryTypes.String},
		{Name: "sim", Type: arrow.PrimitiveTypes.Int32},
		{Name: "map", Type: arrow.PrimitiveTypes.Int32},
		{Name: "params", Type: arrow.FixedSizeListOf(6, arrow.PrimitiveTypes.Float32)},
		{Name: "mu", Type: arrow.FixedSizeListOf(int32(l), arrow.PrimitiveTypes.Float32)},
		{Name: "logvar", Type: arrow.FixedSizeListOf(int32(l), arrow.PrimitiveTypes.Float32)},
	}, &md)
}

// NewLatentRecord builds one record batch holding t.
func NewLatentRecord(mem memory.Allocator, t *Latents) (arrow.RecordBatch, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	sa, simA, mapA := idColumns(mem, t.Set, t.Sim, t.Map)
	defer sa.Release()
	defer simA.Release()
	defer mapA.Release()
	flat := make([]float32, 0, 6*len(t.Params))
	for _, p := range t.Params {
		flat = append(flat, p[:]...)
	}
	pa := newFSL(mem, 6, flat)
	defer pa.Release()
	mu := newFSL(mem, t.L, t.Mu)
	defer mu.Release()
	lv := newFSL(mem, t.L, t.Logvar)
	defer lv.Release()
	return array.NewRecordBatch(LatentSchema(t.L, t.Meta), []arrow.Array{sa, simA, mapA, pa, mu, lv}, int64(len(t.Set))), nil
}

// AppendRecord appends the rows of a latents record (as written by NewLatentRecord) to t;
// name is used in errors.
func (t *Latents) AppendRecord(rec arrow.RecordBatch, name string) error {
	want := []string{"set", "sim", "map", "params", "mu", "logvar"}
	if int(rec.NumCols()) != len(want) {
		return fmt.Errorf("formats: %s: %d columns, want %v", name, rec.NumCols(), want)
	}
	for i, w := range want {
		if rec.ColumnName(i) != w {
			return fmt.Errorf("formats: %s: column %d is %q, want %q", name, i, rec.ColumnName(i), w)
		}
	}
	set, ok1 := rec.Column(0).(*array.String)
	sim, ok2 := rec.Column(1).(*array.Int32)
	mp, ok3 := rec.Column(2).(*array.Int32)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("formats: %s: set/sim/map columns are %s/%s/%s, want utf8/int32/int32", name,
			rec.Column(0).DataType(), rec.Column(1).DataType(), rec.Column(2).DataType())
	}
	params, ps, err := FSLFloat32(rec.Column(3))
	if err != nil || ps != 6 {
		return fmt.Errorf("formats: %s: params column: want FixedSizeList<float32>[6] (%v)", name, err)
	}
	mu, l, err := FSLFloat32(rec.Column(4))
	if err != nil {
		return fmt.Errorf("formats: %s: mu column: %w", name, err)
	}
	lv, l2, err := FSLFloat32(rec.Column(5))
	if err != nil || l2 != l {
		return fmt.Errorf("formats: %s: logvar column: want FixedSizeList<float32>[%d] (%v)", name, l, err)
	}
	if t.L == 0 {
		t.L = l
	} else if t.L != l {
		return fmt.Errorf("formats: %s: latent size %d, want %d", name, l, t.L)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		if set.IsNull(i) || sim.IsNull(i) || mp.IsNull(i) {
			return fmt.Errorf("formats: %s: row %d has a null set/sim/map", name, i)
		}
		t.Set = append(t.Set, set.Value(i))
		t.Sim = append(t.Sim, sim.Value(i))
		t.Map = append(t.Map, mp.Value(i))
		var p [6]float32
		copy(p[:], params[6*i:6*i+6])
		t.Params = append(t.Params, p)
	}
	t.Mu = append(t.Mu, mu...)
	t.Logvar = append(t.Logvar, lv...)
	return nil
}

// WriteLatentsIPC writes t as an Arrow IPC file, atomically.
func WriteLatentsIPC(path string, mem memory.Allocator, t *Latents) error {
	return commit(StageLatentsIPC(path, mem, t))
}

// WriteLatentsParquet writes t as a Parquet file (zstd, with the Arrow schema stored so the
// fixed-size lists read back as such), atomically.
func WriteLatentsParquet(path string, mem memory.Allocator, t *Latents) error {
	return commit(StageLatentsParquet(path, mem, t))
}

func commit(s *Staged, err error) error {
	if err != nil {
		return err
	}
	return s.Commit()
}

// StageLatentsIPC is WriteLatentsIPC up to the rename (see Stage).
func StageLatentsIPC(path string, mem memory.Allocator, t *Latents) (*Staged, error) {
	rec, err := NewLatentRecord(mem, t)
	if err != nil {
		return nil, fmt.Errorf("formats: %s: %w", path, err)
	}
	defer rec.Release()
	return Stage(path, func(w io.Writer) error {
		fw, err := ipc.NewFileWriter(w, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
		if err != nil {
			return err
		}
		if err := fw.Write(rec); err != nil {
			fw.Close()
			return err
		}
		return fw.Close()
	})
}

// StageLatentsParquet is WriteLatentsParquet up to the rename (see Stage).
func StageLatentsParquet(path string, mem memory.Allocator, t *Latents) (*Staged, error) {
	rec, err := NewLatentRecord(mem, t)
	if err != nil {
		return nil, fmt.Errorf("formats: %s: %w", path, err)
	}
	defer rec.Release()
	return Stage(path, func(w io.Writer) error {
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithAllocator(mem))
		// pqarrow closes a writer that is an io.Closer; hide Close so WriteFileAtomic can sync.
		fw, err := pqarrow.NewFileWriter(rec.Schema(), struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
		if err != nil {
			return err
		}
		if err := fw.Write(rec); err != nil {
			fw.Close()
			return err
		}
		return fw.Close()
	})
}

// ReadLatents reads a latents table written by WriteLatentsIPC or WriteLatentsParquet (the
// format is told by the file's magic bytes).
func ReadLatents(mem memory.Allocator, path string) (*Latents, error) {
	t := &Latents{}
	err := readLatents(mem, path, func(schema *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error]) error {
		t.Meta = schemaMeta(schema)
		for rec, err := range records {
			if err != nil {
				return err
			}
			if err := t.AppendRecord(rec, path); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.L == 0 {
		return nil, fmt.Errorf("formats: %s: no rows", path)
	}
	return t, nil
}

// ReadLatentsMeta reads only the metadata of a latents table (see Latents.Meta), without
// its rows: enough to tell what made a file.
func ReadLatentsMeta(mem memory.Allocator, path string) (map[string]string, error) {
	var meta map[string]string
	err := readLatents(mem, path, func(schema *arrow.Schema, _ iter.Seq2[arrow.RecordBatch, error]) error {
		meta = schemaMeta(schema)
		return nil
	})
	return meta, err
}

// schemaMeta is a schema's metadata without the "latent" key.
func schemaMeta(s *arrow.Schema) map[string]string {
	md := s.Metadata()
	out := map[string]string{}
	for i, k := range md.Keys() {
		if k != "latent" {
			out[k] = md.Values()[i]
		}
	}
	return out
}

// readLatents opens an Arrow IPC or Parquet file (told by its magic bytes) and hands its
// schema and record iterator to use, which the file outlives.
func readLatents(mem memory.Allocator, path string, use func(*arrow.Schema, iter.Seq2[arrow.RecordBatch, error]) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("formats: read latents: %w", err)
	}
	defer f.Close()
	var magic [6]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		return fmt.Errorf("formats: %s: want an Arrow IPC or Parquet file: %w", path, noEOF(err))
	}
	switch {
	case bytes.Equal(magic[:], []byte("ARROW1")):
		r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return fmt.Errorf("formats: %s: %w", path, err)
		}
		defer r.Close()
		return use(r.Schema(), func(yield func(arrow.RecordBatch, error) bool) {
			for i := 0; i < r.NumRecords(); i++ {
				rec, err := r.RecordBatch(i)
				if err != nil {
					err = fmt.Errorf("formats: %s: record %d: %w", path, i, err)
				}
				if !yield(rec, err) || err != nil {
					return
				}
			}
		})
	case bytes.Equal(magic[:4], []byte("PAR1")):
		pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
		if err != nil {
			return fmt.Errorf("formats: %s: %w", path, err)
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, mem)
		if err != nil {
			return fmt.Errorf("formats: %s: %w", path, err)
		}
		schema, err := fr.Schema()
		if err != nil {
			return fmt.Errorf("formats: %s: %w", path, err)
		}
		return use(schema, func(yield func(arrow.RecordBatch, error) bool) {
			rr, err := fr.GetRecordReader(context.Background(), nil, nil)
			if err != nil {
				yield(nil, fmt.Errorf("formats: %s: %w", path, err))
				return
			}
			defer rr.Release()
			for rr.Next() {
				if !yield(rr.RecordBatch(), nil) {
					return
				}
			}
			if err := rr.Err(); err != nil {
				yield(nil, fmt.Errorf("formats: %s: %w", path, err))
			}
		})
	}
	return fmt.Errorf("formats: %s: magic %q, want an Arrow IPC (ARROW1) or Parquet (PAR1) file", path, magic)
}

// unsafeFloat32 views b (len a multiple of 4, from an Arrow allocator: 64-byte aligned) as float32.
func unsafeFloat32(b []byte) []float32 { return arrow.Float32Traits.CastFromBytes(b) }
