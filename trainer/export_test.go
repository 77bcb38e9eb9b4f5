package trainer

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/vae"
)

// repoRoot finds the module root (where `make` puts third_party/).
func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory")
		}
	}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// TestExportSecondConsumer exports a trained encoder and runs it with onnxruntime-node (a
// second ONNX consumer): mu equals our Go path within 1e-5. The reference checker
// (python3-onnx) accepts both models. `make test` installs both tools; the test skips with
// a message only when one is absent.
func TestExportSecondConsumer(t *testing.T) {
	onnxtest.Setup(t)
	c := tinyConfig()
	c.Train.Epochs = 1
	tr, val := feeds(c)
	run := t.TempDir()
	res, err := Train(context.Background(), Options{Config: c, Run: run, Train: tr, Val: val})
	if err != nil {
		t.Fatal(err)
	}
	stats := &preprocess.Stats{Fields: []string{"Mgas", "Vgas", "B"}, Transforms: []string{"log10", "asinh", "log10"}, Mean: []float64{10.4, 2, -12.5}, Std: []float64{0.6, 1, 1.2}, Size: 32}
	dir := filepath.Join(run, "export")
	if err := Export(dir, c, res.Params, stats); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, EncoderFile)
	model, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{vae.OutMu, vae.OutLogvar}
	s, err := onnx.NewSession(model, []string{vae.InX}, outs, c.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	const n = 3
	S := int64(c.Data.Size)
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*3*S*S)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	got, _, err := onnx.RunFloat32(s, [][]float32{x}, [][]int64{{n, 3, S, S}})
	if err != nil {
		t.Fatal(err)
	}
	mu := got[0]

	t.Run("onnxruntime-node", func(t *testing.T) {
		node, err := exec.LookPath("node")
		mod := filepath.Join(repoRoot(t), "third_party", "node", "node_modules", "onnxruntime-node")
		if err != nil {
			t.Skip("node is not installed; `make test` needs it (apt-get install nodejs)")
		}
		if _, err := os.Stat(mod); err != nil {
			t.Skip("onnxruntime-node is absent; `make node-deps` installs it")
		}
		tmp := t.TempDir()
		xp, op := filepath.Join(tmp, "x.f32"), filepath.Join(tmp, "mu.f32")
		if err := os.WriteFile(xp, f32bytes(x), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "testdata/run_encoder.js", mod, enc, xp, "3", "3", strconv.Itoa(int(S)), op)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		b, err := os.ReadFile(op)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 4*len(mu) {
			t.Fatalf("node returned %d values, want %d", len(b)/4, len(mu))
		}
		for i := range mu {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			if d := math.Abs(float64(v - mu[i])); d > 1e-5 {
				t.Fatalf("mu[%d]: onnxruntime-node %g, Go %g (|diff| %g > 1e-5)", i, v, mu[i], d)
			}
		}
	})
	t.Run("onnx.checker", func(t *testing.T) {
		py := "/usr/bin/python3"
		if exec.Command(py, "-c", "import onnx").Run() != nil {
			t.Skip("python3-onnx is not installed; `make apt-deps` installs it")
		}
		out, err := exec.Command(py, "testdata/check_model.py", enc, filepath.Join(dir, DecoderFile)).CombinedOutput()
		if err != nil {
			t.Fatalf("onnx.checker rejected the export: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	})
	t.Run("metadata", func(t *testing.T) {
		if m := string(model); !strings.Contains(m, "camelsvae.stats") || !strings.Contains(m, "10.4") || !strings.Contains(m, "camelsvae.transforms") {
			t.Fatal("the encoder's metadata lacks the normalisation statistics")
		}
	})
}
