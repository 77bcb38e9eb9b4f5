package formats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// writeCube writes an (n, h, w) cube with a seeded random map per index and returns the data.
func writeCube(t testing.TB, path string, n, h, w int) []float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(n*h*w)))
	data := make([]float32, n*h*w)
	for i := range data {
		data[i] = float32(rng.NormFloat64()) * 1e10
	}
	mw, err := CreateMaps(path, n, h, w)
	if err != nil {
		t.Fatal(err)
	}
	for i := n - 1; i >= 0; i-- { // out of order on purpose
		if err := mw.WriteMap(i, data[i*h*w:(i+1)*h*w]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// writeRaw writes a .npy file with an arbitrary header dict and payload.
func writeRaw(t testing.TB, path, dict string, payload []byte) {
	t.Helper()
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(dict)+pad+1))
	b.WriteString(dict + strings.Repeat(" ", pad) + "\n")
	b.Write(payload)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMapRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cube.npy")
	const n, h, w = 7, 16, 12
	data := writeCube(t, path, n, h, w)
	r, err := OpenMaps(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if gn, gh, gw := r.Shape(); gn != n || gh != h || gw != w {
		t.Fatalf("shape (%d,%d,%d), want (%d,%d,%d)", gn, gh, gw, n, h, w)
	}
	// Concurrent readers, every map, bit-identical.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, h*w)
			if err := r.ReadMap(i, dst); err != nil {
				errs[i] = err
				return
			}
			want := data[i*h*w : (i+1)*h*w]
			for j := range dst {
				if math.Float32bits(dst[j]) != math.Float32bits(want[j]) {
					errs[i] = fmt.Errorf("map %d pixel %d: %v != %v", i, j, dst[j], want[j])
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The file body after the header is exactly the little-endian bytes of the cube.
	raw, _ := os.ReadFile(path)
	if len(raw)%64 != 0 && (len(raw)-n*h*w*4)%64 != 0 {
		t.Errorf("data offset %d not 64-aligned", len(raw)-n*h*w*4)
	}
	body := raw[len(raw)-n*h*w*4:]
	if !bytes.Equal(body, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*4)) {
		t.Error("file body differs from the cube bytes")
	}
	if err := r.ReadMap(n, make([]float32, h*w)); err == nil || !strings.Contains(err.Error(), "map 7") {
		t.Errorf("out of range read: %v", err)
	}
}

func TestMapFloat64(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f8.npy")
	vals := []float64{1.5, -2, 3e12, 4e-15, 5, 6}
	var payload bytes.Buffer
	binary.Write(&payload, binary.LittleEndian, vals)
	writeRaw(t, path, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1, 2), }", payload.Bytes())
	r, err := OpenMaps(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dst := make([]float32, 2)
	for i := 0; i < 3; i++ {
		if err := r.ReadMap(i, dst); err != nil {
			t.Fatal(err)
		}
		if dst[0] != float32(vals[2*i]) || dst[1] != float32(vals[2*i+1]) {
			t.Errorf("map %d = %v, want %v", i, dst, vals[2*i:2*i+2])
		}
	}
}

func TestMapBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npy")
	writeCube(t, good, 2, 4, 4)
	raw, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "trunc.npy")
	os.WriteFile(trunc, raw[:len(raw)-5], 0o644)
	shortHdr := filepath.Join(dir, "shorthdr.npy")
	os.WriteFile(shortHdr, raw[:30], 0o644)
	i8 := filepath.Join(dir, "int.npy")
	writeRaw(t, i8, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2, 2), }", make([]byte, 32))
	twoD := filepath.Join(dir, "twod.npy")
	writeRaw(t, twoD, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", make([]byte, 64))
	fort := filepath.Join(dir, "fortran.npy")
	writeRaw(t, fort, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 2), }", make([]byte, 16))
	junk := filepath.Join(dir, "junk.npy")
	os.WriteFile(junk, []byte("hello, world, not numpy"), 0o644)
	for _, tc := range []struct {
		path, want string
	}{
		{trunc, "truncated"},
		{shortHdr, "npy header"},
		{i8, "dtype \"<i8\""},
		{twoD, "2-D, want 3-D"},
		{fort, "Fortran"},
		{junk, "not a .npy file"},
		{filepath.Join(dir, "missing.npy"), "no such file"},
	} {
		r, err := OpenMaps(tc.path)
		if err == nil {
			r.Close()
			t.Errorf("%s: no error", tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line with the path and %q", tc.path, err, tc.want)
		}
		// Bad contents are a DataError about the whole file; a missing file is not bad data.
		var de *DataError
		if isData := errors.As(err, &de); isData != (tc.want != "no such file") || (isData && (de.Path != tc.path || de.Map != -1)) {
			t.Errorf("%s: %#v, want a DataError about the file", tc.path, de)
		}
	}
}

// studyFields are the study's three CMD fields.
var studyFields = []string{"Mgas", "Vgas", "B"}

func TestOpenSet(t *testing.T) {
	dir := t.TempDir()
	for _, f := range studyFields {
		writeCube(t, MapPath(dir, f, "IllustrisTNG", "CV"), 3, 8, 8)
	}
	s, err := OpenSet(dir, "IllustrisTNG", "CV", studyFields)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Errorf("Len %d, want 3", s.Len())
	}
	s.Close()
	// B with a different N.
	writeCube(t, MapPath(dir, "B", "IllustrisTNG", "CV"), 4, 8, 8)
	// One field alone opens; B with a different N beside Mgas does not.
	if one, err := OpenSet(dir, "IllustrisTNG", "CV", []string{"Vgas"}); err != nil || len(one.Fields) != 1 {
		t.Errorf("one field: %v", err)
	} else {
		one.Close()
	}
	_, err = OpenSet(dir, "IllustrisTNG", "CV", studyFields)
	if err == nil || !strings.Contains(err.Error(), "Maps_B_IllustrisTNG_CV_z=0.00.npy has shape (4, 8, 8), want (3, 8, 8)") {
		t.Errorf("mismatched N: %v", err)
	}
	_, err = OpenSet(dir, "IllustrisTNG", "LH", studyFields)
	if err == nil || !strings.Contains(err.Error(), "Maps_Mgas_IllustrisTNG_LH_z=0.00.npy") {
		t.Errorf("missing set: %v", err)
	}
}

func TestMapWriterIncomplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	mw, err := CreateMaps(path, 3, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	mw.WriteMap(0, make([]float32, 4))
	if err := mw.WriteMap(1, make([]float32, 3)); err == nil {
		t.Error("short map accepted")
	}
	if err := mw.Close(); err == nil || !strings.Contains(err.Error(), "1 of 3 maps written (first missing: 1)") {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("incomplete cube left at %s", path)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestNpyHeaderNumpyLayout(t *testing.T) {
	// Header bytes as written by numpy 1.26 for np.zeros((2, 3, 4), '<f4'), checked with
	// /usr/bin/python3 -c "import numpy as np, io; b=io.BytesIO(); np.save(b, np.zeros((2,3,4),'<f4')); print(b.getvalue()[:128])".
	want := "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }" + strings.Repeat(" ", 55) + "\n"
	if got := string(NpyHeaderBytes(2, 3, 4)); got != want {
		t.Errorf("header\n%q\nwant\n%q", got, want)
	}
	h, err := ParseNpyHeader(bytes.NewReader([]byte(want)))
	if err != nil || h.Descr != "<f4" || len(h.Shape) != 3 || h.DataOffset != 128 {
		t.Errorf("parse: %+v %v", h, err)
	}
}
