package eval

import (
	"strings"
	"testing"
)

// TestTinyMaps: maps smaller than the SSIM's 11x11 window get the same one-line error from
// every entry point that computes an SSIM (they gave NaN or panicked before).
func TestTinyMaps(t *testing.T) {
	for _, hw := range [][2]int{{10, 20}, {20, 10}, {8, 8}, {5, 30}} {
		h, w := hw[0], hw[1]
		s := Shape{C: 2, H: h, W: w}
		truth, rec := [][]float32{make([]float32, s.Len())}, [][]float32{make([]float32, s.Len())}
		want := errSSIMSize(h, w).Error()
		_, errEval := Evaluate(truth, rec, s, 0)
		_, errBatch := SSIMBatch(truth, rec, s, 0)
		_, errOne := SSIM(truth[0][:h*w], rec[0][:h*w], h, w, 1)
		for name, err := range map[string]error{"Evaluate": errEval, "SSIMBatch": errBatch, "SSIM": errOne} {
			if err == nil || err.Error() != want {
				t.Errorf("%dx%d: %s: %v, want %q", h, w, name, err, want)
			}
		}
		if strings.Contains(want, "\n") {
			t.Errorf("error has a newline: %q", want)
		}
	}
}

// TestBatchErrors: a map that does not fit its shape is an error naming the map, from every
// batch entry point.
func TestBatchErrors(t *testing.T) {
	s := Shape{C: 1, H: 16, W: 16}
	good := make([]float32, s.Len())
	tests := []struct {
		name        string
		truth, rec  [][]float32
		errContains string
	}{
		{"short reconstruction", [][]float32{good, good}, [][]float32{good, good[:10]}, "reconstruction map 1 has 10 values, shape 1x16x16 needs 256"},
		{"counts differ", [][]float32{good, good}, [][]float32{good}, "2 truth maps and 1 reconstructions"},
		{"empty", nil, nil, "0 truth maps and 0 reconstructions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, e1 := Evaluate(tc.truth, tc.rec, s, 0)
			_, e2 := SSIMBatch(tc.truth, tc.rec, s, 0)
			_, e3 := PowerSpectra(tc.truth, tc.rec, s, 0)
			_, e4 := PixelKS(tc.truth, tc.rec, s, 1)
			for i, err := range []error{e1, e2, e3, e4} {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Errorf("entry point %d: %v, want an error containing %q", i, err, tc.errContains)
				}
			}
		})
	}
}
