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
// refused when floor == 0 and replaced by log10(floor) (and counted) otherwise.
func (t Transform) apply(dst, src []float32, floor float64) (floored int, bad *badValue) {
	return t.affine(dst, src, floor, 1, 0)
}

// affine writes t(src)*a + b into dst, rounding once to float32: with a = 1/std and
// b = -mean/std it is the transform and the z-score in one pass. Bad values are handled as
// by apply; a floored value becomes log10(floor)*a + b.
func (t Transform) affine(dst, src []float32, floor, a, b float64) (floored int, bad *badValue) {
	var k rowKernel
	k.init(t, floor, a, b)
	return k.apply(dst, src)
}

// rowKernel is affine's per-channel state (for Log10 a table with a and b folded in), built
// once and applied to many rows.
type rowKernel struct {
	t           Transform
	floor, a, b float64
	ln          lnKernel
	asinh       *[asinhN][4]float64
}

func (k *rowKernel) init(t Transform, floor, a, b float64) {
	k.t, k.floor, k.a, k.b = t, floor, a, b
	switch t {
	case Log10:
		k.ln.init(a*invLn10, b)
	case Asinh:
		k.asinh = asinhTab()
	}
}

// apply is affine for one row. The row kernels (fastmath.go) run until a value they do not
// take; that value is handled here (an error, a floor, or a rare value through the math
// package) and the kernel resumes after it.
func (k *rowKernel) apply(dst, src []float32) (floored int, bad *badValue) {
	dst = dst[:len(src)]
	for i := 0; i < len(src); i++ {
		switch k.t {
		case Log10:
			i += k.ln.row(dst[i:], src[i:])
		case Asinh:
			i += asinhRow(k.asinh, dst[i:], src[i:], k.a, k.b)
		default:
			i += linRow(dst[i:], src[i:], k.a, k.b)
		}
		if i == len(src) {
			break
		}
		v := src[i]
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return floored, &badValue{i, v, "not finite"}
		}
		switch k.t {
		case Log10:
			switch {
			case v > 0: // a float32 subnormal
				dst[i] = float32(math.Log10(float64(v))*k.a + k.b)
			case k.floor <= 0:
				return floored, &badValue{i, v, "not > 0 for log10 (set data.log_floor to floor it)"}
			default:
				dst[i] = float32(math.Log10(k.floor)*k.a + k.b)
				floored++
			}
		case Asinh: // |v| < 0.5 or >= 2^25
			dst[i] = float32(math.Asinh(float64(v))*k.a + k.b)
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

const invLn10 = 1 / math.Ln10
