package pca

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/camelsvae/camelsvae/onnx"
)

// Engine names for Options.Engine and Model.Engine.
const (
	// EngineAuto picks EngineONNX for large products when ONNX Runtime is initialised, and
	// EngineGonum otherwise.
	EngineAuto = "auto"
	// EngineGonum runs every product in float64 with gonum's pure-Go BLAS.
	EngineGonum = "gonum"
	// EngineONNX runs the products over the data in float32 on ONNX Runtime's CPU provider
	// (MLAS SGEMM on all cores), accumulating across column blocks in float64. It needs
	// onnx.Setup first.
	EngineONNX = "onnx"
)

// autoWork is the size, in multiply-adds of the largest product, from which EngineAuto uses
// ONNX Runtime: below it gonum is fast enough and keeps float64 throughout.
const autoWork = 1 << 30

// engine runs the products of PCA that touch the data or the components. Column blocks of
// the data are centred before they are multiplied.
type engine interface {
	// gram returns G = Xc Xc^T (n x n float64, row-major, symmetric).
	gram(rows [][]float32, mean []float32) ([]float64, error)
	// gramMul returns a function computing G Q (n x c) for the n x n Gram g.
	gramMul(g []float64, n int) func(q *mat.Dense) (*mat.Dense, error)
	// components returns W^T Xc (k x d float32) for w (n x k float64, row-major).
	components(rows [][]float32, mean []float32, w []float64, k int) ([]float32, error)
	// transform fills dst (len(rows) x m.K) with (rows - m.Mean) m.Components^T.
	transform(m *Model, dst, rows [][]float32) error
	// inverse fills dst (len(z) x m.D) with z m.Components + m.Mean. flat, when not nil, is
	// dst's contiguous backing array (len(z) x m.D), which an engine may write directly.
	inverse(m *Model, dst, z [][]float32, flat []float32) error
	// close frees what the engine holds.
	close()
}

// newEngine returns the engine called name for a job whose largest product has work
// multiply-adds. It panics on an unknown name and fails when EngineONNX is asked for before
// onnx.Setup.
func newEngine(name string, work float64) (engine, error) {
	switch name {
	case "", EngineAuto:
		if work < autoWork || onnx.LibraryPath() == "" {
			return gonumEngine{}, nil
		}
		return newORTEngine()
	case EngineGonum:
		return gonumEngine{}, nil
	case EngineONNX:
		return newORTEngine()
	}
	panic(fmt.Sprintf("pca: unknown engine %q (auto, gonum or onnx)", name))
}

// gonumEngine is the float64 reference path (gonum's Dgemm).
type gonumEngine struct{}

func (gonumEngine) gram(rows [][]float32, mean []float32) ([]float64, error) {
	return gram(rows, mean), nil
}

func (gonumEngine) gramMul(g []float64, n int) func(q *mat.Dense) (*mat.Dense, error) {
	gm := mat.NewDense(n, n, g)
	return func(q *mat.Dense) (*mat.Dense, error) {
		var y mat.Dense
		y.Mul(gm, q)
		return &y, nil
	}
}

func (gonumEngine) components(rows [][]float32, mean []float32, w []float64, k int) ([]float32, error) {
	return components(rows, mean, w, len(rows), k), nil
}

func (gonumEngine) transform(m *Model, dst, rows [][]float32) error {
	m.transformGonum(dst, rows)
	return nil
}

func (gonumEngine) inverse(m *Model, dst, z [][]float32, _ []float32) error {
	m.inverseGonum(dst, z)
	return nil
}

func (gonumEngine) close() {}

// Block sizes of the ONNX Runtime path, chosen for MLAS on AVX-512 (products of a few
// hundred to a few thousand rows by a few thousand columns).
const (
	// ortBlockCols is the width of the column blocks of the Gram, components and transform
	// products: N x 4096 float32 of scratch (32 MiB at N = 2048).
	ortBlockCols = 4096
	// ortGramRows is the row-block size of the Gram product: row block i is multiplied by
	// rows i.. to the end only (about 9/16 of a full product at N = 2000).
	ortGramRows = 256
	// ortRowBlock bounds the rows of one transform or inverse product.
	ortRowBlock = 2048
	// ortInvCols is the column-block width of the inverse transform's output when it cannot
	// be written in place.
	ortInvCols = 1024
)

// ortEngine runs the products in float32 on ONNX Runtime, summing column blocks in float64.
type ortEngine struct{ o *ortGemm }

func newORTEngine() (*ortEngine, error) {
	o, err := newORTGemm()
	if err != nil {
		return nil, err
	}
	return &ortEngine{o: o}, nil
}

func (e *ortEngine) close() { e.o.Close() }

func (e *ortEngine) gram(rows [][]float32, mean []float32) ([]float64, error) {
	n, d := len(rows), len(mean)
	g := make([]float64, n*n)
	buf := make([]float32, n*min(d, ortBlockCols))
	out := make([]float32, min(n, ortGramRows)*n)
	for c0 := 0; c0 < d; c0 += ortBlockCols {
		c1 := min(d, c0+ortBlockCols)
		w := c1 - c0
		centredBlock32(buf, rows, mean, c0, c1)
		for i0 := 0; i0 < n; i0 += ortGramRows {
			i1 := min(n, i0+ortGramRows)
			ni, nc := i1-i0, n-i0
			y := out[:ni*nc]
			// Rows i0..i1 times rows i0..n, transposed: the block row of G from the diagonal on.
			if err := e.o.run(gemmShape{m: ni, n: nc, kk: w, transB: true}, buf[i0*w:i1*w], buf[i0*w:n*w], nil, y); err != nil {
				return nil, err
			}
			parallelRows(ni, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					dst := g[(i0+r)*n+i0 : (i0+r+1)*n]
					for j, v := range y[r*nc : (r+1)*nc] {
						dst[j] += float64(v)
					}
				}
			})
		}
	}
	mirrorBlocks(g, n, ortGramRows)
	return g, nil
}

func (e *ortEngine) gramMul(g []float64, n int) func(q *mat.Dense) (*mat.Dense, error) {
	g32 := make([]float32, len(g))
	for i, v := range g {
		g32[i] = float32(v)
	}
	return func(q *mat.Dense) (*mat.Dense, error) {
		r, c := q.Dims()
		if r != n {
			panic(fmt.Sprintf("pca: G Q with %d rows for a %dx%d Gram", r, n, n))
		}
		q32 := make([]float32, n*c)
		for i := range n {
			for j := range c {
				q32[i*c+j] = float32(q.At(i, j))
			}
		}
		y32 := make([]float32, n*c)
		if err := e.o.run(gemmShape{m: n, n: c, kk: n}, g32, q32, nil, y32); err != nil {
			return nil, err
		}
		y := make([]float64, n*c)
		for i, v := range y32 {
			y[i] = float64(v)
		}
		return mat.NewDense(n, c, y), nil
	}
}

func (e *ortEngine) components(rows [][]float32, mean []float32, w []float64, k int) ([]float32, error) {
	n, d := len(rows), len(mean)
	wt := make([]float32, k*n)
	for i := range n {
		for j := range k {
			wt[j*n+i] = float32(w[i*k+j])
		}
	}
	v := make([]float32, k*d)
	buf := make([]float32, n*min(d, ortBlockCols))
	out := make([]float32, k*min(d, ortBlockCols))
	for c0 := 0; c0 < d; c0 += ortBlockCols {
		c1 := min(d, c0+ortBlockCols)
		cw := c1 - c0
		centredBlock32(buf, rows, mean, c0, c1)
		if err := e.o.run(gemmShape{m: k, n: cw, kk: n}, wt, buf[:n*cw], nil, out[:k*cw]); err != nil {
			return nil, err
		}
		for i := range k {
			copy(v[i*d+c0:i*d+c1], out[i*cw:(i+1)*cw])
		}
	}
	return v, nil
}

func (e *ortEngine) transform(m *Model, dst, rows [][]float32) error {
	k, d, nr := m.K, m.D, len(rows)
	if nr == 0 {
		return nil
	}
	acc := make([]float64, nr*k)
	cw0 := min(d, ortBlockCols)
	buf := make([]float32, min(nr, ortRowBlock)*cw0)
	vb := make([]float32, k*cw0)
	out := make([]float32, min(nr, ortRowBlock)*k)
	for c0 := 0; c0 < d; c0 += ortBlockCols {
		c1 := min(d, c0+ortBlockCols)
		w := c1 - c0
		m.componentBlock32(vb, c0, c1)
		for r0 := 0; r0 < nr; r0 += ortRowBlock {
			r1 := min(nr, r0+ortRowBlock)
			nb := r1 - r0
			centredBlock32(buf, rows[r0:r1], m.Mean, c0, c1)
			y := out[:nb*k]
			if err := e.o.run(gemmShape{m: nb, n: k, kk: w, transB: true}, buf[:nb*w], vb[:k*w], nil, y); err != nil {
				return err
			}
			a := acc[r0*k : r1*k]
			for i, v := range y {
				a[i] += float64(v)
			}
		}
	}
	for i := range nr {
		for j, v := range acc[i*k : (i+1)*k] {
			dst[i][j] = float32(v)
		}
	}
	return nil
}

func (e *ortEngine) inverse(m *Model, dst, z [][]float32, flat []float32) error {
	k, d, nr := m.K, m.D, len(z)
	if nr == 0 {
		return nil
	}
	zf := make([]float32, nr*k)
	for i, r := range z {
		copy(zf[i*k:(i+1)*k], r)
	}
	if flat != nil {
		// Straight into the output: MLAS packs the components once per call and streams the
		// coefficient rows through them.
		for r0 := 0; r0 < nr; r0 += ortRowBlock {
			r1 := min(nr, r0+ortRowBlock)
			s := gemmShape{m: r1 - r0, n: d, kk: k, bias: true}
			if err := e.o.run(s, zf[r0*k:r1*k], m.Components, m.Mean, flat[r0*d:r1*d]); err != nil {
				return err
			}
		}
		return nil
	}
	cw0 := min(d, ortInvCols)
	vb := make([]float32, k*cw0)
	out := make([]float32, min(nr, ortRowBlock)*cw0)
	for c0 := 0; c0 < d; c0 += ortInvCols {
		c1 := min(d, c0+ortInvCols)
		w := c1 - c0
		m.componentBlock32(vb, c0, c1)
		for r0 := 0; r0 < nr; r0 += ortRowBlock {
			r1 := min(nr, r0+ortRowBlock)
			nb := r1 - r0
			y := out[:nb*w]
			if err := e.o.run(gemmShape{m: nb, n: w, kk: k, bias: true}, zf[r0*k:r1*k], vb[:k*w], m.Mean[c0:c1], y); err != nil {
				return err
			}
			parallelRows(nb, func(i0, i1 int) {
				for i := i0; i < i1; i++ {
					copy(dst[r0+i][c0:c1], y[i*w:(i+1)*w])
				}
			})
		}
	}
	return nil
}

// componentBlock32 copies columns [c0, c1) of every component into dst (K x (c1-c0)).
func (m *Model) componentBlock32(dst []float32, c0, c1 int) {
	w := c1 - c0
	for i := range m.K {
		copy(dst[i*w:(i+1)*w], m.Components[i*m.D+c0:i*m.D+c1])
	}
}

// centredBlock32 fills dst (len(rows) x (c1-c0), row-major) with rows[i][c0:c1] -
// mean[c0:c1] in float32, rows split across the cores.
func centredBlock32(dst []float32, rows [][]float32, mean []float32, c0, c1 int) {
	w := c1 - c0
	mb := mean[c0:c1]
	parallelRows(len(rows), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			out := dst[i*w : (i+1)*w]
			for j, v := range rows[i][c0:c1] {
				out[j] = v - mb[j]
			}
		}
	})
}

// parallelRows calls f on contiguous ranges [i0, i1) of [0, n), one per core.
func parallelRows(n int, f func(i0, i1 int)) {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for t := range p {
		i0, i1 := t*n/p, (t+1)*n/p
		wg.Go(func() { f(i0, i1) })
	}
	wg.Wait()
}

// mirrorBlocks copies the strictly lower row blocks of g (n x n) from the upper ones: row i
// of a Gram computed by row blocks of rb holds columns from its block's first row on.
func mirrorBlocks(g []float64, n, rb int) {
	for i := range n {
		for j := 0; j < (i/rb)*rb; j++ {
			g[i*n+j] = g[j*n+i]
		}
	}
}
