// Package pca is the linear baseline of the study: principal component analysis of flattened
// maps (N rows of D features, N a few hundred to a few thousand, D up to 3*256*256) with the
// same latent size as the VAE.
//
// # Method
//
// Both solvers work through the N x N Gram matrix G = Xc Xc^T of the centred data, never a
// D x D covariance: beyond the caller's float32 data (N D) it holds the K x D float32
// components and O(N^2 + N kc) float64 scratch.
// G is accumulated over blocks of kc columns, each block centred and widened to float64, with
// gonum's BLAS (Dgemm). The "exact" solver eigen-decomposes G (mat.EigenSym); "randomized"
// follows Halko, Martinsson and Tropp (2011), algorithms 4.4 and 5.3: a seeded Gaussian
// sketch of Components+Oversample columns, PowerIters power iterations each re-orthonormalised
// by QR, and the eigen-decomposition of the small projected matrix. An eigenpair (lambda, u)
// of G gives the component v = Xc^T u / sqrt(lambda) and the explained variance
// lambda/(N-1), as scikit-learn's PCA reports it. Signs follow scikit-learn's svd_flip: the
// largest-magnitude entry of each u is positive.
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
	// Oversample and PowerIters tune the randomized solver (scikit-learn uses 10 and 4 for
	// k > N/10).
	Oversample, PowerIters int
	// Seed drives the randomized sketch.
	Seed uint64
}

// OptionsFrom maps the run configuration's pca section and seed to Options.
func OptionsFrom(c configs.PCA, seed int64) Options {
	return Options{Components: c.Components, Solver: c.Solver, Oversample: c.Oversample,
		PowerIters: c.PowerIters, Seed: uint64(seed)}
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
}

// blockCols is the number of feature columns handled per block: N x blockCols float64 of
// scratch (16 MiB at N = 1024).
const blockCols = 2048

// Fit computes the PCA of rows (N rows of D float32 each; not modified). It panics on a
// caller's mistake (ragged rows, k outside [1, min(N, D)], N < 2, an unknown solver) and returns
// an error when the eigen-decomposition fails.
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
	m := &Model{K: k, D: d, NSamples: n, Solver: opt.Solver}
	m.Mean = columnMean(rows, d)
	g := gram(rows, m.Mean)
	var trace float64
	for i := range n {
		trace += g[i*n+i]
	}
	m.TotalVariance = trace / float64(n-1)

	var vals []float64
	var vecs *mat.Dense // n x k, columns by decreasing eigenvalue
	var err error
	if opt.Solver == "exact" {
		vals, vecs, err = eigTop(mat.NewSymDense(n, g), k)
	} else {
		vals, vecs, err = randomizedEig(g, n, k, opt)
	}
	if err != nil {
		return nil, err
	}
	flipSigns(vecs)

	m.ExplainedVariance = make([]float64, k)
	m.ExplainedVarianceRatio = make([]float64, k)
	m.CumulativeRatio = make([]float64, k)
	m.SingularValues = make([]float64, k)
	// Scale column i of U by 1/sigma_i so that V = W^T Xc has unit rows; a zero eigenvalue
	// (k above the rank) gives a zero component with zero variance.
	w := mat.DenseCopyOf(vecs)
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
		s := 0.0
		if lam > 0 {
			s = 1 / math.Sqrt(lam)
		}
		for r := range n {
			w.Set(r, i, w.At(r, i)*s)
		}
	}
	m.Components = components(rows, m.Mean, w.RawMatrix().Data, n, k)
	return m, nil
}

// columnMean is the float64-accumulated mean of each column, stored as float32.
func columnMean(rows [][]float32, d int) []float32 {
	sum := make([]float64, d)
	for _, r := range rows {
		r = r[:d]
		for j, v := range r {
			sum[j] += float64(v)
		}
	}
	mean := make([]float32, d)
	inv := 1 / float64(len(rows))
	for j, s := range sum {
		mean[j] = float32(s * inv)
	}
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
	// Mirror the strictly lower blocks from the upper ones.
	for i := range n {
		for j := 0; j < (i/gramRowBlock)*gramRowBlock; j++ {
			g[i*n+j] = g[j*n+i]
		}
	}
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

// randomizedEig approximates the top k eigenpairs of the symmetric PSD matrix g (n x n,
// row-major) by Halko et al.'s randomized range finder with power iterations (algorithm 4.4,
// QR after every product) and the direct eigen-decomposition of Q^T G Q (algorithm 5.3).
func randomizedEig(g []float64, n, k int, opt Options) ([]float64, *mat.Dense, error) {
	l := min(n, k+opt.Oversample)
	G := mat.NewDense(n, n, g)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	omega := mat.NewDense(n, l, nil)
	od := omega.RawMatrix().Data
	for i := range od {
		od[i] = rng.NormFloat64()
	}
	var y mat.Dense
	y.Mul(G, omega)
	q, err := orthonormal(mat.DenseCopyOf(&y))
	if err != nil {
		return nil, nil, err
	}
	for range opt.PowerIters {
		y.Reset()
		y.Mul(G, q)
		if q, err = orthonormal(mat.DenseCopyOf(&y)); err != nil {
			return nil, nil, err
		}
	}
	var gq, b mat.Dense
	gq.Mul(G, q)
	b.Mul(q.T(), &gq)
	// Symmetrise against rounding before the eigen-decomposition.
	bs := mat.NewSymDense(l, nil)
	for i := range l {
		for j := i; j < l; j++ {
			bs.SetSym(i, j, 0.5*(b.At(i, j)+b.At(j, i)))
		}
	}
	vals, w, err := eigTop(bs, k)
	if err != nil {
		return nil, nil, err
	}
	var u mat.Dense
	u.Mul(q, w)
	return vals, &u, nil
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

// flipSigns makes the largest-magnitude entry of each column positive (scikit-learn's
// svd_flip with u_based_decision=True), so components are reproducible.
func flipSigns(u *mat.Dense) {
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
			}
		}
	}
}
