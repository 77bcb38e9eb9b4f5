package synth

import "gonum.org/v1/gonum/dsp/fourier"

// fft2 is a 2-D complex FFT of an n x n grid, in place: gonum's 1-D FFT over the rows, a
// transpose, the rows again and a transpose back. It is not safe for concurrent use (one
// per worker).
type fft2 struct {
	n   int
	c   *fourier.CmplxFFT
	row []complex128
}

func newFFT2(n int) *fft2 {
	if n < 2 || n&(n-1) != 0 {
		panic("synth: FFT size must be a power of two >= 2")
	}
	return &fft2{n: n, c: fourier.NewCmplxFFT(n), row: make([]complex128, n)}
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
	for range 2 {
		for i := 0; i < n; i++ {
			r := a[i*n : (i+1)*n]
			if inverse {
				f.c.Sequence(f.row, r) // unnormalised, as Coefficients
			} else {
				f.c.Coefficients(f.row, r)
			}
			copy(r, f.row)
		}
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
			}
		}
	}
}

// waveNumber returns the signed integer frequency of index i on an n-point grid.
func waveNumber(i, n int) int {
	if i <= n/2 {
		return i
	}
	return i - n
}
