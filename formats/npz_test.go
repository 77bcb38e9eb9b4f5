package formats

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleArrays() ([]string, map[string]Array) {
	f := make([]float32, 2*3*4)
	for i := range f {
		f[i] = float32(i) / 7
	}
	return []string{"weights", "bias", "step", "scalar", "empty"}, map[string]Array{
		"weights": F32Array(f, 2, 3, 4),
		"bias":    F64Array([]float64{1.5, -2.25, math.Pi, math.Inf(1)}, 4),
		"step":    I64Array([]int64{-1, 1 << 40}, 2, 1),
		"scalar":  F32Array([]float32{3}),
		"empty":   F32Array([]float32{}, 0, 5),
	}
}

func TestNPZRoundTrip(t *testing.T) {
	names, arrays := sampleArrays()
	p := filepath.Join(t.TempDir(), "a.npz")
	if err := WriteNPZ(p, names, arrays); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(arrays) {
		t.Fatalf("read %d arrays, want %d", len(got), len(arrays))
	}
	for n, want := range arrays {
		g := got[n]
		if !reflect.DeepEqual(g.Shape, append([]int{}, want.Shape...)) || g.DType() != want.DType() ||
			!reflect.DeepEqual(g.F32, want.F32) || !reflect.DeepEqual(g.F64, want.F64) || !reflect.DeepEqual(g.I64, want.I64) {
			t.Errorf("%s: got %+v, want %+v", n, g, want)
		}
	}
	// Deterministic bytes: the same arrays written again give the same file.
	b1, _ := os.ReadFile(p)
	if err := WriteNPZ(p, names, arrays); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(p); !bytes.Equal(b1, b2) {
		t.Error("two writes of the same arrays differ")
	}
}

// TestNPZReadNumpy reads archives written by numpy.savez and numpy.savez_compressed
// (testdata/make_npz_golden.py); expected values are the ones that script puts in.
func TestNPZReadNumpy(t *testing.T) {
	for _, file := range []string{"npz_numpy.npz", "npz_numpy_z.npz"} {
		t.Run(file, func(t *testing.T) {
			got, err := ReadNPZ(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				want Array
			}{
				{"f8", F64Array([]float64{1.5, -2.25, math.Pi}, 3)},
				{"i8", I64Array([]int64{1, -2, 3, 1 << 40}, 2, 2)},
				{"i4", I64Array([]int64{7, -8}, 2)},
				{"be", F64Array([]float64{1, 2}, 2)},
				{"scalar", F32Array([]float32{3})},
				{"empty", F32Array([]float32{}, 0, 5)},
			}
			for _, tc := range tests {
				g := got[tc.name]
				if len(g.Shape) != len(tc.want.Shape) || (len(g.Shape) > 0 && !reflect.DeepEqual(g.Shape, tc.want.Shape)) ||
					!reflect.DeepEqual(g.F32, tc.want.F32) || !reflect.DeepEqual(g.F64, tc.want.F64) || !reflect.DeepEqual(g.I64, tc.want.I64) {
					t.Errorf("%s: got %+v, want %+v", tc.name, g, tc.want)
				}
			}
			g := got["f4"]
			if !reflect.DeepEqual(g.Shape, []int{2, 3, 4}) || len(g.F32) != 24 {
				t.Fatalf("f4: got %+v", g)
			}
			for i, v := range g.F32 {
				if math.Abs(float64(v)-float64(i)/7) > 1e-6 {
					t.Errorf("f4[%d] = %v, want %v", i, v, float64(i)/7)
				}
			}
		})
	}
}

// TestNPZNumpyLoads checks with numpy itself that our archives load and hold our values.
func TestNPZNumpyLoads(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("no numpy")
	}
	names, arrays := sampleArrays()
	p := filepath.Join(t.TempDir(), "a.npz")
	if err := WriteNPZ(p, names, arrays); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
z = np.load(sys.argv[1])
assert list(z.files) == ["weights", "bias", "step", "scalar", "empty"], z.files
w = z["weights"]; assert w.dtype == np.float32 and w.shape == (2, 3, 4)
assert np.array_equal(w, (np.arange(24, dtype=np.float32) / np.float32(7)).reshape(2, 3, 4))
b = z["bias"]; assert b.dtype == np.float64 and b.shape == (4,) and b[2] == np.pi and np.isinf(b[3])
s = z["step"]; assert s.dtype == np.int64 and s.shape == (2, 1) and s[1, 0] == 1 << 40
assert z["scalar"].shape == () and z["scalar"] == 3
assert z["empty"].shape == (0, 5)
print("ok")
`
	out, err := exec.Command(py, "-c", script, p).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy.load: %v\n%s", err, out)
	}
}

func TestNPZCorrupt(t *testing.T) {
	names, arrays := sampleArrays()
	var buf bytes.Buffer
	if err := EncodeNPZ(&buf, names, arrays); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	hdr := bytes.Index(good, []byte("\x93NUMPY"))
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   string // substring of the one-line error
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, "zip"},
		{"bad magic", func(b []byte) []byte { b[hdr+1] = 'X'; return b }, `member "weights.npy": not a .npy file`},
		{"flipped data byte", func(b []byte) []byte { b[hdr+200] ^= 0xff; return b }, `member "weights.npy"`},
		{"bad dtype", func(b []byte) []byte {
			i := bytes.Index(b, []byte("'<f4'"))
			copy(b[i:], "'<c8'")
			return b
		}, `unsupported dtype "<c8"`},
		{"huge shape", func(b []byte) []byte {
			i := bytes.Index(b, []byte("(2, 3, 4)"))
			copy(b[i:], "(9999999)")
			return b
		}, "needs 39999996 bytes"},
		{"not zip", func([]byte) []byte { return []byte("hello") }, "not a valid zip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.npz")
			b := tc.mutate(append([]byte{}, good...))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadNPZ(p)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and containing %q", msg, p, tc.want)
			}
		})
	}
}

func TestWriteNPZRejects(t *testing.T) {
	tests := []struct {
		name   string
		names  []string
		arrays map[string]Array
	}{
		{"missing", []string{"a"}, map[string]Array{}},
		{"twice", []string{"a", "a"}, map[string]Array{"a": F32Array([]float32{1}, 1)}},
		{"shape", []string{"a"}, map[string]Array{"a": F32Array([]float32{1, 2}, 3)}},
		{"two slices", []string{"a"}, map[string]Array{"a": {Shape: []int{1}, F32: []float32{1}, F64: []float64{1}}}},
		{"no data", []string{"a"}, map[string]Array{"a": {Shape: []int{1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteNPZ(filepath.Join(dir, "x.npz"), tc.names, tc.arrays); err == nil {
				t.Fatal("no error")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left %d files", len(ents))
			}
		})
	}
}

func FuzzReadNPZ(f *testing.F) {
	names, arrays := sampleArrays()
	var buf bytes.Buffer
	if err := EncodeNPZ(&buf, names, arrays); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.npz")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadNPZ(p) // must not panic or allocate without bound
	})
}
