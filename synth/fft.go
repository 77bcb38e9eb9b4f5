package synth

import (
	"math"
	"math/bits"
	"math/cmplx"
)

// fft2 is an in-place 2-D complex FFT of an n x n grid (n a power of two): radix-2 rows,
// a transpose, rows again, a transpose back. It is not safe for concurrent use (one per
// worker); the tables are shared read-only.
type fft2 struct {
	n   int
	rev []int
	tw  []complex128 // exp(-2 pi i k / n), k < n/2
	itw []complex128 // conjugates, for the inverse
}

func newFFT2(n int) *fft2 {
	if n < 2 || n&(n-1) != 0 {
		panic("synth: FFT size must be a power of two >= 2")
	}
	f := &fft2{n: n, rev: make([]int, n), tw: make([]complex128, n/2), itw: make([]complex128, n/2)}
	shift := bits.UintSize - bits.TrailingZeros(uint(n))
	for i := range f.rev {
		f.rev[i] = int(bits.Reverse(uint(i)) >> shift)
	}
	for k := range f.tw {
		f.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
		f.itw[k] = cmplx.Conj(f.tw[k])
	}
	return f
}

// row transforms one row in place; inverse uses conjugate twiddles (no 1/n scaling).
func (f *fft2) row(a []complex128, inverse bool) {
	n := f.n
	for i, j := range f.rev {
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	tw := f.tw
	if inverse {
		tw = f.itw
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size>>1, n/size
		for start := 0; start < n; start += size {
			lo, hi := a[start:start+half], a[start+half:start+size]
			for k := range lo {
				u, v := lo[k], hi[k]*tw[k*step]
				lo[k], hi[k] = u+v, u-v
			}
		}
	}
}

func (f *fft2) transpose(a []complex128) {
	n := f.n
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
		}
	}
}

// forward computes the unnormalised DFT of a in place.
func (f *fft2) forward(a []complex128) { f.do(a, false) }

// inverse computes the inverse DFT of a in place, scaled by 1/n^2.
func (f *fft2) inverse(a []complex128) {
	f.do(a, true)
	s := complex(1/float64(f.n*f.n), 0)
	for i := range a {
		a[i] *= s
	}
}

func (f *fft2) do(a []complex128, inverse bool) {
	n := f.n
	for i := 0; i < n; i++ {
		f.row(a[i*n:(i+1)*n], inverse)
	}
	f.transpose(a)
	for i := 0; i < n; i++ {
		f.row(a[i*n:(i+1)*n], inverse)
	}
	f.transpose(a)
}

// waveNumber returns the signed integer frequency of index i on an n-point grid.
func waveNumber(i, n int) int {
	if i <= n/2 {
		return i
	}
	return i - n
}
