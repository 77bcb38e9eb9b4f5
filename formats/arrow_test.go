package formats

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestBatchRecordZeroCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const n, c, h, w = 3, 3, 4, 4
	schema := BatchSchema(c, h, w)
	if shape, err := ImageShape(schema, "x"); err != nil || !slices.Equal(shape, []int{c, h, w}) {
		t.Fatalf("shape %v %v", shape, err)
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(4 * n * c * h * w)
	x := unsafeFloat32(buf.Bytes())
	rec, err := NewBatchRecord(mem, schema, buf, BatchColumns{
		Set: []string{"CV", "CV", "LH"}, Sim: []int32{0, 1, 2}, Map: []int32{3, 15, 30},
		Variant: []int8{0, 5, 0}, Params: make([][6]float32, n),
	})
	buf.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for i := range x {
		x[i] = float32(i) // written after the record exists: the column must see it
	}
	vals, size, err := FSLFloat32(rec.Column(0))
	if err != nil || size != c*h*w || len(vals) != n*c*h*w {
		t.Fatalf("FSLFloat32: %d %d %v", len(vals), size, err)
	}
	if &vals[0] != &x[0] || vals[len(vals)-1] != float32(n*c*h*w-1) {
		t.Error("x column is not a view of the buffer")
	}
	if v := rec.Column(4).(*array.Int8).Value(1); v != 5 {
		t.Errorf("variant %d, want 5", v)
	}
}

func TestLatentsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lat := &Latents{L: 4, Set: []string{"LH", "LH"}, Sim: []int32{7, 8}, Map: []int32{105, 120},
		Params: [][6]float32{{0.3, 0.8, 1, 1, 1, 1}, {0.1, 0.6, 2, 3, 0.5, 1.5}},
		Mu:     []float32{1, 2, 3, 4, 5, 6, 7, 8}, Logvar: []float32{-1, -2, -3, -4, -5, -6, -7, -8},
		Meta: map[string]string{"camelsvae.shard": "1/4", "camelsvae.encoder_sha256": "ab12"}}
	dir := t.TempDir()
	for _, name := range []string{"lat.arrow", "lat.parquet"} {
		path := filepath.Join(dir, name)
		var err error
		if name == "lat.arrow" {
			err = WriteLatentsIPC(path, mem, lat)
		} else {
			err = WriteLatentsParquet(path, mem, lat)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadLatents(mem, path)
		if err != nil {
			t.Fatal(err)
		}
		if got.L != 4 || !slices.Equal(got.Set, lat.Set) || !slices.Equal(got.Sim, lat.Sim) || !slices.Equal(got.Map, lat.Map) ||
			!slices.Equal(got.Params, lat.Params) || !slices.Equal(got.Mu, lat.Mu) || !slices.Equal(got.Logvar, lat.Logvar) ||
			!maps.Equal(got.Meta, lat.Meta) {
			t.Errorf("%s: read %+v, want %+v", name, got, lat)
		}
		if meta, err := ReadLatentsMeta(mem, path); err != nil || !maps.Equal(meta, lat.Meta) {
			t.Errorf("%s: metadata %v, %v; want %v", name, meta, err, lat.Meta)
		}
	}
	bad := *lat
	bad.Mu = bad.Mu[:7]
	if err := WriteLatentsIPC(filepath.Join(dir, "bad.arrow"), mem, &bad); err == nil {
		t.Error("ragged latents accepted")
	}
	if _, err := ReadLatents(mem, filepath.Join(dir, "missing.parquet")); err == nil {
		t.Error("missing file accepted")
	}
}
