package pca

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/camelsvae/camelsvae/formats"
)

// rowBlock bounds the rows handled at once by Transform and InverseTransform, so scratch
// stays at rowBlock x blockCols float64 (8 MiB) whatever the batch size.
const rowBlock = 512

// Transform returns the coefficients (len(rows) rows of K) of rows projected on the
// components: (x - Mean) V^T.
func (m *Model) Transform(rows [][]float32) [][]float32 {
	z := make([][]float32, len(rows))
	flat := make([]float32, len(rows)*m.K)
	for i := range z {
		z[i] = flat[i*m.K : (i+1)*m.K : (i+1)*m.K]
	}
	m.TransformTo(z, rows)
	return z
}

// TransformTo is Transform into dst (len(rows) rows of K values), on m.Engine.
func (m *Model) TransformTo(dst, rows [][]float32) {
	m.checkRows(rows, m.D, "rows")
	m.checkRows(dst, m.K, "dst")
	if len(dst) != len(rows) {
		panic(fmt.Sprintf("pca: %d destination rows for %d rows", len(dst), len(rows)))
	}
	m.run("transform", len(rows), func(e engine) error { return e.transform(m, dst, rows) })
}

// run calls f on the engine m.Engine picks for rows rows. An ONNX Runtime failure (no
// runtime for EngineONNX, a failed session) is added to m.Warnings and the call is redone
// with gonum: Transform and InverseTransform have no error to return, and gonum gives the
// same numbers up to float32 rounding.
func (m *Model) run(what string, rows int, f func(engine) error) {
	e, err := newEngine(m.Engine, float64(rows)*float64(m.D)*float64(m.K))
	if err == nil {
		err = f(e)
		e.close()
	}
	if err != nil {
		m.Warnings = append(m.Warnings, fmt.Sprintf("pca: %s: %v; redone with gonum", what, err))
		_ = f(gonumEngine{})
	}
}

// transformGonum is TransformTo in float64 with gonum's Dgemm.
func (m *Model) transformGonum(dst, rows [][]float32) {
	k, d := m.K, m.D
	bl := blas64.Implementation()
	xb := make([]float64, min(rowBlock, len(rows))*blockCols)
	vb := make([]float64, k*blockCols)
	zb := make([]float64, min(rowBlock, len(rows))*k)
	for r0 := 0; r0 < len(rows); r0 += rowBlock {
		r1 := min(len(rows), r0+rowBlock)
		nr := r1 - r0
		clear(zb)
		for c0 := 0; c0 < d; c0 += blockCols {
			c1 := min(d, c0+blockCols)
			w := c1 - c0
			centredBlock(xb, rows[r0:r1], m.Mean, c0, c1)
			m.componentBlock(vb, c0, c1)
			bl.Dgemm(blas.NoTrans, blas.Trans, nr, k, w, 1, xb[:nr*w], w, vb[:k*w], w, 1, zb[:nr*k], k)
		}
		for i := range nr {
			for j := range k {
				dst[r0+i][j] = float32(zb[i*k+j])
			}
		}
	}
}

// componentBlock widens columns [c0, c1) of every component into dst (K x (c1-c0)).
func (m *Model) componentBlock(dst []float64, c0, c1 int) {
	w := c1 - c0
	for i := range m.K {
		src := m.Components[i*m.D+c0 : i*m.D+c1]
		out := dst[i*w : (i+1)*w]
		for j, v := range src {
			out[j] = float64(v)
		}
	}
}

// InverseTransform returns the reconstructions z V + Mean (len(z) rows of D values, one
// backing array).
func (m *Model) InverseTransform(z [][]float32) [][]float32 {
	m.checkRows(z, m.K, "z")
	x := make([][]float32, len(z))
	flat := make([]float32, len(z)*m.D)
	for i := range x {
		x[i] = flat[i*m.D : (i+1)*m.D : (i+1)*m.D]
	}
	m.run("inverse transform", len(z), func(e engine) error { return e.inverse(m, x, z, flat) })
	return x
}

// InverseTransformTo is InverseTransform into dst (len(z) rows of D values), on m.Engine.
func (m *Model) InverseTransformTo(dst, z [][]float32) {
	m.checkRows(z, m.K, "z")
	m.checkRows(dst, m.D, "dst")
	if len(dst) != len(z) {
		panic(fmt.Sprintf("pca: %d destination rows for %d coefficient rows", len(dst), len(z)))
	}
	m.run("inverse transform", len(z), func(e engine) error { return e.inverse(m, dst, z, nil) })
}

// inverseGonum is InverseTransformTo in float64 with gonum's Dgemm.
func (m *Model) inverseGonum(dst, z [][]float32) {
	k, d := m.K, m.D
	bl := blas64.Implementation()
	vb := make([]float64, k*blockCols)
	zb := make([]float64, min(rowBlock, len(z))*k)
	xb := make([]float64, min(rowBlock, len(z))*blockCols)
	for c0 := 0; c0 < d; c0 += blockCols {
		c1 := min(d, c0+blockCols)
		w := c1 - c0
		m.componentBlock(vb, c0, c1)
		for r0 := 0; r0 < len(z); r0 += rowBlock {
			r1 := min(len(z), r0+rowBlock)
			nr := r1 - r0
			for i := range nr {
				for j, v := range z[r0+i] {
					zb[i*k+j] = float64(v)
				}
			}
			bl.Dgemm(blas.NoTrans, blas.NoTrans, nr, w, k, 1, zb[:nr*k], k, vb[:k*w], w, 0, xb[:nr*w], w)
			mean := m.Mean[c0:c1]
			for i := range nr {
				out := dst[r0+i][c0:c1]
				for j, v := range xb[i*w : (i+1)*w] {
					out[j] = float32(v + float64(mean[j]))
				}
			}
		}
	}
}

func (m *Model) checkRows(rows [][]float32, width int, what string) {
	for i, r := range rows {
		if len(r) != width {
			panic(fmt.Sprintf("pca: %s row %d has %d values, want %d", what, i, len(r), width))
		}
	}
}

// Solver codes stored in the .npz (it holds numbers only).
var solverCodes = map[string]int64{"exact": 0, "randomized": 1}

// npzNames lists the members of a saved model, in file order.
var npzNames = []string{"mean", "components", "explained_variance", "explained_variance_ratio",
	"singular_values", "total_variance", "n_samples", "solver"}

// Save writes the model to path as an .npz (numpy.load reads it), atomically.
func (m *Model) Save(path string) error {
	arrays := map[string]formats.Array{
		"mean":                     formats.F32Array(m.Mean, m.D),
		"components":               formats.F32Array(m.Components, m.K, m.D),
		"explained_variance":       formats.F64Array(m.ExplainedVariance, m.K),
		"explained_variance_ratio": formats.F64Array(m.ExplainedVarianceRatio, m.K),
		"singular_values":          formats.F64Array(m.SingularValues, m.K),
		"total_variance":           formats.F64Array([]float64{m.TotalVariance}),
		"n_samples":                formats.I64Array([]int64{int64(m.NSamples)}),
		"solver":                   formats.I64Array([]int64{solverCodes[m.Solver]}),
	}
	if err := formats.WriteNPZ(path, npzNames, arrays); err != nil {
		return fmt.Errorf("pca: save: %w", err)
	}
	return nil
}

// Load reads a model written by Save, checking that its arrays agree with each other.
func Load(path string) (*Model, error) {
	a, err := formats.ReadNPZ(path)
	if err != nil {
		return nil, fmt.Errorf("pca: load: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("pca: load %s: %s", path, fmt.Sprintf(format, args...))
	}
	for _, n := range npzNames {
		if _, ok := a[n]; !ok {
			return nil, bad("no array %q", n)
		}
	}
	c := a["components"]
	if len(c.Shape) != 2 || c.F32 == nil {
		return nil, bad("components: want a 2-d float32 array, got shape %v type %s", c.Shape, c.DType())
	}
	k, d := c.Shape[0], c.Shape[1]
	m := &Model{K: k, D: d, Components: c.F32, Mean: a["mean"].F32,
		ExplainedVariance:      a["explained_variance"].F64,
		ExplainedVarianceRatio: a["explained_variance_ratio"].F64,
		SingularValues:         a["singular_values"].F64}
	if len(m.Mean) != d {
		return nil, bad("mean: want %d float32 values, got %d", d, len(m.Mean))
	}
	for _, s := range []struct {
		name string
		v    []float64
	}{{"explained_variance", m.ExplainedVariance}, {"explained_variance_ratio", m.ExplainedVarianceRatio}, {"singular_values", m.SingularValues}} {
		if len(s.v) != k {
			return nil, bad("%s: want %d float64 values, got %d", s.name, k, len(s.v))
		}
	}
	if tv := a["total_variance"].F64; len(tv) == 1 {
		m.TotalVariance = tv[0]
	} else {
		return nil, bad("total_variance: want one float64")
	}
	if ns := a["n_samples"].I64; len(ns) == 1 {
		m.NSamples = int(ns[0])
	} else {
		return nil, bad("n_samples: want one int64")
	}
	if sv := a["solver"].I64; len(sv) == 1 {
		for name, code := range solverCodes {
			if code == sv[0] {
				m.Solver = name
			}
		}
	}
	if m.Solver == "" {
		return nil, bad("solver: want one int64 code 0 (exact) or 1 (randomized)")
	}
	m.CumulativeRatio = make([]float64, k)
	var cum float64
	for i, r := range m.ExplainedVarianceRatio {
		cum += r
		m.CumulativeRatio[i] = cum
	}
	return m, nil
}
