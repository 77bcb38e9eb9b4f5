package preprocess

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestTransformApply(t *testing.T) {
	src := []float32{1, 10, 1e10, 0.5}
	dst := make([]float32, 4)
	if f, bad := Log10.apply(dst, src, 0); f != 0 || bad != nil {
		t.Fatal(f, bad)
	}
	want := []float32{0, 1, 10, float32(math.Log10(0.5))}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Errorf("log10(%g) = %g, want %g", src[i], dst[i], want[i])
		}
	}
	Log10.Inverse(dst)
	for i := range src {
		if math.Abs(float64(dst[i]/src[i]-1)) > 1e-6 {
			t.Errorf("inverse log10: %g, want %g", dst[i], src[i])
		}
	}
	if _, bad := Asinh.apply(dst, []float32{0, 1, -3, 1000}, 0); bad != nil || math.Abs(float64(dst[3])-math.Asinh(1000)) > 1e-6 {
		t.Errorf("asinh: %v %v", dst, bad)
	}
	// A zero and a negative value: an error without floor, floored and counted with one.
	src = []float32{5, 0, -1, 100}
	if _, bad := Log10.apply(dst, src, 0); bad == nil || bad.pixel != 1 || !strings.Contains(bad.why, "log_floor") {
		t.Errorf("no floor: %+v", bad)
	}
	if f, bad := Log10.apply(dst, src, 1e-3); bad != nil || f != 2 || dst[1] != -3 || dst[2] != -3 {
		t.Errorf("floor: %d %+v %v", f, bad, dst)
	}
	for _, tr := range []Transform{None, Log10, Asinh} {
		for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			if _, bad := tr.apply(dst[:2], []float32{1, v}, 1e-3); bad == nil || bad.pixel != 1 || bad.why != "not finite" {
				t.Errorf("%s of %g: %+v", tr, v, bad)
			}
		}
	}
	if _, err := ParseTransform("log"); err == nil {
		t.Error("ParseTransform(log) accepted")
	}
}

func TestApplyVariantNumpy(t *testing.T) {
	// Expected from /usr/bin/python3 with numpy 1.24: np.rot90(a, k), np.fliplr, np.flipud,
	// a.T and np.rot90(a, 2).T of a = np.arange(9).reshape(3, 3).
	want := map[Variant][]float32{
		Identity:      {0, 1, 2, 3, 4, 5, 6, 7, 8},
		Rot90:         {2, 5, 8, 1, 4, 7, 0, 3, 6},
		Rot180:        {8, 7, 6, 5, 4, 3, 2, 1, 0},
		Rot270:        {6, 3, 0, 7, 4, 1, 8, 5, 2},
		FlipH:         {2, 1, 0, 5, 4, 3, 8, 7, 6},
		FlipV:         {6, 7, 8, 3, 4, 5, 0, 1, 2},
		Transpose:     {0, 3, 6, 1, 4, 7, 2, 5, 8},
		AntiTranspose: {8, 5, 2, 7, 4, 1, 6, 3, 0},
	}
	src := want[Identity]
	all, _ := Variants("d4")
	for _, v := range all {
		dst := make([]float32, 9)
		ApplyVariant(dst, src, 3, v)
		if !slices.Equal(dst, want[v]) {
			t.Errorf("%s: %v, want %v", v, dst, want[v])
		}
	}
	if s, _ := Variants("study"); len(s) != 6 {
		t.Errorf("study has %d variants, want 6", len(s))
	}
	if _, err := Variants("all"); err == nil {
		t.Error("Variants(all) accepted")
	}
}

func TestDownsample(t *testing.T) {
	src := []float32{
		1, 3, 10, 30,
		5, 7, 50, 70,
		1e10, 1e10, 0, 0,
		1e10, 3e10, 4, 4,
	}
	dst := make([]float32, 4)
	downsample(dst, src, 4, 2)
	want := []float32{4, 40, 1.5e10, 2}
	if !slices.Equal(dst, want) {
		t.Errorf("downsample %v, want %v", dst, want)
	}
}

func TestKernelTables(t *testing.T) {
	// Every float32 that lands in ln subinterval i lies within 2^-8 relative of its centre,
	// and 1.0 starts a subinterval (so ln near 1 does not mix two binades).
	for i, e := range lnTab {
		lo := float64(math.Float32frombits(lnOff + uint32(i)<<(23-lnBits)))
		hi := float64(math.Float32frombits(lnOff + uint32(i+1)<<(23-lnBits)))
		if r := max(math.Abs(lo*e.invc-1), math.Abs(hi*e.invc-1)); r > 1.0/256 {
			t.Errorf("ln subinterval %d [%g, %g): |r| up to %g", i, lo, hi, r)
		}
	}
	if (math.Float32bits(1)-lnOff)%(1<<(23-lnBits)) != 0 {
		t.Error("1.0 is not a subinterval boundary")
	}
	// asinh entries against math.Asinh at both ends of their subintervals: the cubic is
	// within 1e-10 (the bound is 6e-11).
	tab := asinhTab()
	for i := range tab {
		ix := uint32(0x3f000000 + i<<(23-lnBits))
		for _, x := range []float32{math.Float32frombits(ix), math.Float32frombits(ix + 1<<(23-lnBits) - 1)} {
			h := float64(x - asinhCentre(ix))
			e := tab[i]
			if d := math.Abs(e[0] + h*(e[1]+h*(e[2]+h*e[3])) - math.Asinh(float64(x))); d > 1e-10 {
				t.Errorf("asinh entry %d at %g: off by %g", i, x, d)
			}
		}
	}
}

// TestTransformAccuracy checks the float32 row kernels (through apply) against math.Log10
// and math.Asinh in float64 over the CMD ranges (CMD's ranges: Mgas ~1e8-1e15, B ~1e-16-1e-3,
// Vgas 1-2000) and the whole float32 range: relative error <= 2e-7 where |result| > 1,
// absolute <= 1e-6 otherwise. Rounding to float32 alone costs up to 6e-8 relative, so the
// measured maxima (logged) say how much the kernels add.
func TestTransformAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name   string
		tr     Transform
		lo, hi float64 // log10 of the range of |x|
		signed bool
		// minExact is the least fraction of results equal to float32(float64 result): a
		// kernel error near 1e-10 leaves almost all of them so, one near 1e-8 would not.
		// Near x = 1 the results are ~1e-3, whose float32 spacing is ~1e-10.
		minExact float64
	}{
		{"Mgas", Log10, 8, 15, false, 0.999},
		{"B", Log10, -16, -3, false, 0.999},
		{"near 1", Log10, -0.01, 0.01, false, 0.95},
		{"float32", Log10, -45, 38.5, false, 0.999},
		{"subnormal", Log10, -45, -37.9, false, 0.999},
		{"Vgas", Asinh, 0, 3.3, false, 0.999},
		{"asinh small", Asinh, -8, 0, true, 0.999},
		{"asinh float32", Asinh, -45, 38.5, true, 0.999},
	}
	const n = 1 << 16
	src, dst := make([]float32, n), make([]float32, n)
	for _, tc := range cases {
		for i := range src {
			x := float32(math.Pow(10, tc.lo+(tc.hi-tc.lo)*rng.Float64()))
			if x == 0 || x > math.MaxFloat32 {
				x = 1
			}
			if tc.signed && rng.IntN(2) == 0 {
				x = -x
			}
			src[i] = x
		}
		if _, bad := tc.tr.apply(dst, src, 0); bad != nil {
			t.Fatalf("%s: %+v", tc.name, bad)
		}
		var maxRel, maxAbs float64
		exact := 0
		for i, x := range src {
			var want float64
			if tc.tr == Log10 {
				want = math.Log10(float64(x))
			} else {
				want = math.Asinh(float64(x))
			}
			d := math.Abs(float64(dst[i]) - want)
			if math.Abs(want) > 1 {
				maxRel = max(maxRel, d/math.Abs(want))
			} else {
				maxAbs = max(maxAbs, d)
			}
			if dst[i] == float32(want) {
				exact++
			}
			if math.Abs(want) > 1 && d > 2e-7*math.Abs(want) || math.Abs(want) <= 1 && d > 1e-6 {
				t.Fatalf("%s: %s(%g) = %g, float64 %.10g", tc.name, tc.tr, x, dst[i], want)
			}
		}
		if float64(exact)/n < tc.minExact {
			t.Errorf("%s: %d of %d results are float32(float64 result), want >= %g", tc.name, exact, n, tc.minExact)
		}
		t.Logf("%-14s max rel %.2g (|y| > 1), max abs %.2g (|y| <= 1), %.4f%% rounded as float32(float64 result)",
			tc.name, maxRel, maxAbs, 100*float64(exact)/n)
	}
}

func TestAffineVariant(t *testing.T) {
	// The fused pass equals affine then ApplyVariant exactly (same arithmetic per pixel),
	// for every variant and transform, at an odd and an even side.
	rng := rand.New(rand.NewPCG(5, 6))
	all, _ := Variants("d4")
	for _, n := range []int{7, 16, 37} {
		src := make([]float32, n*n)
		for i := range src {
			src[i] = float32(math.Pow(10, 6*rng.Float64()-3))
		}
		for _, tr := range []Transform{None, Log10, Asinh} {
			plain := make([]float32, n*n)
			if _, bad := tr.affine(plain, src, 0, 0.7, -3); bad != nil {
				t.Fatal(bad)
			}
			for _, v := range all {
				want, got := make([]float32, n*n), make([]float32, n*n)
				ApplyVariant(want, plain, n, v)
				if _, bad := tr.affineVariant(got, src, make([]float32, tileLen(n)), n, v, 0, 0.7, -3); bad != nil {
					t.Fatal(bad)
				}
				if !slices.Equal(got, want) {
					t.Errorf("n %d %s %s: fused %v, want %v", n, tr, v, got, want)
				}
			}
		}
	}
	// The first bad value in src's row-major order is reported, with the values floored
	// before it, whatever the variant: pixels 6 (0), 9 (NaN) and 13 (-1) of a 4 x 4 map.
	src := make([]float32, 16)
	for i := range src {
		src[i] = 1
	}
	src[6], src[9], src[13] = 0, float32(math.NaN()), -1
	for _, v := range all {
		f, bad := Log10.affineVariant(make([]float32, 16), src, make([]float32, tileLen(4)), 4, v, 1e-3, 1, 0)
		if bad == nil || bad.pixel != 9 || f != 1 {
			t.Errorf("%s: %+v after %d floored, want pixel 9 after 1", v, bad, f)
		}
	}
}
