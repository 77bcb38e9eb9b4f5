package eval

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Shape is the shape of one map: C channels of H x W pixels, stored [C][H][W].
type Shape struct{ C, H, W int }

// Len is the number of float32 values of one map.
func (s Shape) Len() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// errSSIMSize is the one error every SSIM entry point gives for maps smaller than its window.
func errSSIMSize(h, w int) error {
	return fmt.Errorf("eval: SSIM needs maps of at least %dx%d pixels (its Gaussian window), got %dx%d", ssimWin, ssimWin, h, w)
}

// checkBatch is what every batch entry point checks first: as many reconstructions as truth
// maps, at least one, each of shape s, and at least minSide pixels per side.
func (s Shape) checkBatch(truth, rec [][]float32, minSide int) error {
	if s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("eval: map shape %s, want positive channels, height and width", s)
	}
	if minSide == ssimWin && (s.H < ssimWin || s.W < ssimWin) {
		return errSSIMSize(s.H, s.W)
	}
	if s.H < minSide || s.W < minSide {
		return fmt.Errorf("eval: maps of %dx%d pixels, want at least %dx%d", s.H, s.W, minSide, minSide)
	}
	if len(truth) != len(rec) || len(truth) == 0 {
		return fmt.Errorf("eval: %d truth maps and %d reconstructions, want the same number and at least one", len(truth), len(rec))
	}
	for i := range truth {
		for _, m := range []struct {
			what string
			x    []float32
		}{{"truth", truth[i]}, {"reconstruction", rec[i]}} {
			if len(m.x) != s.Len() {
				return fmt.Errorf("eval: %s map %d has %d values, shape %s needs %d", m.what, i, len(m.x), s, s.Len())
			}
		}
	}
	return nil
}

// MSE is the mean squared difference of truth and rec, accumulated in float64.
func MSE(truth, rec []float32) float64 {
	if len(truth) != len(rec) {
		panic("eval: MSE: length mismatch")
	}
	if len(truth) == 0 {
		return math.NaN()
	}
	var s float64
	for i, t := range truth {
		d := float64(t) - float64(rec[i])
		s += d * d
	}
	return s / float64(len(truth))
}

// PSNR is 10 log10(dataRange^2 / mse) in dB: +Inf for a perfect reconstruction.
func PSNR(mse, dataRange float64) float64 {
	return 10 * math.Log10(dataRange*dataRange/mse)
}

// Range is max(x) - min(x), the "target's own range" for PSNRTarget.
func Range(x []float32) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	return float64(hi) - float64(lo)
}

// Gaussian window of the SSIM: sigma 1.5 truncated at 3.5 sigma gives radius
// int(3.5*1.5 + 0.5) = 5, 11 taps, normalised to sum 1 (scipy.ndimage.gaussian_filter1d).
const (
	ssimSigma  = 1.5
	ssimRadius = 5
	ssimWin    = 2*ssimRadius + 1
	ssimK1     = 0.01
	ssimK2     = 0.03
)

var ssimWeights = func() [ssimWin]float64 {
	var w [ssimWin]float64
	var sum float64
	for i := range w {
		x := float64(i - ssimRadius)
		w[i] = math.Exp(-0.5 * x * x / (ssimSigma * ssimSigma))
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}()

// ssimMoments is how many filtered fields the SSIM needs. Instead of skimage's five (x, y, xx,
// yy, xy) it filters four: s = x+y, d = x-y, s*s and d*d, from which
//
//	ux*uy = (us^2 - ud^2)/4, ux^2 + uy^2 = (us^2 + ud^2)/2,
//	vx + vy = (F[s^2] + F[d^2])/2 - (us^2 + ud^2)/2, vxy = (F[s^2] - F[d^2])/4 - (us^2 - ud^2)/4,
//
// the same numbers up to rounding (about 1e-15) with a fifth less filtering.
const ssimMoments = 4

// ssimScratch holds one worker's buffers: a ring of the last 11 horizontally filtered rows of
// each moment, so the vertical pass reads from cache.
type ssimScratch struct {
	w    int
	ring [ssimMoments][ssimWin][]float64
	row  [ssimMoments][]float64 // one input row of each moment, float64
	out  [ssimMoments][]float64 // vertically filtered row
}

func newSSIMScratch(w int) *ssimScratch {
	s := &ssimScratch{w: w}
	wv := w - 2*ssimRadius
	for q := range ssimMoments {
		for k := range ssimWin {
			s.ring[q][k] = make([]float64, wv)
		}
		s.row[q] = make([]float64, w)
		s.out[q] = make([]float64, wv)
	}
	return s
}

// SSIM is the mean structural similarity of one H x W channel (see the package doc), with
// constants C1 = (0.01 R)^2 and C2 = (0.03 R)^2 for data range R. Maps smaller than the
// 11x11 window are an error.
func SSIM(truth, rec []float32, h, w int, dataRange float64) (float64, error) {
	if err := (Shape{C: 1, H: h, W: w}).checkBatch([][]float32{truth}, [][]float32{rec}, ssimWin); err != nil {
		return 0, err
	}
	return newSSIMScratch(w).ssim(truth, rec, h, dataRange), nil
}

func (s *ssimScratch) ssim(x, y []float32, h int, dataRange float64) float64 {
	w := s.w
	wv := w - 2*ssimRadius
	hv := h - 2*ssimRadius
	wt := &ssimWeights
	c1 := (ssimK1 * dataRange) * (ssimK1 * dataRange)
	c2 := (ssimK2 * dataRange) * (ssimK2 * dataRange)
	// hrow filters input row r horizontally into ring slot r % 11.
	hrow := func(r int) {
		xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
		ms, md, mss, mdd := s.row[0][:w], s.row[1][:w], s.row[2][:w], s.row[3][:w]
		yr = yr[:len(xr)]
		for j := range xr {
			a, b := float64(xr[j]), float64(yr[j])
			p, m := a+b, a-b
			ms[j], md[j], mss[j], mdd[j] = p, m, p*p, m*m
		}
		slot := r % ssimWin
		for q := range ssimMoments {
			hfilter(s.ring[q][slot], s.row[q], wt)
		}
	}
	for r := range ssimWin - 1 {
		hrow(r)
	}
	var total float64
	for i := range hv {
		hrow(i + ssimWin - 1)
		for q := range ssimMoments {
			ring := &s.ring[q]
			var rows [ssimWin][]float64
			for k := range ssimWin {
				rows[k] = ring[(i+k)%ssimWin]
			}
			vfilter(s.out[q], &rows, wt)
		}
		us, ud, uss, udd := s.out[0][:wv], s.out[1][:wv], s.out[2][:wv], s.out[3][:wv]
		var rowSum float64
		for j := range us {
			s2, d2 := us[j]*us[j], ud[j]*ud[j]
			a1 := 0.5*(s2-d2) + c1               // 2 ux uy + C1
			b1 := 0.5*(s2+d2) + c1               // ux^2 + uy^2 + C1
			a2 := 0.5*(uss[j]-udd[j]-s2+d2) + c2 // 2 vxy + C2
			b2 := 0.5*(uss[j]+udd[j]-s2-d2) + c2 // vx + vy + C2
			rowSum += (a1 * a2) / (b1 * b2)
		}
		total += rowSum
	}
	return total / float64(hv*wv)
}

// hfilter sets dst[j] = sum_k w[k] src[j+k] for the 11 symmetric taps, keeping the sum in
// registers (one store per output).
func hfilter(dst, src []float64, w *[ssimWin]float64) {
	w0, w1, w2, w3, w4, w5 := w[0], w[1], w[2], w[3], w[4], w[5]
	src = src[:len(dst)+ssimWin-1]
	for j := range dst {
		p := (*[ssimWin]float64)(src[j : j+ssimWin])
		dst[j] = w5*p[5] + w0*(p[0]+p[10]) + w1*(p[1]+p[9]) + w2*(p[2]+p[8]) + w3*(p[3]+p[7]) + w4*(p[4]+p[6])
	}
}

// vfilter sets dst[j] = sum_k w[k] rows[k][j]: the vertical pass over 11 buffered rows.
func vfilter(dst []float64, rows *[ssimWin][]float64, w *[ssimWin]float64) {
	w0, w1, w2, w3, w4, w5 := w[0], w[1], w[2], w[3], w[4], w[5]
	n := len(dst)
	r0, r1, r2, r3, r4, r5 := rows[0][:n], rows[1][:n], rows[2][:n], rows[3][:n], rows[4][:n], rows[5][:n]
	r6, r7, r8, r9, r10 := rows[6][:n], rows[7][:n], rows[8][:n], rows[9][:n], rows[10][:n]
	for j := range dst {
		dst[j] = w5*r5[j] + w0*(r0[j]+r10[j]) + w1*(r1[j]+r9[j]) + w2*(r2[j]+r8[j]) + w3*(r3[j]+r7[j]) + w4*(r4[j]+r6[j])
	}
}

// Metrics holds the reconstruction metrics of a batch. Per-channel slices are [n][C]; the
// per-map values treat the whole map as one array, as scikit-image does for a
// (C, H, W) input with channel_axis=0: MSE over all pixels, PSNR = 10 log10(1/MSE),
// PSNRTarget with the whole target's range, SSIM the mean of the channel SSIMs.
type Metrics struct {
	Shape Shape

	ChannelMSE, ChannelPSNR, ChannelPSNRTarget, ChannelSSIM [][]float64

	MSE, PSNR, PSNRTarget, SSIM []float64
}

// Evaluate computes Metrics for the maps rec against truth (same count, each of shape s),
// spreading maps over workers goroutines (0 means GOMAXPROCS). The result does not depend
// on workers. Maps that do not fit s, or are smaller than the SSIM's window, are an error.
func Evaluate(truth, rec [][]float32, s Shape, workers int) (Metrics, error) {
	if err := s.checkBatch(truth, rec, ssimWin); err != nil {
		return Metrics{}, err
	}
	n := len(truth)
	m := Metrics{Shape: s}
	for _, p := range []*[][]float64{&m.ChannelMSE, &m.ChannelPSNR, &m.ChannelPSNRTarget, &m.ChannelSSIM} {
		*p = make([][]float64, n)
		flat := make([]float64, n*s.C)
		for i := range *p {
			(*p)[i] = flat[i*s.C : (i+1)*s.C : (i+1)*s.C]
		}
	}
	m.MSE, m.PSNR, m.PSNRTarget, m.SSIM = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	parallelFor(n, workers, func() func(i int) {
		sc := newSSIMScratch(s.W)
		hw := s.H * s.W
		return func(i int) {
			t, r := truth[i], rec[i]
			var mseSum, ssimSum float64
			for c := range s.C {
				tc, rc := t[c*hw:(c+1)*hw], r[c*hw:(c+1)*hw]
				mse := MSE(tc, rc)
				m.ChannelMSE[i][c] = mse
				m.ChannelPSNR[i][c] = PSNR(mse, 1)
				m.ChannelPSNRTarget[i][c] = PSNR(mse, Range(tc))
				ss := sc.ssim(tc, rc, s.H, 1)
				m.ChannelSSIM[i][c] = ss
				mseSum += mse
				ssimSum += ss
			}
			m.MSE[i] = mseSum / float64(s.C)
			m.PSNR[i] = PSNR(m.MSE[i], 1)
			m.PSNRTarget[i] = PSNR(m.MSE[i], Range(t))
			m.SSIM[i] = ssimSum / float64(s.C)
		}
	})
	return m, nil
}

// SSIMBatch is the per-map SSIM (mean over channels, data range 1) of a batch, in parallel.
// It fails as Evaluate does.
func SSIMBatch(truth, rec [][]float32, s Shape, workers int) ([]float64, error) {
	if err := s.checkBatch(truth, rec, ssimWin); err != nil {
		return nil, err
	}
	out := make([]float64, len(truth))
	parallelFor(len(truth), workers, func() func(i int) {
		sc := newSSIMScratch(s.W)
		hw := s.H * s.W
		return func(i int) {
			var sum float64
			for c := range s.C {
				sum += sc.ssim(truth[i][c*hw:(c+1)*hw], rec[i][c*hw:(c+1)*hw], s.H, 1)
			}
			out[i] = sum / float64(s.C)
		}
	})
	return out, nil
}

// parallelFor runs body(i) for i in [0, n) on workers goroutines; newWorker is called once per
// goroutine so each has its own scratch. Items are handed out one at a time through a shared
// counter, so uneven work balances.
func parallelFor(n, workers int, newWorker func() func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		if n > 0 {
			f := newWorker()
			for i := range n {
				f(i)
			}
		}
		return
	}
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var panicked any
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panicked = p
					mu.Unlock()
				}
			}()
			f := newWorker()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= int64(n) {
					return
				}
				f(int(i))
			}
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
