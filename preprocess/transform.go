// Package preprocess turns CMD maps into model inputs: per-channel transforms (log10, asinh),
// area-averaging downsampling, z-score statistics from the training split only, D4
// augmentation, seeded splits, and the concurrent Loader that fills Arrow record batches.
//
// Invariants:
//   - Downsampling averages the raw physical values (mass and field strength add up over
//     area) before the transform, so a 64x64 map is the 256x256 map seen by a coarser
//     instrument, not an average of logarithms.
//   - Statistics come from the training split only and are applied unchanged to every split.
//   - Batch order depends only on (seed, epoch), never on the worker count or timing: workers
//     write into pre-sized slots by index.
//   - Errors about data name the file, the map index, the field and, for bad values, the pixel.
package preprocess

import (
	"fmt"
	"math"
)

// Transform is a per-channel pointwise transform applied before z-scoring.
type Transform uint8

const (
	// None leaves values as they are.
	None Transform = iota
	// Log10 takes log10; values must be > 0 (or floored, see configs.Data.LogFloor).
	Log10
	// Asinh takes asinh, which is log-like for large values and accepts any sign.
	Asinh
)

// ParseTransform reads a config name: "log10", "asinh" or "none".
func ParseTransform(s string) (Transform, error) {
	switch s {
	case "log10":
		return Log10, nil
	case "asinh":
		return Asinh, nil
	case "none":
		return None, nil
	}
	return None, fmt.Errorf("preprocess: transform %q, want log10, asinh or none", s)
}

func (t Transform) String() string {
	switch t {
	case Log10:
		return "log10"
	case Asinh:
		return "asinh"
	}
	return "none"
}

// badValue describes the first pixel a transform refused.
type badValue struct {
	pixel int
	value float32
	why   string
}

// apply writes t(src) into dst. Non-finite inputs are refused; for Log10 a value <= 0 is
// refused when floor == 0 and replaced by floor (and counted) otherwise.
func (t Transform) apply(dst, src []float32, floor float64) (floored int, bad *badValue) {
	switch t {
	case Log10:
		lf := float32(math.Log10(floor))
		for i, v := range src {
			if !(v > 0) || v > math.MaxFloat32 {
				if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
					return floored, &badValue{i, v, "not finite"}
				}
				if floor <= 0 {
					return floored, &badValue{i, v, "not > 0 for log10 (set data.log_floor to floor it)"}
				}
				dst[i] = lf
				floored++
				continue
			}
			dst[i] = float32(math.Log10(float64(v)))
		}
	case Asinh:
		for i, v := range src {
			if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
				return 0, &badValue{i, v, "not finite"}
			}
			dst[i] = float32(math.Asinh(float64(v)))
		}
	default:
		for i, v := range src {
			if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
				return 0, &badValue{i, v, "not finite"}
			}
			dst[i] = v
		}
	}
	return floored, nil
}

// Inverse maps transformed values back to physical units in place.
func (t Transform) Inverse(x []float32) {
	switch t {
	case Log10:
		for i, v := range x {
			x[i] = float32(math.Pow(10, float64(v)))
		}
	case Asinh:
		for i, v := range x {
			x[i] = float32(math.Sinh(float64(v)))
		}
	}
}

// Forward applies t in place to finite values; it is the scalar counterpart of Inverse for
// callers (eval) that already hold physical maps. Values a transform cannot take become NaN.
func (t Transform) Forward(x []float32) {
	for i, v := range x {
		switch t {
		case Log10:
			x[i] = float32(math.Log10(float64(v)))
		case Asinh:
			x[i] = float32(math.Asinh(float64(v)))
		}
	}
}
