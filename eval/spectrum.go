package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Spectrum is the radially binned power spectrum comparison of one channel, averaged over a
// batch of maps (the mean of the per-map binned powers).
//
// K is the bin centre in cycles per map side: bin i holds the Fourier modes with
// i - 1/2 <= |k| < i + 1/2, for i = 1 .. min(H, W)/2 (k = 0, the mean, is left out). Multiply
// K by 2 pi / L for a wavenumber in h/Mpc with L the box side in Mpc/h (25 for CAMELS).
// Power is |F(k)|^2 / (H W), so white noise of variance s^2 has P = s^2.
type Spectrum struct {
	K     []float64 `json:"k"`
	Modes []int     `json:"modes"` // independent Fourier modes per bin (one of each conjugate pair)
	PTrue []float64 `json:"p_true"`
	PRec  []float64 `json:"p_rec"`
	// PCross is Re(F_true conj(F_rec)) averaged like the powers.
	PCross []float64 `json:"p_cross"`
	// Ratio is PRec/PTrue; R is the cross-correlation PCross / sqrt(PTrue PRec).
	Ratio []float64 `json:"ratio"`
	R     []float64 `json:"r"`
}

// spectrumWorker holds one goroutine's FFT plans and buffers for H x W maps.
type spectrumWorker struct {
	h, w     int
	rowFFT   *fourier.FFT
	colFFT   *fourier.CmplxFFT
	row      []float64
	half     []complex128 // H x (W/2+1), row-major
	col, out []complex128
	bin      []int // bin of each half-plane mode, -1 if none
	nbin     int
}

func newSpectrumWorker(h, w int) *spectrumWorker {
	hw := w/2 + 1
	s := &spectrumWorker{h: h, w: w, rowFFT: fourier.NewFFT(w), colFFT: fourier.NewCmplxFFT(h),
		row: make([]float64, w), half: make([]complex128, h*hw), col: make([]complex128, h),
		out: make([]complex128, h), bin: make([]int, h*hw), nbin: min(h, w) / 2}
	for i := range h {
		ky := float64(i)
		if i > h/2 {
			ky -= float64(h)
		}
		for j := range hw {
			// Columns kx = 0 and, for even W, kx = W/2 hold each mode and its conjugate
			// (ky and -ky); only ky >= 0 is an independent mode there.
			if (j == 0 || 2*j == w) && i > h/2 {
				s.bin[i*hw+j] = -1
				continue
			}
			k := math.Hypot(ky, float64(j))
			b := int(math.Floor(k + 0.5))
			if b < 1 || b > s.nbin {
				b = -1
			}
			s.bin[i*hw+j] = b
		}
	}
	return s
}

// fft2 returns the half-plane 2D DFT of the H x W field x, in a buffer owned by s.
func (s *spectrumWorker) fft2(x []float32, dst []complex128) {
	hw := s.w/2 + 1
	for i := range s.h {
		for j := range s.w {
			s.row[j] = float64(x[i*s.w+j])
		}
		s.rowFFT.Coefficients(dst[i*hw:(i+1)*hw], s.row)
	}
	for j := range hw {
		for i := range s.h {
			s.col[i] = dst[i*hw+j]
		}
		s.colFFT.Coefficients(s.out, s.col)
		for i := range s.h {
			dst[i*hw+j] = s.out[i]
		}
	}
}

// PowerSpectrum returns the radially binned power of one H x W field (see Spectrum for the
// bins and normalisation): bin centres k = 1 .. min(H, W)/2 and the mean power per bin.
func PowerSpectrum(x []float32, h, w int) (k, p []float64) {
	if len(x) != h*w {
		panic(fmt.Sprintf("eval: PowerSpectrum: %d values for %dx%d", len(x), h, w))
	}
	s := newSpectrumWorker(h, w)
	f := make([]complex128, len(s.half))
	s.fft2(x, f)
	p = make([]float64, s.nbin)
	cnt := make([]int, s.nbin)
	norm := 1 / float64(h*w)
	for m, b := range s.bin {
		if b > 0 {
			c := f[m]
			p[b-1] += (real(c)*real(c) + imag(c)*imag(c)) * norm
			cnt[b-1]++
		}
	}
	k = make([]float64, s.nbin)
	for i := range p {
		k[i] = float64(i + 1)
		if cnt[i] > 0 {
			p[i] /= float64(cnt[i])
		}
	}
	return k, p
}

// PowerSpectra compares truth and rec channel by channel (one Spectrum per channel),
// averaging the binned spectra over the maps; maps are spread over workers goroutines
// (0 means GOMAXPROCS) and the result does not depend on that number. Maps need at least
// 2x2 pixels (one bin).
func PowerSpectra(truth, rec [][]float32, s Shape, workers int) ([]Spectrum, error) {
	if err := s.checkBatch(truth, rec, 2); err != nil {
		return nil, err
	}
	nb := min(s.H, s.W) / 2
	// Per-map sums go into slots by index, then are added in order: deterministic.
	type acc struct{ pt, pr, px []float64 }
	per := make([]acc, len(truth))
	var modes []int
	parallelFor(len(truth), workers, func() func(int) {
		wk := newSpectrumWorker(s.H, s.W)
		ft := make([]complex128, len(wk.half))
		fr := make([]complex128, len(wk.half))
		hw := s.H * s.W
		norm := 1 / float64(hw)
		return func(i int) {
			a := acc{make([]float64, s.C*nb), make([]float64, s.C*nb), make([]float64, s.C*nb)}
			for c := range s.C {
				wk.fft2(truth[i][c*hw:(c+1)*hw], ft)
				wk.fft2(rec[i][c*hw:(c+1)*hw], fr)
				for m, b := range wk.bin {
					if b > 0 {
						x, y := ft[m], fr[m]
						o := c*nb + b - 1
						a.pt[o] += (real(x)*real(x) + imag(x)*imag(x)) * norm
						a.pr[o] += (real(y)*real(y) + imag(y)*imag(y)) * norm
						a.px[o] += (real(x)*real(y) + imag(x)*imag(y)) * norm
					}
				}
			}
			per[i] = a
		}
	})
	modes = make([]int, nb)
	for _, b := range newSpectrumWorker(s.H, s.W).bin {
		if b > 0 {
			modes[b-1]++
		}
	}
	out := make([]Spectrum, s.C)
	for c := range s.C {
		sp := Spectrum{K: make([]float64, nb), Modes: modes, PTrue: make([]float64, nb), PRec: make([]float64, nb),
			PCross: make([]float64, nb), Ratio: make([]float64, nb), R: make([]float64, nb)}
		for b := range nb {
			sp.K[b] = float64(b + 1)
			for _, a := range per {
				sp.PTrue[b] += a.pt[c*nb+b]
				sp.PRec[b] += a.pr[c*nb+b]
				sp.PCross[b] += a.px[c*nb+b]
			}
			div := float64(len(per) * max(modes[b], 1))
			sp.PTrue[b] /= div
			sp.PRec[b] /= div
			sp.PCross[b] /= div
			sp.Ratio[b] = sp.PRec[b] / sp.PTrue[b]
			sp.R[b] = sp.PCross[b] / math.Sqrt(sp.PTrue[b]*sp.PRec[b])
		}
		out[c] = sp
	}
	return out, nil
}
