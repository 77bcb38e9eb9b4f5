package onnx

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// setup loads the fetched runtime; `make test` fetches it first, so a miss is a failure.
func setup(t testing.TB) {
	t.Helper()
	if _, err := Setup("", configs.Default().Runtime); err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
}

func TestFindLibraryExplicitMissing(t *testing.T) {
	_, err := FindLibrary("/nonexistent/libonnxruntime.so", "")
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") ||
		!strings.Contains(err.Error(), "make ort") {
		t.Fatalf("want an error naming the path and `make ort`, got %v", err)
	}
	t.Setenv(EnvLibrary, "/also/missing.so")
	if _, err := FindLibrary("", ""); err == nil || !strings.Contains(err.Error(), "/also/missing.so") {
		t.Fatalf("env path: want an error naming it, got %v", err)
	}
}

func TestProvidersCPUAndMissingCUDA(t *testing.T) {
	setup(t)
	if v := Version(); v != ORTVersion {
		t.Fatalf("runtime version %s, want %s", v, ORTVersion)
	}
	rt := configs.Default().Runtime
	p := Providers(rt)
	if p["cpu"] != nil {
		t.Fatalf("cpu provider: %v", p["cpu"])
	}
	rt.Provider = "cuda"
	_, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
	if os.Getenv("CAMELSVAE_EXPECT_CUDA") == "" {
		if err == nil || !strings.Contains(err.Error(), "cuda") || !strings.Contains(err.Error(), "libonnxruntime_providers") {
			t.Fatalf("cuda on a CPU build: want an error naming the provider library, got %v", err)
		}
		rt.Fallback = "cpu"
		s, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
		if err != nil || s.Provider != "cpu" || s.Fallback == nil {
			t.Fatalf("fallback: cpu should give a cpu session that says why, got %v", err)
		}
		s.Destroy()
		// The library reports the fallback to its caller, who prints it; it prints nothing.
		if warning, err := CheckProvider(rt); err != nil || !strings.Contains(warning, "running on the cpu") {
			t.Fatalf("CheckProvider with fallback: %q, %v", warning, err)
		}
	}
}

// TestConvLeakyGemm builds Conv(k4 s2 p1) -> LeakyRelu(0.01) -> Flatten -> Gemm as a raw
// ModelProto, runs it on the CPU provider and compares with a plain Go reference.
func TestConvLeakyGemm(t *testing.T) {
	setup(t)
	const (
		n, ci, h, co, k, out = 2, 3, 8, 4, 4, 5
		ho                   = h / 2
		feat                 = co * ho * ho
	)
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(m int) []float32 {
		v := make([]float32, m)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	x, w, b := rnd(n*ci*h*h), rnd(co*ci*k*k), rnd(co)
	gw, gb := rnd(out*feat), rnd(out)

	f := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		var d []*onnxpb.TensorShapeProto_Dimension
		for _, v := range dims {
			d = append(d, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f, Shape: &onnxpb.TensorShapeProto{Dim: d}}}}}
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(21)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("conv_leaky_gemm"),
			Node: []*onnxpb.NodeProto{
				{OpType: proto.String("Conv"), Input: []string{"x", "w", "b"}, Output: []string{"c"},
					Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", k, k), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)}},
				{OpType: proto.String("LeakyRelu"), Input: []string{"c"}, Output: []string{"a"},
					Attribute: []*onnxpb.AttributeProto{{Name: proto.String("alpha"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(0.01)}}},
				{OpType: proto.String("Flatten"), Input: []string{"a"}, Output: []string{"f"}},
				{OpType: proto.String("Gemm"), Input: []string{"f", "gw", "gb"}, Output: []string{"y"},
					Attribute: []*onnxpb.AttributeProto{{Name: proto.String("transB"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}}},
			},
			Input:  []*onnxpb.ValueInfoProto{vi("x", n, ci, h, h), vi("w", co, ci, k, k), vi("b", co), vi("gw", out, feat), vi("gb", out)},
			Output: []*onnxpb.ValueInfoProto{vi("y", n, out)},
		},
	}
	model, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(model, []string{"x", "w", "b", "gw", "gb"}, []string{"y"}, configs.Default().Runtime)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	got, shapes, err := RunFloat32(s, [][]float32{x, w, b, gw, gb},
		[][]int64{{n, ci, h, h}, {co, ci, k, k}, {co}, {out, feat}, {out}})
	if err != nil {
		t.Fatal(err)
	}
	if len(shapes[0]) != 2 || shapes[0][0] != n || shapes[0][1] != out {
		t.Fatalf("output shape %v, want [%d %d]", shapes[0], n, out)
	}

	// Go reference in float64.
	for bi := 0; bi < n; bi++ {
		act := make([]float64, feat)
		for o := 0; o < co; o++ {
			for i := 0; i < ho; i++ {
				for j := 0; j < ho; j++ {
					sum := float64(b[o])
					for c := 0; c < ci; c++ {
						for u := 0; u < k; u++ {
							for v := 0; v < k; v++ {
								yy, xx := 2*i-1+u, 2*j-1+v
								if yy < 0 || yy >= h || xx < 0 || xx >= h {
									continue
								}
								sum += float64(x[((bi*ci+c)*h+yy)*h+xx]) * float64(w[((o*ci+c)*k+u)*k+v])
							}
						}
					}
					if sum < 0 {
						sum *= 0.01
					}
					act[(o*ho+i)*ho+j] = sum
				}
			}
		}
		for o := 0; o < out; o++ {
			want := float64(gb[o])
			for q := 0; q < feat; q++ {
				want += act[q] * float64(gw[o*feat+q])
			}
			// float32 accumulation over 64 products of N(0,1) terms: 1e-4 relative is ample.
			if d := math.Abs(float64(got[0][bi*out+o]) - want); d > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("y[%d,%d] = %g, want %g", bi, o, got[0][bi*out+o], want)
			}
		}
	}
}
