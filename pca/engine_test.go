package pca

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// factorData returns n rows of d: a mean of 1 plus 30 random factors whose scales decay by
// 0.85, plus white noise of 0.05 (a decaying spectrum with a noise floor, like normalised maps).
func factorData(n, d int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	const f = 30
	basis := make([]float64, f*d)
	for i := range basis {
		basis[i] = rng.NormFloat64()
	}
	rows := make([][]float32, n)
	for i := range rows {
		r := make([]float32, d)
		for j := range r {
			r[j] = float32(1 + 0.05*rng.NormFloat64())
		}
		s := 1.0
		for c := range f {
			a := s * rng.NormFloat64()
			for j, b := range basis[c*d : (c+1)*d] {
				r[j] += float32(a * b)
			}
			s *= 0.85
		}
		rows[i] = r
	}
	return rows
}

// TestEnginesAgree checks the ONNX Runtime engine (float32 products, float64 sums) against
// the gonum engine (float64 throughout, itself checked against scikit-learn above) on more
// rows than one Gram row block and a width that is not a multiple of the column blocks, with
// k = 20 of the 30 factors (a clear spectral gap at k: cutting inside the degenerate noise
// floor makes which noise directions are kept arbitrary for any solver).
// Tolerances: the 1e-4 for reconstructions; 1e-5 relative for the explained
// variance ratios (the float32 block products perturb the eigenvalues by about 1e-9 of the
// largest, 1e-6 relative at component 20; a missing or doubled block is far outside).
func TestEnginesAgree(t *testing.T) {
	onnxtest.Setup(t)
	const n, d, k = ortGramRows + 88, 3*ortBlockCols + 37, 20
	rows := factorData(n, d, 11)
	for _, opt := range []Options{
		{Components: k, Solver: "randomized", Oversample: 10, PowerIters: 4, Seed: 5},
		{Components: k, Solver: "exact"},
	} {
		t.Run(opt.Solver, func(t *testing.T) {
			opt.Engine = EngineGonum
			ref, err := Fit(rows, opt)
			if err != nil {
				t.Fatal(err)
			}
			opt.Engine = EngineONNX
			got, err := Fit(rows, opt)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(got.TotalVariance/ref.TotalVariance - 1); !(e < 1e-6) {
				t.Errorf("total variance %v, gonum %v", got.TotalVariance, ref.TotalVariance)
			}
			worstRatio := 0.0
			for i := range k {
				g, r := got.ExplainedVarianceRatio[i], ref.ExplainedVarianceRatio[i]
				e := math.Abs(g/r - 1)
				if !(e <= 1e-5) {
					t.Errorf("explained variance ratio %d: onnx %.9g, gonum %.9g (relative %.2g)", i, g, r, e)
				}
				worstRatio = math.Max(worstRatio, e)
			}
			recRef := ref.InverseTransform(ref.Transform(rows))
			rec := got.InverseTransform(got.Transform(rows))
			worst := 0.0
			for i := range rec {
				for j := range rec[i] {
					worst = math.Max(worst, math.Abs(float64(rec[i][j])-float64(recRef[i][j])))
				}
			}
			if !(worst <= 1e-4) {
				t.Errorf("reconstructions differ by up to %g", worst)
			}
			t.Logf("onnx vs gonum: ratios within %.2g relative, reconstructions within %.2g", worstRatio, worst)
			// Each engine's transform and inverse on the same model.
			ref.Engine = EngineONNX
			z := ref.Transform(rows)
			ref.Engine = EngineGonum
			z64 := ref.Transform(rows)
			worst = 0
			for i := range z {
				for j := range z[i] {
					worst = math.Max(worst, math.Abs(float64(z[i][j])-float64(z64[i][j])))
				}
			}
			if !(worst <= 1e-4) {
				t.Errorf("transform: engines differ by up to %g", worst)
			}
			// The inverse into caller rows (column blocks, copied out) equals the one written
			// in place by InverseTransform.
			got.Engine = EngineONNX
			zc := got.Transform(rows)
			dst := make([][]float32, n)
			for i := range dst {
				dst[i] = make([]float32, d)
			}
			got.InverseTransformTo(dst, zc)
			for i, r := range got.InverseTransform(zc) {
				for j, v := range r {
					if math.Abs(float64(dst[i][j]-v)) > 1e-6*(1+math.Abs(float64(v))) {
						t.Fatalf("InverseTransformTo[%d][%d] = %v, InverseTransform %v", i, j, dst[i][j], v)
					}
				}
			}
		})
	}
}

// TestORTGramBlocks checks the ONNX Runtime Gram (row blocks from the diagonal on, mirrored)
// against a direct float64 sum.
func TestORTGramBlocks(t *testing.T) {
	onnxtest.Setup(t)
	const n, d = 2*ortGramRows + 37, ortBlockCols + 5
	rows := factorData(n, d, 3)
	mean := columnMean(rows, d)
	e, err := newEngine(EngineONNX, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	g, err := e.gram(rows, mean)
	if err != nil {
		t.Fatal(err)
	}
	for _, ij := range [][2]int{{0, 0}, {3, n - 1}, {n - 1, 3}, {ortGramRows + 1, 5}, {n - 2, ortGramRows}, {n - 1, n - 1}, {ortGramRows, ortGramRows - 1}} {
		i, j := ij[0], ij[1]
		var want, ii, jj float64
		for c := range d {
			a, b := float64(rows[i][c])-float64(mean[c]), float64(rows[j][c])-float64(mean[c])
			want += a * b
			ii += a * a
			jj += b * b
		}
		// float32 products: error relative to the norms, not to the (possibly tiny) entry.
		if math.Abs(g[i*n+j]-want) > 1e-5*math.Sqrt(ii*jj) {
			t.Errorf("G[%d][%d] = %v, direct sum %v", i, j, g[i*n+j], want)
		}
	}
}

func TestEngineChoice(t *testing.T) {
	onnxtest.Setup(t)
	for _, tc := range []struct {
		name string
		work float64
		ort  bool
	}{
		{"", 10, false}, {EngineAuto, autoWork - 1, false}, {EngineAuto, autoWork, true},
		{EngineGonum, 1e15, false}, {EngineONNX, 1, true},
	} {
		e, err := newEngine(tc.name, tc.work)
		if err != nil {
			t.Fatal(err)
		}
		if _, ort := e.(*ortEngine); ort != tc.ort {
			t.Errorf("engine %q for %g multiply-adds: got %T", tc.name, tc.work, e)
		}
		e.close()
	}
}

// TestEngineFailureWarns: an ONNX Runtime engine that cannot run (here: no runtime loaded,
// in a child process) is redone with gonum and reported in Warnings, never printed.
func TestEngineFailureWarns(t *testing.T) {
	if os.Getenv("PCA_TEST_NO_ORT") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEngineFailureWarns$", "-test.v")
		cmd.Env = append(os.Environ(), "PCA_TEST_NO_ORT=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") || strings.Contains(string(out), "warning") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	rows := factorData(40, 50, 3)
	m, err := Fit(rows, Options{Components: 5, Solver: "exact", Engine: EngineGonum})
	if err != nil {
		t.Fatal(err)
	}
	want := m.Transform(rows)
	m.Engine = EngineONNX
	got := m.Transform(rows)
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "redone with gonum") {
		t.Fatalf("warnings %q, want one about the redo", m.Warnings)
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("row %d: the redo differs from gonum", i)
			}
		}
	}
}
