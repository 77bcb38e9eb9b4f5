package eval

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// TTest is the result of a paired t-test.
type TTest struct {
	Statistic Num `json:"statistic"`
	DoF       int `json:"dof"`
	P         Num `json:"p"` // two-sided
	MeanDiff  Num `json:"mean_diff"`
	N         int `json:"n"`
}

// PairedTTest tests whether the mean of a[i]-b[i] is zero, as scipy.stats.ttest_rel(a, b):
// t = mean(d) / (sd(d, ddof=1)/sqrt(n)), n-1 degrees of freedom, two-sided p from gonum's
// Student's t. Pairs where either value is NaN or infinite are dropped (a perfect
// reconstruction has PSNR +Inf). With fewer than two pairs, or zero spread, the statistic and
// p are NaN (or ±Inf and 0 when the mean difference is non-zero with zero spread).
func PairedTTest(a, b []float64) TTest {
	if len(a) != len(b) {
		panic(fmt.Sprintf("eval: PairedTTest: %d and %d values", len(a), len(b)))
	}
	d := make([]float64, 0, len(a))
	for i := range a {
		x := a[i] - b[i]
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			d = append(d, x)
		}
	}
	n := len(d)
	r := TTest{N: n, DoF: n - 1}
	if n < 2 {
		r.Statistic, r.P, r.MeanDiff = Num(math.NaN()), Num(math.NaN()), Num(math.NaN())
		if n == 1 {
			r.MeanDiff = Num(d[0])
		}
		return r
	}
	var mean float64
	for _, x := range d {
		mean += x
	}
	mean /= float64(n)
	var ss float64
	for _, x := range d {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	stat := mean / (sd / math.Sqrt(float64(n)))
	r.MeanDiff, r.Statistic = Num(mean), Num(stat)
	switch {
	case math.IsNaN(stat):
		r.P = Num(math.NaN())
	case math.IsInf(stat, 0):
		r.P = 0
	default:
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
		r.P = Num(math.Min(1, 2*t.Survival(math.Abs(stat))))
	}
	return r
}

// KSTest is the result of a two-sample Kolmogorov-Smirnov test.
type KSTest struct {
	D  float64
	P  float64
	N1 int
	N2 int
}

// KS2 is the two-sample Kolmogorov-Smirnov statistic D = sup |F1 - F2| of x and y (equal to
// scipy.stats.ks_2samp's) and its two-sided p-value from the asymptotic Kolmogorov
// distribution, P(K > D sqrt(n1 n2/(n1+n2))) (scipy.stats.kstwobign.sf; ks_2samp's "asymp"
// mode rounds to the finite-n distribution, which differs only for small samples). x and y
// are sorted copies; the inputs are not changed.
func KS2(x, y []float64) KSTest {
	if len(x) == 0 || len(y) == 0 {
		panic("eval: KS2 needs two non-empty samples")
	}
	a, b := slices.Clone(x), slices.Clone(y)
	slices.Sort(a)
	slices.Sort(b)
	return ks2Sorted(a, b)
}

// KS2Float32 is KS2 on float32 samples (pixel values) without widening them to float64.
func KS2Float32(x, y []float32) KSTest {
	if len(x) == 0 || len(y) == 0 {
		panic("eval: KS2 needs two non-empty samples")
	}
	a, b := slices.Clone(x), slices.Clone(y)
	slices.Sort(a)
	slices.Sort(b)
	return ks2Sorted(a, b)
}

func ks2Sorted[T float32 | float64](a, b []T) KSTest {
	n1, n2 := len(a), len(b)
	var i, j int
	var d float64
	for i < n1 && j < n2 {
		// Step past every copy of the smaller value in both samples, then compare the CDFs.
		v := min(a[i], b[j])
		for i < n1 && a[i] == v {
			i++
		}
		for j < n2 && b[j] == v {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(n1)-float64(j)/float64(n2)))
	}
	en := float64(n1) * float64(n2) / float64(n1+n2)
	return KSTest{D: d, P: kolmogorovSF(d * math.Sqrt(en)), N1: n1, N2: n2}
}

// kolmogorovSF is P(K > x) for the Kolmogorov distribution:
// 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2), and for small x the Jacobi-theta form
// 1 - sqrt(2 pi)/x sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2)), which converges fast there.
func kolmogorovSF(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x <= 0:
		return 1
	case x < 1:
		var s float64
		for k := 1; k <= 20; k++ {
			t := float64(2*k - 1)
			s += math.Exp(-t * t * math.Pi * math.Pi / (8 * x * x))
		}
		return 1 - math.Sqrt(2*math.Pi)/x*s
	default:
		var s float64
		sign := 1.0
		for k := 1; k <= 100; k++ {
			term := math.Exp(-2 * float64(k*k) * x * x)
			s += sign * term
			if term < 1e-300 {
				break
			}
			sign = -sign
		}
		return math.Max(0, 2*s)
	}
}

// PixelKS compares the pixel-value distributions of two batches channel by channel: for
// each channel, the KS distance D (as KS2) of every stride-th pixel of every map of truth
// against the same pixels of rec (stride 1 uses all pixels; a larger stride keeps big
// batches cheap). It gives no p-value: pixels are correlated, not independent samples.
func PixelKS(truth, rec [][]float32, s Shape, stride int) ([]float64, error) {
	if stride < 1 {
		panic("eval: PixelKS stride < 1")
	}
	if err := s.checkBatch(truth, rec, 1); err != nil {
		return nil, err
	}
	hw := s.H * s.W
	out := make([]float64, s.C)
	for c := range s.C {
		var x, y []float32
		for i, m := range truth {
			for p := 0; p < hw; p += stride {
				x = append(x, m[c*hw+p])
				y = append(y, rec[i][c*hw+p])
			}
		}
		slices.Sort(x)
		slices.Sort(y)
		out[c] = ks2Sorted(x, y).D
	}
	return out, nil
}

// MeanStd returns the mean and sample standard deviation (ddof 1) of the finite values of x,
// and how many there were.
func MeanStd(x []float64) (mean, std float64, n int) {
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			mean += v
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN(), n
	}
	var ss float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ss += (v - mean) * (v - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n-1)), n
}
