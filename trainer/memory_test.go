package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// sized is configs.Default at a data.size, model.width_mult and batches (configs/demo.yaml
// is 64, 0.25, 16, 32).
func sized(size int, width float64, batch, evalBatch int) configs.Config {
	cfg := configs.Default()
	cfg.Data.Size, cfg.Model.WidthMult, cfg.Train.Batch, cfg.Train.EvalBatch = size, width, batch, evalBatch
	return cfg
}

// TestEstimateCalibration keeps EstimateTraining within 15 % of the peak RSS measured
// (/usr/bin/time -v) for one-epoch `camelsvae train` runs of configs/demo.yaml with
// these overrides, CPU provider, ONNX Runtime 1.30, 2-core Xeon (the first row is the demo).
func TestEstimateCalibration(t *testing.T) {
	const mib = 1 << 20
	for _, r := range []struct {
		size       int
		width      float64
		batch, ev  int
		trainMaps  int
		measuredKB float64
	}{
		{64, 0.25, 16, 32, 324, 253864}, // configs/demo.yaml: 248 MiB
		{64, 0.25, 128, 32, 324, 714584},
		{64, 0.25, 16, 128, 324, 259432},
		{64, 1, 16, 32, 324, 849852},
		{64, 1, 64, 32, 324, 1573432},
		{64, 1, 16, 128, 324, 877368},
		{128, 1, 16, 32, 96, 1917692},
		{128, 1, 48, 32, 96, 4257176},
		{256, 1, 16, 32, 38, 6331228}, // the study's model: 6.0 GiB
	} {
		e, err := EstimateTraining(sized(r.size, r.width, r.batch, r.ev), r.trainMaps)
		if err != nil {
			t.Fatal(err)
		}
		measured := r.measuredKB * 1024
		if ratio := e.Host / measured; ratio < 0.85 || ratio > 1.15 {
			t.Errorf("%dx%d width %g batch %d eval_batch %d: estimate %.0f MiB, measured %.0f MiB (ratio %.2f)",
				r.size, r.size, r.width, r.batch, r.ev, e.Host/mib, measured/mib, ratio)
		}
	}
}

// TestCheckTraining: an absurd batch is refused before allocation with the keys and sizes
// named, a batch larger than the augmented split is refused, and the demo passes.
func TestCheckTraining(t *testing.T) {
	const machine = int64(24536678) << 10 // 23.4 GiB, in kB as /proc/meminfo gives it
	demo := sized(64, 0.25, 16, 32)
	if err := checkTraining(demo, 324, machine, true); err != nil {
		t.Fatalf("demo config refused: %v", err)
	}
	cases := []struct {
		name      string
		cfg       configs.Config
		trainMaps int
		want      []string
	}{
		{"absurd batch", sized(64, 0.25, 1_000_000_000_000, 32), 324,
			[]string{"train.batch 1000000000000 at 64x64: training needs about", "EiB", "this machine has 23.4 GiB"}},
		{"huge model", sized(256, 16, 16, 32), 324, []string{"model.width_mult 16 at 256x256", "parameters", "23.4 GiB"}},
		{"no full batch", sized(64, 0.25, 5000, 32), 324,
			[]string{"train.batch 5000", "324 maps x 6 variants (data.augment study) = 1944 images", "<= 1944"}},
		{"empty split", demo, 0, []string{"training split has no maps"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkTraining(c.cfg, c.trainMaps, machine, true)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q: want one line containing %q", err, w)
				}
			}
		})
	}
	// Without the machine's memory the size check is skipped; the batch check is not.
	if err := checkTraining(sized(64, 0.25, 1_000_000_000_000, 32), 324, 0, false); err == nil || !strings.Contains(err.Error(), "full batch") {
		t.Errorf("unknown memory: %v", err)
	}
	// A GPU provider keeps activations in device memory: only the loader's batches count.
	gpu := sized(64, 0.25, 100_000, 32)
	gpu.Runtime.Provider = "webgpu"
	if e, _ := EstimateTraining(gpu, 324); e.Host >= e.Activations || !strings.Contains(e.Driver, "data.prefetch") {
		t.Errorf("webgpu estimate counts device memory: %+v", e)
	}
}

// TestCheckGraphs: `graphs` at model.width_mult 64 (which ran out of memory) is refused.
func TestCheckGraphs(t *testing.T) {
	if err := checkGraphs(configs.Default(), 24536678<<10, true); err != nil {
		t.Fatal(err)
	}
	err := checkGraphs(sized(256, 64, 16, 32), 24536678<<10, true)
	if err == nil || !strings.Contains(err.Error(), "model.width_mult 64 at 256x256") || !strings.Contains(err.Error(), "this machine has 23.4 GiB") {
		t.Fatalf("error %v", err)
	}
}

// TestMachineMemory reads MemTotal and the smaller of it and the cgroup limits.
func TestMachineMemory(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemTotal:       24683652 kB\nMemFree:        23352016 kB\n")
	self := write("self", "4:memory:/box\n0::/user/job\n")
	root := filepath.Join(dir, "cg")
	if got, ok := machineMemory(meminfo, self, root); !ok || got != 24683652<<10 {
		t.Fatalf("no cgroup files: %d %v", got, ok)
	}
	write("cg/user/memory.max", "max\n")
	write("cg/user/job/memory.max", "8589934592\n")
	if got, _ := machineMemory(meminfo, self, root); got != 8<<30 {
		t.Fatalf("cgroup v2 limit: got %d", got)
	}
	write("cg/memory/box/memory.limit_in_bytes", "4294967296\n")
	if got, _ := machineMemory(meminfo, self, root); got != 4<<30 {
		t.Fatalf("cgroup v1 limit: got %d", got)
	}
	if _, ok := machineMemory(filepath.Join(dir, "none"), self, root); ok {
		t.Fatal("unreadable meminfo must skip the check")
	}
	if got, ok := MachineMemory(); ok && got <= 0 {
		t.Fatalf("this machine: %d", got)
	}
}

func TestFormatBytes(t *testing.T) {
	for b, want := range map[float64]string{512: "512 B", 1536: "1.5 KiB", 23.4 * (1 << 30): "23.4 GiB", 3.1 * (1 << 50): "3.1 PiB"} {
		if got := FormatBytes(b); got != want {
			t.Errorf("FormatBytes(%g) = %q, want %q", b, got, want)
		}
	}
}
