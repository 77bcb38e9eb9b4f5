package vae

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// cudaCore is the ONNX Runtime core that `make ort-cuda` fetches with the CUDA provider.
const cudaCore = "../third_party/onnxruntime-cuda/libonnxruntime.so.1.29.0"

// TestCUDACoreMatches runs the training step and the encoder of the reduced model on the CPU
// provider of the core library the CUDA provider needs (ONNX Runtime 1.29, a child process:
// one runtime per process) and of the pinned 1.30 build: every output agrees within 1e-5.
// It needs `make ort-cuda`, which `make test` does not run (330 MB).
func TestCUDACoreMatches(t *testing.T) {
	out := os.Getenv("CAMELSVAE_TEST_CORE_OUT")
	if out == "" {
		if _, err := os.Stat(cudaCore); err != nil {
			t.Skipf("%s is absent (make ort-cuda fetches it)", cudaCore)
		}
	}
	onnxtest.Setup(t)
	cfg := smallCfg(true)
	v, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 2
	r := rand.New(rand.NewPCG(7, 7))
	params := v.InitParams(3)
	x := onnxtest.Rand(r, batch*3*32*32, -1, 1)
	eps := onnxtest.Rand(r, batch*8, -1, 1)
	var in [][]float32
	var shapes [][]int64
	for i, s := range v.Params() {
		in, shapes = append(in, params[i]), append(shapes, s.Shape)
	}
	ts, err := v.TrainStep(batch)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := v.Encoder(params, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := onnxtest.Run(t, onnxtest.Session(t, ts.Name, ts.Model, ts.Inputs, ts.Outputs),
		append(in, x, eps, []float32{0.5}), append(shapes, []int64{batch, 3, 32, 32}, []int64{batch, 8}, []int64{1}))
	results = append(results, onnxtest.Run(t, onnxtest.Session(t, enc.Name, enc.Model, enc.Inputs, enc.Outputs),
		[][]float32{x}, [][]int64{{batch, 3, 32, 32}})...)
	if out != "" {
		// The child: write every output for the parent to compare.
		if v := onnx.Version(); v != "1.29.0" {
			t.Fatalf("the child loaded ONNX Runtime %s, want 1.29.0", v)
		}
		var b []byte
		for _, o := range results {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(o)))
			for _, f := range o {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
			}
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	file := filepath.Join(t.TempDir(), "outputs")
	lib, _ := filepath.Abs(cudaCore)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCUDACoreMatches$", "-test.v")
	cmd.Env = append(os.Environ(), onnx.EnvLibrary+"="+lib, "CAMELSVAE_TEST_CORE_OUT="+file)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "--- PASS") {
		t.Fatalf("the 1.29 core: %v\n%s", err, b)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range results {
		n := int(binary.LittleEndian.Uint32(b))
		if n != len(want) {
			t.Fatalf("output %d: %d values from the 1.29 core, %d here", i, n, len(want))
		}
		got := make([]float32, n)
		for j := range got {
			got[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*j:]))
		}
		b = b[4+4*n:]
		if e := onnxtest.RelErr(got, want, 1e-6); !(e <= 1e-5) {
			t.Errorf("output %d: relative difference %g between ONNX Runtime 1.29 and %s", i, e, onnx.ORTVersion)
		}
	}
	t.Logf("%d outputs of train_step and the encoder agree within 1e-5 between ONNX Runtime 1.29 and %s", len(results), onnx.ORTVersion)
}
