package preprocess

import (
	"math"
	"math/rand/v2"
	"testing"
)

// withPureGo runs f with the assembly kernels switched off, then restores the setting.
// Tests that call it must not run in parallel with others.
func withPureGo(f func()) {
	saved, saved512 := useAVX2, useAVX512
	useAVX2, useAVX512 = false, false
	defer func() { useAVX2, useAVX512 = saved, saved512 }()
	f()
}

// eachAssemblyLevel runs f once per assembly path this CPU has (AVX-512 then AVX2 alone),
// named for t.Run, and skips when there is none.
func eachAssemblyLevel(t *testing.T, f func(t *testing.T)) {
	if !useAVX2 {
		t.Skip("no assembly kernels on this CPU or architecture")
	}
	saved512 := useAVX512
	defer func() { useAVX512 = saved512 }()
	if saved512 {
		t.Run("avx512", f)
	}
	useAVX512 = false
	t.Run("avx2", f)
}

// kernelInputs returns float32s over the whole range: random bit patterns (every sign,
// exponent, NaN payload), values in the CMD ranges, and the edges of the kernels' domains
// (0, subnormals, the smallest normal, 0.5, 2^25, the largest finite, Inf, NaN, and the
// table subinterval boundaries around 1), each also negated, in runs that straddle the
// 8-pixel blocks.
func kernelInputs(rng *rand.Rand) []float32 {
	edges := []float32{0, math.SmallestNonzeroFloat32, 1e-40, 1.1754942e-38, 1.17549435e-38, 1e-30,
		0.49999997, 0.5, 0.50000006, 0.69921875, 0.9999999, 1, 1.0000001, 1.3984375, 2, 1000,
		1 << 25, 1<<25 - 2, 1<<25 + 4, math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN())}
	var out []float32
	for _, e := range edges {
		out = append(out, e, -e, math.Nextafter32(e, 0), math.Nextafter32(e, float32(math.Inf(1))))
	}
	for range 1 << 14 {
		var x float32
		switch rng.IntN(4) {
		case 0:
			x = math.Float32frombits(rng.Uint32())
		case 1:
			x = float32(math.Pow(10, 8+7*rng.Float64())) // Mgas
		case 2:
			x = float32(math.Pow(10, -16+13*rng.Float64())) // B
		default:
			x = float32(math.Pow(10, -1+4.5*rng.Float64())) // Vgas
		}
		out = append(out, x)
	}
	// Long clean runs too, so that most blocks take the vector path.
	for range 1 << 14 {
		out = append(out, float32(math.Pow(10, -8+16*rng.Float64())))
	}
	rng.Shuffle(len(out)/2, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// runRows calls a row kernel the way rowKernel.apply does (resuming after each value it
// refuses) and returns the output bits, with the refused positions marked.
func runRows(row func(dst, src []float32) int, src []float32) ([]uint32, []int) {
	dst := make([]float32, len(src))
	var refused []int
	for i := 0; i < len(src); i++ {
		i += row(dst[i:], src[i:])
		if i < len(src) {
			refused = append(refused, i)
		}
	}
	bits := make([]uint32, len(dst))
	for i, v := range dst {
		bits[i] = math.Float32bits(v)
	}
	return bits, refused
}

// TestKernelsAssemblyMatchesGo checks that the assembly row kernels give the same bits and
// refuse the same pixels as the pure-Go ones, for every transform, at several (a, b) and at
// every start offset within a block.
func TestKernelsAssemblyMatchesGo(t *testing.T) { eachAssemblyLevel(t, testKernelsAssemblyMatchesGo) }

func testKernelsAssemblyMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	src := kernelInputs(rng)
	for _, ab := range [][2]float64{{1, 0}, {0.7, -3}, {invLn10 / 1.3, -10.4 / 1.3}, {-2.5e3, 1e5}} {
		var ln lnKernel
		ln.init(ab[0], ab[1])
		tab := asinhTab()
		rows := map[string]func(dst, src []float32) int{
			"ln":    ln.row,
			"asinh": func(dst, src []float32) int { return asinhRow(tab, dst, src, ab[0], ab[1]) },
			"lin":   func(dst, src []float32) int { return linRow(dst, src, ab[0], ab[1]) },
		}
		for name, row := range rows {
			for off := range 8 {
				s := src[off:]
				got, gotBad := runRows(row, s)
				var want []uint32
				var wantBad []int
				withPureGo(func() { want, wantBad = runRows(row, s) })
				if len(gotBad) != len(wantBad) {
					t.Fatalf("%s a=%g b=%g off %d: %d refused, pure Go %d", name, ab[0], ab[1], off, len(gotBad), len(wantBad))
				}
				for i := range gotBad {
					if gotBad[i] != wantBad[i] {
						t.Fatalf("%s a=%g b=%g off %d: refused pixel %d, pure Go %d", name, ab[0], ab[1], off, gotBad[i], wantBad[i])
					}
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s a=%g b=%g off %d: pixel %d (x = %g): %g, pure Go %g", name, ab[0], ab[1], off, i,
							s[i], math.Float32frombits(got[i]), math.Float32frombits(want[i]))
					}
				}
			}
		}
	}
}

// TestAVX2Only runs the accuracy and loader reference tests with the AVX2 kernels alone, the
// path of CPUs without AVX-512.
func TestAVX2Only(t *testing.T) {
	if !useAVX512 {
		t.Skip("AVX2 is already the default path here")
	}
	useAVX512 = false
	defer func() { useAVX512 = true }()
	t.Run("accuracy", TestTransformAccuracy)
	t.Run("reference", TestNormalizedReference)
}

// TestPureGoFallback runs the accuracy and fused-variant tests on the pure-Go kernels, the
// path other CPUs and architectures take.
func TestPureGoFallback(t *testing.T) {
	withPureGo(func() {
		t.Run("accuracy", TestTransformAccuracy)
		t.Run("affineVariant", TestAffineVariant)
		t.Run("reference", TestNormalizedReference)
	})
}

// TestVariantsAssemblyMatchesGo checks the fused pass with the assembly reversal and 8x8
// column transposes against the pure-Go path, bit for bit, for every variant and transform
// at sides that are and are not multiples of 8 and 16.
func TestVariantsAssemblyMatchesGo(t *testing.T) { eachAssemblyLevel(t, testVariantsAssemblyMatchesGo) }

func testVariantsAssemblyMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	all, _ := Variants("d4")
	for _, n := range []int{8, 13, 24, 40, 256} {
		src := make([]float32, n*n)
		for i := range src {
			src[i] = float32(math.Pow(10, 6*rng.Float64()-3))
		}
		tile := make([]float32, tileLen(n))
		for _, tr := range []Transform{None, Log10, Asinh} {
			for _, v := range all {
				got, want := make([]float32, n*n), make([]float32, n*n)
				if _, bad := tr.affineVariant(got, src, tile, n, v, 0, 0.7, -3); bad != nil {
					t.Fatal(bad)
				}
				withPureGo(func() { tr.affineVariant(want, src, tile, n, v, 0, 0.7, -3) })
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n %d %s %s: pixel %d = %g, pure Go %g", n, tr, v, i, got[i], want[i])
					}
				}
			}
		}
	}
	for _, n := range []int{1, 7, 8, 9, 31, 256} {
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(i)
		}
		d := make([]float32, n)
		reverseInto(d, row)
		for i := range d {
			if d[i] != float32(n-1-i) {
				t.Fatalf("reverseInto of %d values: d[%d] = %g", n, i, d[i])
			}
		}
	}
}
