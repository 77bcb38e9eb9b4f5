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
			dst[i] = float32(fastLn(float64(v)) * invLn10)
		}
	case Asinh:
		for i, v := range src {
			if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
				return 0, &badValue{i, v, "not finite"}
			}
			dst[i] = float32(fastAsinh(float64(v)))
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

const invLn10 = 1 / math.Ln10

// lnTable holds, for the 2^lnBits mantissa intervals [c_i, c_i + 2^-lnBits) of [1, 2),
// ln(c_i) and 1/c_i, so fastLn needs no division.
const lnBits = 10

var lnTable = func() (t [1 << lnBits][2]float64) {
	for i := range t {
		c := 1 + float64(i)/(1<<lnBits)
		t[i] = [2]float64{math.Log(c), 1 / c}
	}
	return t
}()

// fastLn is the natural log of a positive, finite, normal x to within 1e-12 (float32
// results need 1e-7): x = 2^e m, m in [1, 2); m = c_i (1 + t) with c_i from the top 10
// mantissa bits, so 0 <= t < 2^-10 and ln(1 + t) = t - t^2/2 + t^3/3 - t^4/4 is exact to
// t^5/5 < 2e-16. It is several times faster than math.Log, whose amd64 assembly dominated
// the loader's profile.
func fastLn(x float64) float64 {
	b := math.Float64bits(x)
	e := int(b>>52&0x7ff) - 1023
	m := math.Float64frombits(b&(1<<52-1) | 1023<<52)
	tb := &lnTable[b>>(52-lnBits)&(1<<lnBits-1)]
	t := (m - 1 - float64(b>>(52-lnBits)&(1<<lnBits-1))*(1.0/(1<<lnBits))) * tb[1]
	return float64(e)*math.Ln2 + tb[0] + t*(1-t*(0.5-t*(1.0/3-t*0.25)))
}

// fastAsinh is asinh(x) = sign(x) ln(|x| + sqrt(x^2 + 1)) through fastLn; below |x| = 1e-4
// it returns x (asinh(x) = x - x^3/6 + ..., so the error is < 2e-13 there).
func fastAsinh(x float64) float64 {
	a := math.Abs(x)
	if a < 1e-4 {
		return x
	}
	var r float64
	if a > 1e150 {
		r = fastLn(a) + math.Ln2
	} else {
		r = fastLn(a + math.Sqrt(a*a+1))
	}
	return math.Copysign(r, x)
}
