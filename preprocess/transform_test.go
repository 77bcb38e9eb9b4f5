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

func TestFastLn(t *testing.T) {
	// Against the standard library over the float32 range and near the branch points;
	// 1e-12 absolute in ln, the bound of the truncated series (float32 output needs ~1e-7).
	for _, x := range []float64{1e-38, 1e-30, 1e-15, 3.7e-13, 0.5, 0.70710678, 0.70710679, 1, 1.0000001, 1.41421356, 1.41421357, 2, 10, 6.8e10, 3e14, 3.4e38} {
		if d := math.Abs(fastLn(x) - math.Log(x)); d > 1e-12 {
			t.Errorf("fastLn(%g) = %.17g, math.Log %.17g", x, fastLn(x), math.Log(x))
		}
	}
	for _, x := range []float64{-1000, -1, -1e-5, 0, 1e-9, 1e-4, 0.3, 1, 50, 1000, 1e20, 3e38} {
		if d := math.Abs(fastAsinh(x) - math.Asinh(x)); d > 1e-12*math.Max(1, math.Abs(math.Asinh(x))) {
			t.Errorf("fastAsinh(%g) = %.17g, math.Asinh %.17g", x, fastAsinh(x), math.Asinh(x))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x := math.Exp(rng.Float64()*170 - 85)
		if d := math.Abs(fastLn(x) - math.Log(x)); d > 1e-12 {
			t.Fatalf("fastLn(%g) off by %g", x, d)
		}
	}
}
