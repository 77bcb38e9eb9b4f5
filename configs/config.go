// Package configs holds the run configuration schema: Go structs with the study's defaults,
// validation with messages that name the offending key, and the YAML files shipped beside it.
//
// The YAML keys are the `mapstructure` tags below. Every key has a default (Default), so an
// environment variable CAMELSVAE_SECTION_KEY can override any of them. configs imports nothing
// of ours; every other package may import it.
package configs

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Config is one run's complete configuration.
type Config struct {
	// Seed drives every random choice of a run: splits, shuffles, initial weights, noise.
	Seed    int64   `mapstructure:"seed" yaml:"seed"`
	Data    Data    `mapstructure:"data" yaml:"data"`
	Synth   Synth   `mapstructure:"synth" yaml:"synth"`
	Model   Model   `mapstructure:"model" yaml:"model"`
	Loss    Loss    `mapstructure:"loss" yaml:"loss"`
	Train   Train   `mapstructure:"train" yaml:"train"`
	PCA     PCA     `mapstructure:"pca" yaml:"pca"`
	Eval    Eval    `mapstructure:"eval" yaml:"eval"`
	Runtime Runtime `mapstructure:"runtime" yaml:"runtime"`
}

// Data says where the CMD files are and how maps become model inputs.
type Data struct {
	// Dir holds Maps_{field}_{suite}_{set}_z=0.00.npy and params_{set}_{suite}.txt.
	Dir   string `mapstructure:"dir" yaml:"dir"`
	Suite string `mapstructure:"suite" yaml:"suite"`
	// TrainSet is split into train/val/test; TestSet is the out-of-distribution test set.
	TrainSet string `mapstructure:"train_set" yaml:"train_set"`
	TestSet  string `mapstructure:"test_set" yaml:"test_set"`
	// Size is the side of the maps the model sees; files with a larger side (a multiple of
	// Size) are area-averaged down (256 -> 64 averages 4x4 blocks).
	Size int `mapstructure:"size" yaml:"size"`
	// Fields are the CMD fields stacked as the model's channels, in order, each with the
	// transform applied before z-scoring: log10, asinh or none. The study's: Mgas log10, Vgas
	// asinh, B log10. In an environment variable or flag: "Mgas:log10,Vgas:asinh,B:log10".
	Fields []Field `mapstructure:"fields" yaml:"fields"`
	// Transforms is the old form of Fields for the study's three channels; a config that
	// sets it loads as the matching Fields, with a warning.
	Transforms Transforms `mapstructure:"transforms" yaml:"transforms,omitempty"`
	// LogFloor, when > 0, replaces non-positive values of a log10 channel by this floor (and
	// counts them in a warning); 0 makes such a value an error.
	LogFloor float64 `mapstructure:"log_floor" yaml:"log_floor"`
	// Split fractions of TrainSet and whether to split by map (the study) or by simulation.
	TrainFrac float64 `mapstructure:"train_frac" yaml:"train_frac"`
	ValFrac   float64 `mapstructure:"val_frac" yaml:"val_frac"`
	SplitBy   string  `mapstructure:"split_by" yaml:"split_by"`
	// TrainMaps limits the TrainSet to its first N maps before splitting (0 = all).
	TrainMaps int `mapstructure:"train_maps" yaml:"train_maps"`
	// TestMaps is the size of the TestSet subset (the study: 1000); 0 means all.
	TestMaps int `mapstructure:"test_maps" yaml:"test_maps"`
	// Augment: none, study (identity, rot90/180/270, flip h, flip v) or d4 (all 8).
	Augment string `mapstructure:"augment" yaml:"augment"`
	// Workers is the loader's errgroup limit; Prefetch the number of batches read ahead.
	Workers  int `mapstructure:"workers" yaml:"workers"`
	Prefetch int `mapstructure:"prefetch" yaml:"prefetch"`
	// CacheMB bounds the loader's in-memory cache of normalised training and validation
	// maps (each is read once instead of once per augmented variant and epoch); 0 disables it.
	CacheMB int `mapstructure:"cache_mb" yaml:"cache_mb"`
}

// Field is one CMD field and its transform.
type Field struct {
	Name      string `mapstructure:"name" yaml:"name"`
	Transform string `mapstructure:"transform" yaml:"transform"`
}

// CMDFields are the fields of the CAMELS Multifield Dataset's 2D maps: gas density,
// velocity, temperature, pressure, metallicity, neutral hydrogen density, electron density,
// magnetic field, magnesium over iron, dark matter density and velocity, stellar mass
// density, total matter density, and total matter of the N-body counterpart (whose files are
// Maps_Mtot_Nbody_SUITE_SET_z=0.00.npy).
var CMDFields = []string{"Mgas", "Vgas", "T", "P", "Z", "HI", "ne", "B", "MgFe", "Mcdm", "Vcdm", "Mstar", "Mtot", "Mtot_Nbody"}

// StudyFields are the study's channels and transforms, the default.
func StudyFields() []Field {
	return []Field{{"Mgas", "log10"}, {"Vgas", "asinh"}, {"B", "log10"}}
}

// FieldNames returns the fields' names in channel order.
func (d Data) FieldNames() []string { return Names(d.Fields) }

// Names returns the names of fields, in order.
func Names(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// Transforms names the per-channel transform of the study's three channels: the old form
// of Data.Fields.
type Transforms struct {
	Mgas string `mapstructure:"mgas" yaml:"mgas,omitempty"`
	Vgas string `mapstructure:"vgas" yaml:"vgas,omitempty"`
	B    string `mapstructure:"b" yaml:"b,omitempty"`
}

// Synth configures the CAMELS-like generator used when real CMD files are absent.
type Synth struct {
	Sets []string `mapstructure:"sets" yaml:"sets"`
	// LHSims is how many LH simulations to generate (of 1000); 0 means all.
	LHSims int `mapstructure:"lh_sims" yaml:"lh_sims"`
	// CVSims is how many CV simulations to generate (of 27); 0 means all.
	CVSims  int   `mapstructure:"cv_sims" yaml:"cv_sims"`
	Size    int   `mapstructure:"size" yaml:"size"`
	Seed    int64 `mapstructure:"seed" yaml:"seed"`
	Workers int   `mapstructure:"workers" yaml:"workers"`
}

// Model is the VAE's architecture (docs/study.md).
type Model struct {
	// Widths of the five encoder convolutions before WidthMult is applied.
	Widths    []int   `mapstructure:"widths" yaml:"widths"`
	WidthMult float64 `mapstructure:"width_mult" yaml:"width_mult"`
	Latent    int     `mapstructure:"latent" yaml:"latent"`
	// Skips hands the decoder the encoder's h1..h4 (the study's U-Net-like model).
	Skips      bool    `mapstructure:"skips" yaml:"skips"`
	LeakySlope float64 `mapstructure:"leaky_slope" yaml:"leaky_slope"`
}

// MaxSize bounds data.size and synth.size (CMD maps are 256): beyond it the model's sizes
// overflow int64.
const MaxSize = 1 << 16

// MaxChannels bounds every layer's width after model.width_mult (Validate): far above the
// study's 512, far below what overflows ChannelWidths.
const MaxChannels = 65536

// ChannelWidths returns the five encoder widths after the multiplier (at least 1 each).
func (m Model) ChannelWidths() []int {
	out := make([]int, len(m.Widths))
	for i, w := range m.Widths {
		out[i] = max(1, int(math.Round(float64(w)*m.WidthMult)))
	}
	return out
}

// Loss is total = MSEWeight*MSE + SSIMWeight*(1-SSIM) + kl_weight*KL with free bits.
type Loss struct {
	MSEWeight  float64 `mapstructure:"mse_weight" yaml:"mse_weight"`
	SSIMWeight float64 `mapstructure:"ssim_weight" yaml:"ssim_weight"`
	// Beta is the final KL weight, reached linearly over WarmupEpochs.
	Beta         float64 `mapstructure:"beta" yaml:"beta"`
	WarmupEpochs int     `mapstructure:"warmup_epochs" yaml:"warmup_epochs"`
	FreeBits     float64 `mapstructure:"free_bits" yaml:"free_bits"`
	DataRange    float64 `mapstructure:"data_range" yaml:"data_range"`
	SSIMWindow   int     `mapstructure:"ssim_window" yaml:"ssim_window"`
	SSIMSigma    float64 `mapstructure:"ssim_sigma" yaml:"ssim_sigma"`
}

// Train is the optimisation schedule.
type Train struct {
	Epochs    int     `mapstructure:"epochs" yaml:"epochs"`
	Batch     int     `mapstructure:"batch" yaml:"batch"`
	LR        float64 `mapstructure:"lr" yaml:"lr"`
	Beta1     float64 `mapstructure:"beta1" yaml:"beta1"`
	Beta2     float64 `mapstructure:"beta2" yaml:"beta2"`
	Eps       float64 `mapstructure:"eps" yaml:"eps"`
	Patience  int     `mapstructure:"patience" yaml:"patience"`
	KeepLast  int     `mapstructure:"keep_last" yaml:"keep_last"`
	EvalBatch int     `mapstructure:"eval_batch" yaml:"eval_batch"`
}

// PCA is the baseline of the same latent size.
type PCA struct {
	Components int    `mapstructure:"components" yaml:"components"`
	Solver     string `mapstructure:"solver" yaml:"solver"` // exact or randomized
	Oversample int    `mapstructure:"oversample" yaml:"oversample"`
	PowerIters int    `mapstructure:"power_iters" yaml:"power_iters"`
	// Engine runs the products over the maps: auto (ONNX Runtime's MLAS for large fits when
	// the runtime is loaded, else gonum), gonum (float64) or onnx (float32 products, float64 sums).
	Engine string `mapstructure:"engine" yaml:"engine"`
}

// Eval configures the evaluation and the report.
type Eval struct {
	// GridMaps is how many test maps the reconstruction figure shows.
	GridMaps int `mapstructure:"grid_maps" yaml:"grid_maps"`
	// Clusters for K-means on the latents; Ridge the ridge penalty of the parameter probe
	// (0: chosen by cross-validation over simulations).
	Clusters int     `mapstructure:"clusters" yaml:"clusters"`
	Ridge    float64 `mapstructure:"ridge" yaml:"ridge"`
	// ProbeFolds and ProbeRepeats: the latent probes are scored by grouped K-fold
	// cross-validation over simulations with this many folds, repeated with fresh folds.
	ProbeFolds   int `mapstructure:"probe_folds" yaml:"probe_folds"`
	ProbeRepeats int `mapstructure:"probe_repeats" yaml:"probe_repeats"`
	// Bootstrap is the number of simulation-bootstrap resamples behind every interval.
	Bootstrap int `mapstructure:"bootstrap" yaml:"bootstrap"`
	// PSNRTargetRange also reports PSNR with the target's own range.
	PSNRTargetRange bool `mapstructure:"psnr_target_range" yaml:"psnr_target_range"`
	// NoSkipBaseline makes `camelsvae run` also train the same model with skips off (in
	// RUN_DIR/noskip) and report it beside a skip model: the honest bottleneck.
	NoSkipBaseline bool `mapstructure:"noskip_baseline" yaml:"noskip_baseline"`
}

// Runtime selects the ONNX Runtime library and execution provider.
type Runtime struct {
	// Library is the path of libonnxruntime.so; empty searches (see onnx.FindLibrary).
	Library string `mapstructure:"library" yaml:"library"`
	// Provider: cpu, cuda or webgpu.
	Provider string `mapstructure:"provider" yaml:"provider"`
	// CUDALibrary is ONNX Runtime's CUDA provider library (libonnxruntime_providers_cuda.so,
	// a plugin the core library registers); empty looks beside the runtime library, then in
	// third_party/onnxruntime-cuda (`make ort-cuda`).
	CUDALibrary string `mapstructure:"cuda_library" yaml:"cuda_library"`
	DeviceID    int    `mapstructure:"device_id" yaml:"device_id"`
	// Fallback "cpu" lets an unavailable provider fall back to the CPU; empty makes it an error.
	Fallback string `mapstructure:"fallback" yaml:"fallback"`
	// IntraOpThreads 0 lets ONNX Runtime choose (one per core).
	IntraOpThreads int  `mapstructure:"intra_op_threads" yaml:"intra_op_threads"`
	Spinning       bool `mapstructure:"spinning" yaml:"spinning"`
	// Profile, when set, is the file prefix of ONNX Runtime's per-node profile (JSON).
	Profile string `mapstructure:"profile" yaml:"profile"`
	// CudnnConvAlgoSearch: EXHAUSTIVE, HEURISTIC or DEFAULT.
	CudnnConvAlgoSearch string `mapstructure:"cudnn_conv_algo_search" yaml:"cudnn_conv_algo_search"`
	// CudaArenaExtend is the CUDA memory arena's growth: kNextPowerOfTwo or kSameAsRequested.
	CudaArenaExtend string `mapstructure:"cuda_arena_extend_strategy" yaml:"cuda_arena_extend_strategy"`
	// CudaMemLimitMB caps the CUDA arena (0: no limit).
	CudaMemLimitMB int `mapstructure:"cuda_mem_limit_mb" yaml:"cuda_mem_limit_mb"`
	// WebGPULayout is the tensor layout the WebGPU provider computes in: NHWC (ONNX Runtime's
	// default for WebGPU; 1.2x faster than NCHW for the study's model on an H200) or NCHW
	// (our graphs' own layout, no transposes).
	WebGPULayout string `mapstructure:"webgpu_layout" yaml:"webgpu_layout"`
	// WebGPUValidation is Dawn's validation: disabled, wgpuOnly, basic or full.
	WebGPUValidation string `mapstructure:"webgpu_validation" yaml:"webgpu_validation"`
	// ProviderOptions passes further execution-provider options verbatim, as
	// "key=value,key=value" (ONNX Runtime's names, case kept).
	ProviderOptions string `mapstructure:"provider_options" yaml:"provider_options"`
}

// ExtraProviderOptions parses ProviderOptions.
func (r Runtime) ExtraProviderOptions() (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(r.ProviderOptions) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(r.ProviderOptions, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("runtime.provider_options: %q is not key=value", strings.TrimSpace(kv))
		}
		if k == "enableGraphCapture" && v != "0" && v != "false" {
			// Measured over SwiftShader: every step returned the first step's loss.
			return nil, fmt.Errorf("runtime.provider_options: enableGraphCapture is not supported: ONNX Runtime replays the " +
				"captured run on the buffers it captured, and training binds new ones each step")
		}
		out[k] = v
	}
	return out, nil
}

// Default returns the study's settings (docs/study.md) with CPU runtime defaults.
func Default() Config {
	return Config{
		Seed: 100,
		Data: Data{
			Dir: "data/cmd", Suite: "IllustrisTNG", TrainSet: "CV", TestSet: "LH", Size: 256,
			Fields:    StudyFields(),
			TrainFrac: 0.8, ValFrac: 0.1, SplitBy: "map", TestMaps: 1000, Augment: "study",
			Workers: 2, Prefetch: 4, CacheMB: 2048,
		},
		Synth: Synth{Sets: []string{"CV", "LH"}, LHSims: 0, Size: 256, Seed: 100, Workers: 2},
		Model: Model{
			Widths: []int{32, 64, 128, 256, 512}, WidthMult: 1, Latent: 256, Skips: true,
			LeakySlope: 0.01,
		},
		Loss: Loss{
			MSEWeight: 0.8, SSIMWeight: 0.2, Beta: 0.1, WarmupEpochs: 150, FreeBits: 1.0,
			DataRange: 1.0, SSIMWindow: 11, SSIMSigma: 1.5,
		},
		Train: Train{
			Epochs: 200, Batch: 16, LR: 3e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Patience: 20,
			KeepLast: 3, EvalBatch: 32,
		},
		PCA:  PCA{Components: 256, Solver: "randomized", Oversample: 10, PowerIters: 4, Engine: "auto"},
		Eval: Eval{GridMaps: 4, Clusters: 5, Ridge: 0, ProbeFolds: 5, ProbeRepeats: 5, Bootstrap: 2000, PSNRTargetRange: true, NoSkipBaseline: true},
		Runtime: Runtime{Provider: "cpu", Spinning: true, CudnnConvAlgoSearch: "EXHAUSTIVE",
			CudaArenaExtend: "kNextPowerOfTwo", WebGPULayout: "NHWC", WebGPUValidation: "basic"},
	}
}

// Validate checks every value and names the key of the first bad one.
// It is one long list, a check per key in the schema's order, so that a key's rule is found where
// the key is.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	positive := func(key string, v int) {
		if v <= 0 {
			bad(key, "must be > 0, got %d", v)
		}
	}
	nonneg := func(key string, v int) {
		if v < 0 {
			bad(key, "must be >= 0, got %d", v)
		}
	}
	// number checks a float key: ok is its range test, written so that NaN fails it; want
	// says the range. Infinities are refused everywhere: they fail only at a training step.
	number := func(key string, v float64, ok bool, want string) {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			bad(key, "must be a finite number %s, got %g", want, v)
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	}
	d := c.Data
	if d.Dir == "" {
		bad("data.dir", "must not be empty")
	}
	validSet := []string{"CV", "LH", "1P", "BE", "EX"}
	oneOf("data.train_set", d.TrainSet, validSet...)
	oneOf("data.test_set", d.TestSet, validSet...)
	if d.Size < 32 || d.Size > MaxSize || d.Size&(d.Size-1) != 0 {
		bad("data.size", "must be a power of two from 32 to %d, got %d", MaxSize, d.Size)
	}
	if len(d.Fields) == 0 {
		bad("data.fields", "must list at least one field (one of %s)", strings.Join(CMDFields, ", "))
	}
	seen := map[string]bool{}
	for i, f := range d.Fields {
		key := fmt.Sprintf("data.fields[%d]", i)
		switch {
		case !slices.Contains(CMDFields, f.Name):
			bad(key+".name", "unknown CMD field %q, want one of %s", f.Name, strings.Join(CMDFields, ", "))
		case seen[f.Name]:
			bad(key+".name", "%s is listed twice", f.Name)
		}
		seen[f.Name] = true
		oneOf(key+".transform", f.Transform, "log10", "asinh", "none")
	}
	if d.Transforms != (Transforms{}) {
		bad("data.transforms", "is the old form of data.fields; Load maps it onto data.fields")
	}
	number("data.log_floor", d.LogFloor, d.LogFloor >= 0, ">= 0")
	number("data.train_frac", d.TrainFrac, d.TrainFrac > 0 && d.TrainFrac <= 1, "in (0, 1]")
	number("data.val_frac", d.ValFrac, d.ValFrac >= 0 && d.ValFrac < 1, "in [0, 1)")
	if d.TrainFrac+d.ValFrac > 1 {
		bad("data.train_frac", "train_frac (%g) + val_frac (%g) must be <= 1", d.TrainFrac, d.ValFrac)
	}
	oneOf("data.split_by", d.SplitBy, "map", "simulation")
	nonneg("data.train_maps", d.TrainMaps)
	nonneg("data.test_maps", d.TestMaps)
	oneOf("data.augment", d.Augment, "none", "study", "d4")
	positive("data.workers", d.Workers)
	positive("data.prefetch", d.Prefetch)
	nonneg("data.cache_mb", d.CacheMB)

	for _, s := range c.Synth.Sets {
		oneOf("synth.sets", s, "CV", "LH")
	}
	nonneg("synth.lh_sims", c.Synth.LHSims)
	nonneg("synth.cv_sims", c.Synth.CVSims)
	if c.Synth.Size < 32 || c.Synth.Size > MaxSize || c.Synth.Size&(c.Synth.Size-1) != 0 {
		bad("synth.size", "must be a power of two from 32 to %d, got %d", MaxSize, c.Synth.Size)
	} else if d.Size > 0 && c.Synth.Size%d.Size != 0 {
		bad("synth.size", "must be a multiple of data.size (%d), got %d", d.Size, c.Synth.Size)
	}
	positive("synth.workers", c.Synth.Workers)

	m := c.Model
	if len(m.Widths) != 5 {
		bad("model.widths", "must list 5 encoder widths, got %d", len(m.Widths))
	}
	for _, w := range m.Widths {
		if w <= 0 {
			bad("model.widths", "widths must be > 0, got %d", w)
			break
		}
	}
	number("model.width_mult", m.WidthMult, m.WidthMult > 0, "> 0")
	if m.WidthMult > 0 && !math.IsInf(m.WidthMult, 0) {
		for _, w := range m.Widths {
			// Compared as floats: a huge product would overflow int in ChannelWidths.
			if ch := math.Round(float64(w) * m.WidthMult); ch > MaxChannels {
				bad("model.width_mult", "model.widths x model.width_mult = %d x %g = %g channels, want at most %d per layer", w, m.WidthMult, ch, MaxChannels)
				break
			}
		}
	}
	positive("model.latent", m.Latent)
	number("model.leaky_slope", m.LeakySlope, m.LeakySlope >= 0 && m.LeakySlope < 1, "in [0, 1)")

	l := c.Loss
	number("loss.mse_weight", l.MSEWeight, l.MSEWeight >= 0, ">= 0")
	number("loss.ssim_weight", l.SSIMWeight, l.SSIMWeight >= 0, ">= 0")
	if l.MSEWeight == 0 && l.SSIMWeight == 0 {
		bad("loss.mse_weight", "mse_weight and ssim_weight must not both be 0")
	}
	number("loss.beta", l.Beta, l.Beta >= 0, ">= 0")
	nonneg("loss.warmup_epochs", l.WarmupEpochs)
	number("loss.free_bits", l.FreeBits, l.FreeBits >= 0, ">= 0")
	number("loss.data_range", l.DataRange, l.DataRange > 0, "> 0")
	if l.SSIMWindow < 3 || l.SSIMWindow%2 == 0 {
		bad("loss.ssim_window", "must be odd and >= 3, got %d", l.SSIMWindow)
	} else if d.Size > 0 && l.SSIMWindow > d.Size {
		bad("loss.ssim_window", "must not exceed data.size (%d), got %d", d.Size, l.SSIMWindow)
	}
	number("loss.ssim_sigma", l.SSIMSigma, l.SSIMSigma > 0, "> 0")

	t := c.Train
	positive("train.epochs", t.Epochs)
	positive("train.batch", t.Batch)
	number("train.lr", t.LR, t.LR > 0, "> 0")
	number("train.beta1", t.Beta1, t.Beta1 >= 0 && t.Beta1 < 1, "in [0, 1)")
	number("train.beta2", t.Beta2, t.Beta2 >= 0 && t.Beta2 < 1, "in [0, 1)")
	number("train.eps", t.Eps, t.Eps > 0, "> 0")
	nonneg("train.patience", t.Patience)
	positive("train.keep_last", t.KeepLast)
	positive("train.eval_batch", t.EvalBatch)

	positive("pca.components", c.PCA.Components)
	oneOf("pca.solver", c.PCA.Solver, "exact", "randomized")
	nonneg("pca.oversample", c.PCA.Oversample)
	nonneg("pca.power_iters", c.PCA.PowerIters)
	oneOf("pca.engine", c.PCA.Engine, "auto", "gonum", "onnx")

	nonneg("eval.grid_maps", c.Eval.GridMaps)
	// The silhouette compares each map's own cluster with the nearest other one, so K-means
	// needs two clusters, and as many test maps as clusters.
	if c.Eval.Clusters < 2 {
		bad("eval.clusters", "must be >= 2 (the silhouette compares clusters), got %d", c.Eval.Clusters)
	}
	if d.TestMaps > 0 && (d.TestMaps < 2 || d.TestMaps < c.Eval.Clusters) {
		bad("data.test_maps", "%d test maps are too few for eval.clusters %d: want data.test_maps >= %d (or 0 for the whole set)",
			d.TestMaps, c.Eval.Clusters, max(2, c.Eval.Clusters))
	}
	number("eval.ridge", c.Eval.Ridge, c.Eval.Ridge >= 0, ">= 0")
	if c.Eval.ProbeFolds < 2 {
		bad("eval.probe_folds", "must be >= 2 (each fold is predicted from the others), got %d", c.Eval.ProbeFolds)
	}
	positive("eval.probe_repeats", c.Eval.ProbeRepeats)
	positive("eval.bootstrap", c.Eval.Bootstrap)

	r := c.Runtime
	oneOf("runtime.provider", r.Provider, "cpu", "cuda", "webgpu")
	oneOf("runtime.fallback", r.Fallback, "", "cpu")
	nonneg("runtime.device_id", r.DeviceID)
	nonneg("runtime.intra_op_threads", r.IntraOpThreads)
	oneOf("runtime.cudnn_conv_algo_search", r.CudnnConvAlgoSearch, "EXHAUSTIVE", "HEURISTIC", "DEFAULT")
	oneOf("runtime.cuda_arena_extend_strategy", r.CudaArenaExtend, "kNextPowerOfTwo", "kSameAsRequested")
	nonneg("runtime.cuda_mem_limit_mb", r.CudaMemLimitMB)
	oneOf("runtime.webgpu_layout", r.WebGPULayout, "NCHW", "NHWC")
	oneOf("runtime.webgpu_validation", r.WebGPUValidation, "disabled", "wgpuOnly", "basic", "full")
	if _, err := r.ExtraProviderOptions(); err != nil {
		errs = append(errs, err.Error())
	}

	if len(errs) > 0 {
		return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}
