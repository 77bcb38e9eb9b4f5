package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

// grf returns a real n x n Gaussian random field with power spectrum p(|k|) (k in cycles per
// side; the normalisation of Spectrum): white noise of unit variance, filtered by sqrt(p) in
// Fourier space. The filter is even in k, so the inverse transform is real.
func grf(rng *rand.Rand, n int, p func(k float64) float64) []float32 {
	f := fourier.NewCmplxFFT(n)
	a := make([]complex128, n*n)
	for i := range a {
		a[i] = complex(rng.NormFloat64(), 0)
	}
	fft2c := func(inverse bool) {
		col, out := make([]complex128, n), make([]complex128, n)
		for i := range n {
			row := a[i*n : (i+1)*n]
			if inverse {
				f.Sequence(out, row)
			} else {
				f.Coefficients(out, row)
			}
			copy(row, out)
		}
		for j := range n {
			for i := range n {
				col[i] = a[i*n+j]
			}
			if inverse {
				f.Sequence(out, col)
			} else {
				f.Coefficients(out, col)
			}
			for i := range n {
				a[i*n+j] = out[i]
			}
		}
	}
	fft2c(false)
	for i := range n {
		for j := range n {
			a[i*n+j] *= complex(math.Sqrt(p(math.Hypot(freq(i, n), freq(j, n)))), 0)
		}
	}
	fft2c(true)
	x := make([]float32, n*n)
	for i := range x {
		x[i] = float32(real(a[i]) / float64(n*n))
	}
	return x
}

func freq(i, n int) float64 {
	if i > n/2 {
		return float64(i - n)
	}
	return float64(i)
}

// independentModes lists the Fourier modes (ky, kx) of an n x n real field with one of each
// conjugate pair, found on the full plane by pairing each index with its conjugate's:
// independent of PowerSpectrum's half-plane code.
func independentModes(n int) (ky, kx []float64) {
	seen := map[[2]int]bool{}
	for i := range n {
		for j := range n {
			c := [2]int{(n - i) % n, (n - j) % n}
			if seen[c] {
				continue // its conjugate is already listed
			}
			seen[[2]int{i, j}] = true
			ky, kx = append(ky, freq(i, n)), append(kx, freq(j, n))
		}
	}
	return ky, kx
}

// binOf is the bin of |k| (bins i - 1/2 <= |k| < i + 1/2), 0 for none.
func binOf(k float64, n int) int {
	b := int(math.Floor(k + 0.5))
	if b < 1 || b > n/2 {
		return 0
	}
	return b
}

// binMean is the expected binned power: the mean of p over each bin's independent modes.
func binMean(n int, p func(k float64) float64) []float64 {
	sum := make([]float64, n/2)
	cnt := make([]float64, n/2)
	ky, kx := independentModes(n)
	for m := range ky {
		k := math.Hypot(ky[m], kx[m])
		if b := binOf(k, n); b > 0 {
			sum[b-1] += p(k)
			cnt[b-1]++
		}
	}
	for i := range sum {
		sum[i] /= cnt[i]
	}
	return sum
}

// TestSpectrumModesAndTranspose: Modes counts independent modes (bin k=1 of any map has 4:
// (1,0), (0,1), (1,1), (1,-1)), and a map and its transpose have the same spectrum, for even
// and odd sides (cos(3y) and cos(3x) have the same P(3)).
func TestSpectrumModesAndTranspose(t *testing.T) {
	for _, n := range []int{16, 15} {
		s := Shape{C: 1, H: n, W: n}
		rng := rand.New(rand.NewPCG(3, uint64(n)))
		x, xt := make([]float32, n*n), make([]float32, n*n)
		cx, cy := make([]float32, n*n), make([]float32, n*n)
		for i := range n {
			for j := range n {
				v := float32(rng.NormFloat64())
				x[i*n+j], xt[j*n+i] = v, v
				cx[i*n+j] = float32(math.Cos(2 * math.Pi * 3 * float64(j) / float64(n)))
				cy[i*n+j] = float32(math.Cos(2 * math.Pi * 3 * float64(i) / float64(n)))
			}
		}
		sp := must(PowerSpectra([][]float32{x, cx}, [][]float32{xt, cy}, s, 1))[0]
		want := make([]int, n/2)
		ky, kx := independentModes(n)
		for m := range ky {
			if b := binOf(math.Hypot(ky[m], kx[m]), n); b > 0 {
				want[b-1]++
			}
		}
		if sp.Modes[0] != 4 {
			t.Errorf("n=%d: bin k=1 has %d modes, want 4", n, sp.Modes[0])
		}
		for b := range want {
			if sp.Modes[b] != want[b] {
				t.Errorf("n=%d: bin %d: %d modes, want %d", n, b+1, sp.Modes[b], want[b])
			}
		}
		for _, pair := range [][2][]float32{{x, xt}, {cx, cy}} {
			_, p := PowerSpectrum(pair[0], n, n)
			_, pt := PowerSpectrum(pair[1], n, n)
			for b := range p {
				if math.Abs(p[b]-pt[b]) > 1e-9*(1+p[b]) {
					t.Errorf("n=%d bin %d: P %v, P of the transpose %v", n, b+1, p[b], pt[b])
				}
			}
		}
	}
}

// TestPowerSpectrumKnown: Gaussian random fields with power-law spectra come back within 5%
// per bin. Reference: the input spectrum averaged over each bin's modes; 800 realisations
// bring the scatter of the lowest bin (about 4 modes) to about 1.8%, so 5% is a ~3 sigma test.
func TestPowerSpectrumKnown(t *testing.T) {
	const n, reals = 64, 800
	tests := []struct {
		name  string
		slope float64
	}{
		{"k^-2", -2},
		{"k^-3", -3},
		{"k^-1", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := func(k float64) float64 {
				if k == 0 {
					return 0
				}
				return 5 * math.Pow(k, tc.slope)
			}
			rng := rand.New(rand.NewPCG(42, uint64(-tc.slope)))
			s := Shape{C: 1, H: n, W: n}
			var maps [][]float32
			for range reals {
				maps = append(maps, grf(rng, n, p))
			}
			sp := must(PowerSpectra(maps, maps, s, 0))[0]
			want := binMean(n, p)
			for b := range want {
				if rel := sp.PTrue[b]/want[b] - 1; math.Abs(rel) > 0.05 {
					t.Errorf("bin k=%v: P = %.4g, want %.4g (%.1f%%)", sp.K[b], sp.PTrue[b], want[b], 100*rel)
				}
				if math.Abs(sp.Ratio[b]-1) > 1e-12 || math.Abs(sp.R[b]-1) > 1e-12 {
					t.Errorf("bin %d: self-comparison ratio %v r %v, want 1", b, sp.Ratio[b], sp.R[b])
				}
			}
			// One map through PowerSpectrum equals the batch code for a batch of one.
			k1, p1 := PowerSpectrum(maps[0], n, n)
			one := must(PowerSpectra(maps[:1], maps[:1], s, 1))[0]
			for b := range k1 {
				if math.Abs(p1[b]-one.PTrue[b]) > 1e-12*p1[b] || k1[b] != one.K[b] {
					t.Fatalf("bin %d: PowerSpectrum %v, PowerSpectra %v", b, p1[b], one.PTrue[b])
				}
			}
		})
	}
}

// TestSpectrumNoisyReconstruction: adding independent white noise of variance s2 gives
// ratio (P + s2)/P and cross-correlation sqrt(P/(P + s2)) per bin, within 5%.
func TestSpectrumNoisyReconstruction(t *testing.T) {
	const n, reals, s2 = 64, 400, 0.05
	p := func(k float64) float64 {
		if k == 0 {
			return 0
		}
		return 2 * math.Pow(k, -2)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var truth, rec [][]float32
	for range reals {
		x := grf(rng, n, p)
		y := make([]float32, len(x))
		for i := range x {
			y[i] = x[i] + float32(math.Sqrt(s2)*rng.NormFloat64())
		}
		truth, rec = append(truth, x), append(rec, y)
	}
	sp := must(PowerSpectra(truth, rec, Shape{C: 1, H: n, W: n}, 2))[0]
	want := binMean(n, p)
	for b, pk := range want {
		wantRatio := (pk + s2) / pk
		wantR := math.Sqrt(pk / (pk + s2))
		if math.Abs(sp.Ratio[b]/wantRatio-1) > 0.05 {
			t.Errorf("bin %d: ratio %.4g, want %.4g", b+1, sp.Ratio[b], wantRatio)
		}
		if math.Abs(sp.R[b]/wantR-1) > 0.05 {
			t.Errorf("bin %d: r %.4g, want %.4g", b+1, sp.R[b], wantR)
		}
	}
}
