package trainer

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/vae"
)

// Memory estimates, so that a config too large for the machine is refused with a message
// naming its keys before anything is allocated (an absurd train.batch used to die of
// out-of-memory in newHostStepper or ONNX Runtime with a 200-line dump).
//
// The constants below were fitted to the peak RSS (/usr/bin/time -v, maximum resident set
// size) of one-epoch `camelsvae train` runs of configs/demo.yaml with data.size,
// model.width_mult, train.batch and train.eval_batch overridden, on the CPU provider (ONNX
// Runtime 1.30, 2-core Xeon, 324 training maps, 41 validation). See TestEstimateCalibration
// for the measured runs and the estimates beside them (within 15 %), configs/demo.yaml
// (64x64, width 0.25, batch 16) among them.
const (
	// trainActSmall and trainActLarge are train_step's memory per image in multiples of the
	// forward pass's float32 tensors (the activations kept for the backward pass, their
	// gradients, the CPU lowering's shifted copies, SSIM's moment maps) at 64x64 and from
	// 128x128 up, where more layers take the per-image lowerings: slopes over train.batch of
	// 6.3 at 64x64 (widths 0.25 and 1, batch 16 to 64 and 128) and 7.7 at 128x128 (16 to 48).
	trainActSmall = 6.3
	trainActLarge = 7.7
	// evalActPerForward is eval_step's memory per image of train.eval_batch, in the same unit
	// (forward only; ONNX Runtime reuses buffers). Fitted over train.eval_batch 32 and 128.
	evalActPerForward = 1.2
	// stateFloatsPerParam: the starting Tensors (params, m, v), the stepper's two sides of
	// params, m and v, and the gradients; plus about 0.2 for the optimizer's temporaries.
	stateFloatsPerParam = 10.2
	// graphsBytesPerParam: the `graphs` command's initial weights, the encoder's and decoder's
	// initializers and their serialised bytes (measured 12.4-13.3 bytes/parameter).
	graphsBytesPerParam = 12
	// baseTrainBytes is the Go runtime, ONNX Runtime's library and sessions and the graphs'
	// bytes; baseGraphsBytes the same without ONNX Runtime.
	baseTrainBytes  = 100 << 20
	baseGraphsBytes = 48 << 20
)

// MemoryEstimate is the peak host memory a command needs, by part, in bytes.
type MemoryEstimate struct {
	// Params is the model's parameter count.
	Params int64
	// State is the parameters, gradients and Adam moments with the trainer's double buffers
	// (training), or the baked weights and serialised models (graphs).
	State float64
	// Activations is train_step's tensors for train.batch images; Eval is eval_step's for
	// train.eval_batch. With a GPU provider they live in device memory and are not counted in
	// Host.
	Activations, Eval float64
	// Loader is the prefetched batches of the training and validation loaders and their
	// caches of normalised maps (bounded by data.cache_mb).
	Loader float64
	// Base is the runtime and libraries.
	Base float64
	// Host is what the machine's memory must hold: the sum of the parts in host memory.
	Host float64
	// Driver names the config keys behind the largest part, for messages.
	Driver string
}

// forwardFloats is the number of float32 values of one image's forward pass through the
// model of cfg: input, every layer's output (vae/model.go), the skip concatenations and the
// latent vectors.
func forwardFloats(cfg configs.Config) float64 {
	s := float64(cfg.Data.Size)
	ch := cfg.Model.ChannelWidths()
	c := func(i int) float64 { return float64(ch[i]) }
	side := func(level int) float64 { v := s / math.Exp2(float64(level)); return v * v }
	nc := float64(len(cfg.Data.Fields))
	total := nc * side(0) // x
	for i := range 5 {
		total += c(i) * side(i+1) // enc.conv1..5
	}
	total += 3 * float64(cfg.Model.Latent) // mu, logvar, z
	total += c(4) * side(5)                // dec.fc
	for i := range 4 {
		out, level := c(3-i), 4-i
		total += 2 * out * side(level) // dec.up, dec.refine
		if cfg.Model.Skips {
			total += 2 * out * side(level) // the concatenation with h
		}
	}
	total += 2 * c(0) * side(0) // dec.up5, dec.refine5
	return total + nc*side(0)   // dec.out
}

// trainActPerForward is trainActSmall up to 64x64 and trainActLarge from 128x128.
func trainActPerForward(size int) float64 {
	if size <= 64 {
		return trainActSmall
	}
	return trainActLarge
}

// EstimateTraining estimates the peak memory of `train` for cfg with trainMaps training maps
// (the validation split is taken as data.val_frac/data.train_frac of it), without allocating
// any of it. It returns an error only for a config graphs.New refuses.
func EstimateTraining(cfg configs.Config, trainMaps int) (MemoryEstimate, error) {
	v, err := vae.FromConfig(cfg)
	if err != nil {
		return MemoryEstimate{}, err
	}
	enc, dec := v.ParamCount()
	p := enc + dec
	s := float64(cfg.Data.Size)
	mapBytes := 4 * float64(len(cfg.Data.Fields)) * s * s
	fwd := 4 * forwardFloats(cfg)
	e := MemoryEstimate{
		Params:      p,
		State:       4 * stateFloatsPerParam * float64(p),
		Activations: trainActPerForward(cfg.Data.Size) * fwd * float64(cfg.Train.Batch),
		Base:        baseTrainBytes,
	}
	valMaps := 0.0
	if cfg.Data.TrainFrac > 0 {
		valMaps = math.Ceil(float64(trainMaps) * cfg.Data.ValFrac / cfg.Data.TrainFrac)
	}
	evalImages := math.Min(float64(cfg.Train.EvalBatch), math.Max(1, valMaps))
	e.Eval = evalActPerForward * fwd * evalImages
	// Each loader holds up to Prefetch queued batches, one being filled and one in use.
	inFlight := float64(max(1, cfg.Data.Prefetch) + 2)
	cache := float64(cfg.Data.CacheMB) * (1 << 20)
	e.Loader = inFlight*mapBytes*(float64(cfg.Train.Batch)+evalImages) +
		math.Min(cache, float64(trainMaps)*mapBytes) + math.Min(cache, valMaps*mapBytes)
	e.Host = e.State + e.Loader + e.Base
	if cfg.Runtime.Provider == "cpu" {
		e.Host += e.Activations + e.Eval
	}
	size := fmt.Sprintf("at %dx%d", cfg.Data.Size, cfg.Data.Size)
	parts := []struct {
		bytes  float64
		driver string
	}{
		{e.Activations, fmt.Sprintf("train.batch %d %s", cfg.Train.Batch, size)},
		{e.Eval, fmt.Sprintf("train.eval_batch %d %s", cfg.Train.EvalBatch, size)},
		{e.State, fmt.Sprintf("model.width_mult %g %s (%d parameters)", cfg.Model.WidthMult, size, p)},
		{e.Loader, fmt.Sprintf("train.batch %d, data.prefetch %d and data.cache_mb %d %s", cfg.Train.Batch, cfg.Data.Prefetch, cfg.Data.CacheMB, size)},
	}
	if cfg.Runtime.Provider != "cpu" {
		parts = parts[2:] // activations are in device memory
	}
	best := -1.0
	for _, pt := range parts {
		if pt.bytes > best {
			best, e.Driver = pt.bytes, pt.driver
		}
	}
	return e, nil
}

// EstimateGraphs estimates the peak memory of the `graphs` command for cfg: the initial
// weights baked into encoder.onnx and decoder.onnx (the training graphs take them as inputs
// and have no batch-sized constants).
func EstimateGraphs(cfg configs.Config) (MemoryEstimate, error) {
	v, err := vae.FromConfig(cfg)
	if err != nil {
		return MemoryEstimate{}, err
	}
	enc, dec := v.ParamCount()
	p := enc + dec
	e := MemoryEstimate{Params: p, State: graphsBytesPerParam * float64(p), Base: baseGraphsBytes,
		Driver: fmt.Sprintf("model.width_mult %g at %dx%d (%d parameters)", cfg.Model.WidthMult, cfg.Data.Size, cfg.Data.Size, p)}
	e.Host = e.State + e.Base
	return e, nil
}

// CheckTraining refuses, before anything is allocated, a training run that cannot work:
// a train.batch larger than the training split's images (trainMaps x data.augment's
// variants: there would be no full batch, and train_step's batch is static), or an
// estimated peak (EstimateTraining) above this machine's memory (MachineMemory; skipped
// where that cannot be read). Errors are one line naming the keys.
func CheckTraining(cfg configs.Config, trainMaps int) error {
	avail, ok := MachineMemory()
	return checkTraining(cfg, trainMaps, avail, ok)
}

// CheckTrainingMemory is CheckTraining's memory check alone, for what runs training steps
// without a training split (bench: trainMaps 0).
func CheckTrainingMemory(cfg configs.Config, trainMaps int) error {
	avail, ok := MachineMemory()
	return checkTrainingMemory(cfg, trainMaps, avail, ok)
}

func checkTrainingMemory(cfg configs.Config, trainMaps int, avail int64, known bool) error {
	if !known {
		return nil
	}
	e, err := EstimateTraining(cfg, trainMaps)
	if err != nil {
		return err
	}
	if e.Host > float64(avail) {
		return fmt.Errorf("%s: training needs about %s, this machine has %s", e.Driver, FormatBytes(e.Host), FormatBytes(float64(avail)))
	}
	return nil
}

func checkTraining(cfg configs.Config, trainMaps int, avail int64, known bool) error {
	if err := checkTrainingMemory(cfg, trainMaps, avail, known); err != nil {
		return err
	}
	variants, err := preprocess.Variants(cfg.Data.Augment)
	if err != nil {
		return fmt.Errorf("data.augment: %w", err)
	}
	if trainMaps <= 0 {
		return fmt.Errorf("the training split has no maps (data.train_frac %g of data.train_set %s)", cfg.Data.TrainFrac, cfg.Data.TrainSet)
	}
	if images := trainMaps * len(variants); cfg.Train.Batch > images {
		return fmt.Errorf("train.batch %d: the training split has %d maps x %d variants (data.augment %s) = %d images, want train.batch <= %d for one full batch",
			cfg.Train.Batch, trainMaps, len(variants), cfg.Data.Augment, images, images)
	}
	return nil
}

// CheckGraphs refuses a `graphs` run whose estimated peak (EstimateGraphs) exceeds this
// machine's memory, before the weights are drawn.
func CheckGraphs(cfg configs.Config) error {
	avail, ok := MachineMemory()
	return checkGraphs(cfg, avail, ok)
}

func checkGraphs(cfg configs.Config, avail int64, known bool) error {
	if !known {
		return nil
	}
	e, err := EstimateGraphs(cfg)
	if err != nil {
		return err
	}
	if e.Host > float64(avail) {
		return fmt.Errorf("%s: the graphs need about %s, this machine has %s", e.Driver, FormatBytes(e.Host), FormatBytes(float64(avail)))
	}
	return nil
}

// MachineMemory is the memory this process may use: MemTotal of /proc/meminfo, or the
// cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes) when that is smaller. ok is false
// where /proc/meminfo cannot be read (not Linux): the checks are then skipped.
func MachineMemory() (bytes int64, ok bool) {
	return machineMemory("/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup")
}

func machineMemory(meminfo, selfCgroup, cgroupRoot string) (int64, bool) {
	total, ok := memTotal(meminfo)
	if !ok {
		return 0, false
	}
	for _, limit := range cgroupLimits(selfCgroup, cgroupRoot) {
		if limit > 0 && limit < total {
			total = limit
		}
	}
	return total, true
}

// memTotal reads MemTotal (kB) from a meminfo file.
func memTotal(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}

// cgroupLimits returns the memory limits that apply to this process: memory.max of its
// cgroup v2 and every ancestor (at the root and, on hybrid systems, under unified/), and
// memory.limit_in_bytes of its v1 memory cgroup. "max" and unreadable files are skipped.
func cgroupLimits(selfCgroup, root string) []int64 {
	b, err := os.ReadFile(selfCgroup)
	if err != nil {
		return nil
	}
	var out []int64
	read := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			out = append(out, v)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			for _, mount := range []string{root, filepath.Join(root, "unified")} {
				for dir := filepath.Clean("/" + parts[2]); ; dir = filepath.Dir(dir) {
					read(filepath.Join(mount, dir, "memory.max"))
					if dir == "/" {
						break
					}
				}
			}
		case strings.Contains(","+parts[1]+",", ",memory,"):
			read(filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"))
			read(filepath.Join(root, "memory", "memory.limit_in_bytes"))
		}
	}
	return out
}

// FormatBytes writes a byte count with a binary unit and one decimal (3.1 PiB, 23.4 GiB).
func FormatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
