// Package pca is the linear baseline of the study: principal component analysis of flattened
// maps (N rows of D features, N a few hundred to a few thousand, D up to 3*256*256) with the
// same latent size as the VAE.
//
// # Method
//
// Both solvers work through the N x N Gram matrix G = Xc Xc^T of the centred data, never a
// D x D covariance: beyond the caller's float32 data (N D) it holds the K x D float32
// components and O(N^2 + N kc) scratch. G is accumulated over blocks of kc columns, each
// block centred first, and only the row blocks on and above the diagonal are multiplied.
// The "exact" solver eigen-decomposes G (mat.EigenSym): an eigenpair (lambda, u) gives the
// component v = Xc^T u / sqrt(lambda). "randomized" is scikit-learn's randomized_svd (Halko,
// Martinsson and Tropp 2011) with the same sketch: a seeded Gaussian of Components+Oversample
// columns, PowerIters power iterations re-orthonormalised by QR, then the SVD of the data
// projected on the range found, the range being Xc^T G^q Omega (see randomizedSVD), so its
// accuracy, and the explained variance it finds, match scikit-learn's for the same settings.
// The explained variance is lambda/(N-1), as scikit-learn reports it. Signs follow
// scikit-learn's svd_flip: the largest-magnitude entry of each left singular vector u is
// positive.
//
// # Engines
//
// The products that touch the data or the components (the Gram matrix, the components,
// Transform and InverseTransform) run on an engine. EngineGonum is float64 throughout (gonum's
// pure-Go Dgemm). EngineONNX runs them in float32 on ONNX Runtime's CPU provider (MLAS SGEMM,
// all cores; 20 to 30 times faster here), over tensors that share the Go slices, and sums the
// column blocks in float64; the small N x N work (power iterations, eigen-decompositions)
// stays in gonum, the last product that yields the singular values in float64. EngineAuto,
// the default, takes ONNX Runtime for products of 2^30 multiply-adds and more when the
// runtime has been initialised (onnx.Setup), gonum otherwise.
//
// # Invariants
//
// Components has K rows of D values, orthonormal up to float32 rounding; ExplainedVariance is
// non-increasing; ExplainedVarianceRatio sums to at most 1 (to 1 when K = rank).
package pca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/camelsvae/camelsvae/configs"
)

// Options choose the number of components and the solver.
type Options struct {
	// Components is k, the number of components kept (the latent size).
	Components int
	// Solver is "exact" or "randomized".
	Solver string
	// Oversample and PowerIters tune the randomized solver (scikit-learn's defaults: 10, and
	// 4, or 7 when k < min(N, D)/10).
	Oversample, PowerIters int
	// Seed drives the randomized sketch.
	Seed uint64
	// Engine runs the products over the data: EngineAuto (or ""), EngineGonum or EngineONNX.
	Engine string
}

// OptionsFrom maps the run configuration's pca section and seed to Options.
func OptionsFrom(c configs.PCA, seed int64) Options {
	return Options{Components: c.Components, Solver: c.Solver, Oversample: c.Oversample,
		PowerIters: c.PowerIters, Seed: uint64(seed), Engine: c.Engine}
}

// Model is a fitted PCA.
type Model struct {
	K, D int
	// Mean is the per-feature mean of the training rows (D values).
	Mean []float32
	// Components holds K unit rows of D values, row-major, by decreasing variance.
	Components []float32
	// ExplainedVariance[i] is the variance of the data along component i (divisor N-1);
	// ExplainedVarianceRatio divides it by TotalVariance; CumulativeRatio is its running sum.
	ExplainedVariance, ExplainedVarianceRatio, CumulativeRatio []float64
	// SingularValues of the centred data (sqrt of the Gram eigenvalues).
	SingularValues []float64
	// TotalVariance is the sum of the per-feature variances (divisor N-1).
	TotalVariance float64
	NSamples      int
	Solver        string
	// Engine runs Transform and InverseTransform (see Options.Engine); Fit sets it, Load
	// leaves it "" (auto). It is not saved.
	Engine string
	// Warnings are what Transform and InverseTransform met and worked around (an ONNX
	// Runtime failure, redone with gonum), for the caller to report. Not saved.
	Warnings []string
}

// blockCols is the number of feature columns handled per block: N x blockCols float64 of
// scratch (16 MiB at N = 1024).
const blockCols = 2048

// Fit computes the PCA of rows (N rows of D float32 each; not modified). It panics on a
// caller's mistake (ragged rows, k outside [1, min(N, D)], N < 2, an unknown solver or
// engine) and returns an error when the eigen-decomposition fails, or when EngineONNX is
// asked for without an initialised runtime or ONNX Runtime fails. It is long because it follows
// scikit-learn's PCA step by step (centring, Gram matrix, solver, signs, variances), which its
// tests compare against.
func Fit(rows [][]float32, opt Options) (*Model, error) {
	n := len(rows)
	if n < 2 {
		panic(fmt.Sprintf("pca: need at least 2 rows, got %d", n))
	}
	d := len(rows[0])
	for i, r := range rows {
		if len(r) != d {
			panic(fmt.Sprintf("pca: row %d has %d values, row 0 has %d", i, len(r), d))
		}
	}
	k := opt.Components
	if k < 1 || k > min(n, d) {
		panic(fmt.Sprintf("pca: %d components for %d rows of %d features", k, n, d))
	}
	if opt.Solver != "exact" && opt.Solver != "randomized" {
		panic(fmt.Sprintf("pca: unknown solver %q (exact or randomized)", opt.Solver))
	}
	if opt.Oversample < 0 || opt.PowerIters < 0 {
		panic("pca: negative oversample or power iterations")
	}
	e, err := newEngine(opt.Engine, float64(n)*float64(n)*float64(d)/2)
	if err != nil {
		return nil, err
	}
	defer e.close()
	m := &Model{K: k, D: d, NSamples: n, Solver: opt.Solver, Engine: opt.Engine}
	m.Mean = columnMean(rows, d)
	g, err := e.gram(rows, m.Mean)
	if err != nil {
		return nil, err
	}
	var trace float64
	for i := range n {
		trace += g[i*n+i]
	}
	m.TotalVariance = trace / float64(n-1)

	var vals []float64
	var u, w *mat.Dense // n x k: left singular vectors, and weights with V = W^T Xc
	if opt.Solver == "exact" {
		if vals, u, err = eigTop(mat.NewSymDense(n, g), k); err == nil {
			w = mat.DenseCopyOf(u)
			for i := range k {
				s := 0.0
				if vals[i] > 0 {
					s = 1 / math.Sqrt(vals[i])
				}
				for r := range n {
					w.Set(r, i, w.At(r, i)*s)
				}
			}
		}
	} else {
		// The engine's (maybe float32) product drives the power iterations; the last one,
		// whose result gives the singular values, is float64.
		vals, u, w, err = randomizedSVD(e.gramMul(g, n), gonumEngine{}.gramMul(g, n), n, k, opt)
	}
	if err != nil {
		return nil, err
	}
	flipSigns(u, w)

	m.ExplainedVariance = make([]float64, k)
	m.ExplainedVarianceRatio = make([]float64, k)
	m.CumulativeRatio = make([]float64, k)
	m.SingularValues = make([]float64, k)
	// A zero eigenvalue (k above the rank) gives a zero component with zero variance.
	tol := 1e-12 * math.Max(vals[0], 0)
	var cum float64
	for i := range k {
		lam := math.Max(vals[i], 0)
		if lam <= tol {
			lam = 0
		}
		m.SingularValues[i] = math.Sqrt(lam)
		m.ExplainedVariance[i] = lam / float64(n-1)
		if m.TotalVariance > 0 {
			m.ExplainedVarianceRatio[i] = m.ExplainedVariance[i] / m.TotalVariance
		}
		cum += m.ExplainedVarianceRatio[i]
		m.CumulativeRatio[i] = cum
		if lam == 0 {
			for r := range n {
				w.Set(r, i, 0)
			}
		}
	}
	if m.Components, err = e.components(rows, m.Mean, w.RawMatrix().Data, k); err != nil {
		return nil, err
	}
	return m, nil
}

// columnMean is the float64-accumulated mean of each column, stored as float32; column
// ranges are split across the cores.
func columnMean(rows [][]float32, d int) []float32 {
	mean := make([]float32, d)
	inv := 1 / float64(len(rows))
	parallelRows(d, func(c0, c1 int) {
		sum := make([]float64, c1-c0)
		for _, r := range rows {
			for j, v := range r[c0:c1] {
				sum[j] += float64(v)
			}
		}
		for j, s := range sum {
			mean[c0+j] = float32(s * inv)
		}
	})
	return mean
}

// centredBlock fills dst (len(rows) x (c1-c0), row-major) with rows[i][c0:c1] - mean[c0:c1].
func centredBlock(dst []float64, rows [][]float32, mean []float32, c0, c1 int) {
	w := c1 - c0
	mb := mean[c0:c1]
	for i, r := range rows {
		src := r[c0:c1]
		out := dst[i*w : (i+1)*w]
		for j, v := range src {
			out[j] = float64(v) - float64(mb[j])
		}
	}
}

// gramRowBlock is the row-block size of the Gram product: only blocks on or above the
// diagonal are computed (about half the work of a full Dgemm), then mirrored.
const gramRowBlock = 256

// gram returns G = Xc Xc^T (n x n, row-major, symmetric), accumulated over column blocks.
func gram(rows [][]float32, mean []float32) []float64 {
	n, d := len(rows), len(mean)
	g := make([]float64, n*n)
	buf := make([]float64, n*blockCols)
	bl := blas64.Implementation()
	for c0 := 0; c0 < d; c0 += blockCols {
		c1 := min(d, c0+blockCols)
		w := c1 - c0
		centredBlock(buf, rows, mean, c0, c1)
		for i0 := 0; i0 < n; i0 += gramRowBlock {
			i1 := min(n, i0+gramRowBlock)
			for j0 := i0; j0 < n; j0 += gramRowBlock {
				j1 := min(n, j0+gramRowBlock)
				bl.Dgemm(blas.NoTrans, blas.Trans, i1-i0, j1-j0, w, 1, buf[i0*w:i1*w], w, buf[j0*w:j1*w], w,
					1, g[i0*n+j0:], n)
			}
		}
	}
	mirrorBlocks(g, n, gramRowBlock)
	return g
}

// components returns V = W^T Xc (k x d, float32) for W (n x k, row-major).
func components(rows [][]float32, mean []float32, w []float64, n, k int) []float32 {
	d := len(mean)
	v := make([]float32, k*d)
	buf := make([]float64, n*blockCols)
	out := make([]float64, k*blockCols)
	bl := blas64.Implementation()
	for c0 := 0; c0 < d; c0 += blockCols {
		c1 := min(d, c0+blockCols)
		cw := c1 - c0
		centredBlock(buf, rows, mean, c0, c1)
		bl.Dgemm(blas.Trans, blas.NoTrans, k, cw, n, 1, w, k, buf[:n*cw], cw, 0, out[:k*cw], cw)
		for i := range k {
			dst := v[i*d+c0 : i*d+c1]
			for j, x := range out[i*cw : (i+1)*cw] {
				dst[j] = float32(x)
			}
		}
	}
	return v
}

// eigTop returns the k largest eigenvalues of s, decreasing, and their eigenvectors as
// the columns of an n x k matrix.
func eigTop(s mat.Symmetric, k int) ([]float64, *mat.Dense, error) {
	var e mat.EigenSym
	if !e.Factorize(s, true) {
		return nil, nil, fmt.Errorf("pca: eigen-decomposition of the %dx%d Gram matrix did not converge", s.SymmetricDim(), s.SymmetricDim())
	}
	vals := e.Values(nil)
	var vecs mat.Dense
	e.VectorsTo(&vecs)
	n := len(vals)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return vals[idx[a]] > vals[idx[b]] })
	top := mat.NewDense(vecs.RawMatrix().Rows, k, nil)
	out := make([]float64, k)
	for j := range k {
		out[j] = vals[idx[j]]
		top.SetCol(j, mat.Col(nil, idx[j], &vecs))
	}
	return out, top, nil
}

// randomizedSVD is scikit-learn's randomized_svd (Halko et al. 2011, algorithms 4.4 and 5.1)
// on the transposed data, as scikit-learn runs it for N < D, carried out through the Gram
// matrix G = Xc Xc^T: mul and mulLast compute Q -> G Q (mul for the power iterations,
// mulLast for the last product). scikit-learn draws an N x l Gaussian Omega, takes
// M = G^q Omega (re-normalised after every product), the range Q_D = orth(Xc^T M), and the
// SVD of Q_D^T Xc^T. (For N > D it sketches Xc Omega' with a D x l Gaussian, which has the
// same distribution as G^(1/2) Omega: the same range finder.) Here, with P = G M:
// M^T G M = E diag(beta) E^T, T = E diag(beta)^(-1/2) (directions with beta ~ 0 dropped),
// so Q_D = Xc^T M T, and (Xc Q_D)^T (Xc Q_D) = T^T P^T P T = F diag(s^2) F^T. It returns the
// top k of s^2, U = P T F (the left singular vectors up to scale, for the signs) and
// W = M T F, with V = W^T Xc; columns past the sketch's rank are zero.
func randomizedSVD(mul, mulLast func(*mat.Dense) (*mat.Dense, error), n, k int, opt Options) (vals []float64, u, w *mat.Dense, err error) {
	l := min(n, k+opt.Oversample)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	q := mat.NewDense(n, l, nil)
	qd := q.RawMatrix().Data
	for i := range qd {
		qd[i] = rng.NormFloat64()
	}
	for range opt.PowerIters {
		y, err := mul(q)
		if err != nil {
			return nil, nil, nil, err
		}
		if q, err = orthonormal(y); err != nil {
			return nil, nil, nil, err
		}
	}
	p, err := mulLast(q)
	if err != nil {
		return nil, nil, nil, err
	}
	var b, a mat.Dense
	b.Mul(q.T(), p)
	a.Mul(p.T(), p)
	betas, e, err := eigTop(symmetrised(&b), l)
	if err != nil {
		return nil, nil, nil, err
	}
	r := 0
	for r < l && betas[r] > 1e-12*betas[0] {
		r++
	}
	vals = make([]float64, k)
	u, w = mat.NewDense(n, k, nil), mat.NewDense(n, k, nil)
	if r == 0 {
		return vals, u, w, nil
	}
	t := mat.NewDense(l, r, nil)
	for j := range r {
		s := 1 / math.Sqrt(betas[j])
		for i := range l {
			t.Set(i, j, e.At(i, j)*s)
		}
	}
	var at, c mat.Dense
	at.Mul(&a, t)
	c.Mul(t.T(), &at)
	kr := min(k, r)
	s2, f, err := eigTop(symmetrised(&c), kr)
	if err != nil {
		return nil, nil, nil, err
	}
	copy(vals, s2)
	var tf, pu, mw mat.Dense
	tf.Mul(t, f)
	pu.Mul(p, &tf)
	mw.Mul(q, &tf)
	u.Slice(0, n, 0, kr).(*mat.Dense).Copy(&pu)
	w.Slice(0, n, 0, kr).(*mat.Dense).Copy(&mw)
	return vals, u, w, nil
}

// symmetrised returns (a + a^T)/2 for square a, against rounding before an eigen-decomposition.
func symmetrised(a *mat.Dense) *mat.SymDense {
	n, _ := a.Dims()
	s := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			s.SetSym(i, j, 0.5*(a.At(i, j)+a.At(j, i)))
		}
	}
	return s
}

// orthonormal returns the thin Q factor (r x c) of y's QR decomposition (LAPACK Dgeqrf then
// Dorgqr for c columns only); y is overwritten.
func orthonormal(y *mat.Dense) (*mat.Dense, error) {
	r, c := y.Dims()
	if c > r {
		return nil, fmt.Errorf("pca: QR of a %dx%d sketch: more columns than rows", r, c)
	}
	a := y.RawMatrix()
	tau := make([]float64, c)
	work := make([]float64, 1)
	lapack64.Geqrf(a, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Geqrf(a, tau, work, len(work))
	lapack64.Orgqr(a, tau, work[:1], -1)
	if need := int(work[0]); need > len(work) {
		work = make([]float64, need)
	}
	lapack64.Orgqr(a, tau, work, len(work))
	return mat.NewDense(r, c, a.Data), nil
}

// flipSigns makes the largest-magnitude entry of each column of u positive (scikit-learn's
// svd_flip with u_based_decision=True), flipping the same columns of w, so components are
// reproducible.
func flipSigns(u, w *mat.Dense) {
	r, c := u.Dims()
	for j := range c {
		best, at := -1.0, 0
		for i := range r {
			if a := math.Abs(u.At(i, j)); a > best {
				best, at = a, i
			}
		}
		if u.At(at, j) < 0 {
			for i := range r {
				u.Set(i, j, -u.At(i, j))
				w.Set(i, j, -w.At(i, j))
			}
		}
	}
}
