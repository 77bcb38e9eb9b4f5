package formats

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestParams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "params_LH_IllustrisTNG.txt")
	rows := []Params{{0.309, 0.979, 3.11234, 1.12194, 0.6685, 0.53182}, {0.3, 0.8, 1, 1, 1, 1}}
	if err := WriteParams(path, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rows[0] || got[1] != rows[1] {
		t.Errorf("read %v, want %v", got, rows)
	}
	if err := CheckMapsParams(30, 2, "m.npy", path); err != nil {
		t.Error(err)
	}
	if err := CheckMapsParams(31, 2, "m.npy", path); err == nil || !strings.Contains(err.Error(), "want 15 x 2 = 30") {
		t.Errorf("CheckMapsParams: %v", err)
	}
}

func TestParamsBad(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
		line             int
	}{
		{"five", "0.3 0.8 1 1 1 1\n0.3 0.8 1 1 1\n", "p.txt:2: 5 columns, want 6", 2},
		{"nan", "0.3 NaN 1 1 1 1\n", "p.txt:1: column 2 (sigma_8) = \"NaN\", want a finite number", 1},
		{"inf", "0.3 0.8 1 1 1 +Inf\n", "p.txt:1: column 6 (A_AGN2)", 1},
		{"word", "\n\n0.3 0.8 1 x 1 1\n", "p.txt:3: column 4 (A_AGN1) = \"x\"", 3},
		{"empty", "\n", "p.txt: no parameter rows", 0},
	} {
		_, err := ParseParams(strings.NewReader(tc.text), "p.txt")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		var de *DataError
		if !errors.As(err, &de) || de.Path != "p.txt" || de.Line != tc.line {
			t.Errorf("%s: %#v, want a DataError at p.txt line %d", tc.name, de, tc.line)
		}
	}
	if _, err := ReadParams(filepath.Join(t.TempDir(), "none.txt")); err == nil || !strings.Contains(err.Error(), "none.txt") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseParams checks that any input gives rows of finite numbers or an error naming the file.
func FuzzParseParams(f *testing.F) {
	f.Add([]byte("0.30000 0.80000 1.00000 1.00000 1.00000 1.00000\n"))
	f.Add([]byte("0.3 0.8 1 1 1\n"))
	f.Add([]byte("0.3 nan 1 1 1 1\n# comment\n\n"))
	f.Add([]byte("1e308 1e-308 -0 +1 0x1p3 1_0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := ParseParams(bytes.NewReader(b), "fuzz.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "formats: fuzz.txt") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, r := range rows {
			for _, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite value accepted: %v", r)
				}
			}
		}
	})
}

// FuzzParseNpyHeader checks that no header bytes make the parser panic or accept a
// header it cannot describe.
func FuzzParseNpyHeader(f *testing.F) {
	f.Add(NpyHeaderBytes(2, 3, 4))
	f.Add(NpyHeaderBytes(5))
	f.Add([]byte("\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'fortran_order': True, 'shape': (), }\n"))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'shape': (1,)}\n"))
	f.Add([]byte("\x93NUMPY\x01\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseNpyHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if h.DataOffset <= 0 || h.DataOffset > int64(len(b)) {
			t.Fatalf("data offset %d outside the %d input bytes", h.DataOffset, len(b))
		}
		for _, d := range h.Shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", h.Shape)
			}
		}
	})
}
