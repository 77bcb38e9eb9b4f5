package preprocess

import (
	"math"
	"sync"
)

// The loader's hot loop is y = f(x)*a + b over float32 pixels, where f is ln (log10
// channels, 1/ln10 folded into a), asinh or the identity, and (a, b) fold in the z-score.
// The kernels below compute it in float64 from table-driven expansions (no math.Log, no
// sqrt: both cost more than the rest of the loop) and round once to float32. Each stops at
// the first pixel it does not take (non-finite, not > 0 for ln, |x| outside [0.5, 2^25)
// for asinh) and returns its index, so that the branchy handling stays out of the loop.
// Go does not vectorise, so these are scalar; what keeps them short is one table load
// per pixel, a cubic, and no division. On amd64 with AVX2 each first runs an assembly
// version (fastmath_amd64.s) that does the same float64 operations in the same order on 8
// pixels at a time (AVX-512 where the CPU has it), so the results do not depend on the
// CPU; the Go loop takes the rest.

const (
	lnBits = 7
	lnN    = 1 << lnBits
	// lnOff is 0.69921875 as float32 bits: x = 2^k z with z in [lnOff, 2 lnOff).
	lnOff = 0x3f330000
)

// lnTab holds 1/c_i and ln(c_i) for c_i the centre of subinterval i of [0.699, 1.398),
// selected by the top lnBits mantissa bits of the float32 x - lnOff (ARM optimized-routines'
// logf layout). 1.0 is a subinterval boundary and each subinterval is 2^-8 (below 1) or 2^-7
// (above 1) wide, so |r| = |z/c_i - 1| < 2^-8 and the cubic r - r^2/2 + r^3/3 for ln(1 + r)
// is off by less than r^4/4 < 6e-11: far below float32's 6e-8.
var lnTab = func() (t [lnN]struct{ invc, logc float64 }) {
	for i := range t {
		lo := float64(math.Float32frombits(lnOff + uint32(i)<<(23-lnBits)))
		hi := float64(math.Float32frombits(lnOff + uint32(i+1)<<(23-lnBits)))
		c := (lo + hi) / 2
		t[i].invc = 1 / c
		t[i].logc = math.Log(c)
	}
	return t
}()

// lnKernel is ln(x)*a + b with a and b folded into its table: y = k ln2 a + (ln c_i a + b)
// + a ln(1 + r). Build it once per channel (lnN entries) and run it on many rows.
type lnKernel struct {
	tab   [lnN]lnEntry
	a, la float64
}

// lnEntry is one lnKernel table entry: 1/c_i and ln(c_i)*a + b (the layout the assembly
// gathers from).
type lnEntry struct{ invc, c0 float64 }

func (kn *lnKernel) init(a, b float64) {
	for i, e := range lnTab {
		kn.tab[i].invc = e.invc
		kn.tab[i].c0 = e.logc*a + b
	}
	kn.a, kn.la = a, math.Ln2*a
}

// row writes ln(src[i])*a + b into dst[i] from i = 0 on and returns the index of the first
// value that is not positive, normal and finite, or len(src); dst from that index on is
// untouched. Float32 subnormals (< 1.2e-38) have no implicit leading bit, so the
// decomposition does not hold for them: the caller takes them with math.Log10.
func (kn *lnKernel) row(dst, src []float32) int {
	dst = dst[:len(src)]
	a, la := kn.a, kn.la
	i0 := 0
	if useAVX512 && len(src) >= 8 {
		i0 = lnRowAVX512(&kn.tab, &dst[0], &src[0], len(src)&^7, a, la)
	} else if useAVX2 && len(src) >= 8 {
		i0 = lnRowAVX2(&kn.tab, &dst[0], &src[0], len(src)&^7, a, la)
	}
	for i := i0; i < len(src); i++ {
		ix := math.Float32bits(src[i])
		// Positive normal finite float32s are the bit patterns 0x00800000 .. 0x7f7fffff.
		if ix-0x00800000 >= 0x7f000000 {
			return i
		}
		tmp := ix - lnOff
		e := &kn.tab[(tmp>>(23-lnBits))%lnN]
		r := float64(math.Float32frombits(ix-tmp&0xff800000))*e.invc - 1
		dst[i] = float32(float64(int32(tmp)>>23)*la + e.c0 + a*(r+r*r*(r*(1.0/3)-0.5)))
	}
	return len(src)
}

// asinhTab covers |x| in [0.5, 2^25) in asinhN subintervals, 2^lnBits per binade, indexed by
// the float32 bits of |x| minus those of 0.5, shifted right by 23 - lnBits. Entry i holds
// asinh and its scaled derivatives at the subinterval's centre x0 (the bits of the
// subinterval's start with bit 22 - lnBits set), for asinh(x0 + h) = A + h (D1 + h (D2 + h D3)).
// |h| <= x0 2^-(lnBits+1), so the dropped quartic term is below (h/x0)^4/4 < 6e-11.
const asinhN = 26 << lnBits

var asinhTab = sync.OnceValue(func() *[asinhN][4]float64 {
	t := new([asinhN][4]float64)
	for i := range t {
		x := float64(asinhCentre(0x3f000000 + uint32(i)<<(23-lnBits)))
		q := 1 + x*x
		s := math.Sqrt(q)
		t[i] = [4]float64{math.Asinh(x), 1 / s, -x / (2 * q * s), (2*x*x - 1) / (6 * q * q * s)}
	}
	return t
})

// asinhCentre is the centre x0 of the asinhTab subinterval holding the float32 bits ix.
func asinhCentre(ix uint32) float32 {
	return math.Float32frombits(ix&^(1<<(23-lnBits)-1) | 1<<(22-lnBits))
}

// asinhRow writes asinh(src[i])*a + b into dst[i] and returns the index of the first value
// with |x| outside [0.5, 2^25) (small, huge or not finite; the caller takes it), or len(src).
func asinhRow(tab *[asinhN][4]float64, dst, src []float32, a, b float64) int {
	dst = dst[:len(src)]
	i0 := 0
	if useAVX512 && len(src) >= 8 {
		i0 = asinhRowAVX512(tab, &dst[0], &src[0], len(src)&^7, a, b)
	} else if useAVX2 && len(src) >= 8 {
		i0 = asinhRowAVX2(tab, &dst[0], &src[0], len(src)&^7, a, b)
	}
	for i := i0; i < len(src); i++ {
		ix := math.Float32bits(src[i])
		ax := ix & 0x7fffffff
		j := ax - 0x3f000000
		if j >= asinhN<<(23-lnBits) {
			return i
		}
		e := &tab[j>>(23-lnBits)]
		// x and x0 lie in the same binade, so x - x0 is exact in float32 (Sterbenz).
		h := float64(math.Float32frombits(ax) - asinhCentre(ax))
		y := e[0] + h*(e[1]+h*(e[2]+h*e[3]))
		// asinh is odd: put the sign of x on y.
		dst[i] = float32(math.Float64frombits(math.Float64bits(y)|uint64(ix>>31)<<63)*a + b)
	}
	return len(src)
}

// linRow writes src[i]*a + b into dst[i] and returns the index of the first non-finite
// value, or len(src).
func linRow(dst, src []float32, a, b float64) int {
	dst = dst[:len(src)]
	i0 := 0
	if useAVX2 && len(src) >= 8 {
		i0 = linRowAVX2(&dst[0], &src[0], len(src)&^7, a, b)
	}
	for i := i0; i < len(src); i++ {
		v := src[i]
		if math.Float32bits(v)&0x7fffffff >= 0x7f800000 {
			return i
		}
		dst[i] = float32(float64(v)*a + b)
	}
	return len(src)
}
