// Package onnx holds the ONNX protobuf types (package onnxpb, generated from Debian's
// libonnx-dev onnx.proto) and the ONNX Runtime layer: finding libonnxruntime.so, initialising
// it once per process, sessions on the cpu, cuda or webgpu execution providers, IO-bound
// sessions whose tensors stay in device memory between runs (device.go), where a model's
// nodes ran (placement.go), and the Vulkan devices WebGPU can use (vulkan.go).
//
// Invariants: Init runs once per process (ONNX Runtime has one environment); every session
// and tensor made here must be destroyed by its owner. On the CPU provider, tensors made with
// NewTensor share Go memory with ONNX Runtime: no copy in or out.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/camelsvae/camelsvae/configs"
	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release the project pins and `make ort` fetches.
const ORTVersion = "1.30.0"

// LibraryName is the file name of the fetched runtime.
const LibraryName = "libonnxruntime.so.1"

// fetchedDir is where `make ort` puts the library, relative to the repository root.
const fetchedDir = "third_party/onnxruntime"

// EnvLibrary names the environment variable that points at a runtime library.
const EnvLibrary = "CAMELSVAE_ORT_LIB"

// ErrNoLibrary reports that no ONNX Runtime library was found.
var ErrNoLibrary = errors.New("onnx: ONNX Runtime library not found")

var (
	initMu   sync.Mutex
	initPath string
)

// FindLibrary returns the runtime library to load, in this order: flag, $CAMELSVAE_ORT_LIB,
// config runtime.library, the fetched copy (third_party/onnxruntime beside the executable or
// in a parent of the working directory), then system paths. An explicit choice (flag, env,
// config) that does not exist is an error naming it; a miss lists what was tried.
func FindLibrary(flag, configured string) (string, error) {
	for _, c := range []struct{ src, path string }{
		{"--ort-lib", flag}, {"$" + EnvLibrary, os.Getenv(EnvLibrary)}, {"runtime.library", configured},
	} {
		if c.path == "" {
			continue
		}
		if _, err := os.Stat(c.path); err != nil {
			return "", fmt.Errorf("%w: %s %q does not exist (run `make ort` to fetch ONNX Runtime %s into %s)",
				ErrNoLibrary, c.src, c.path, ORTVersion, fetchedDir)
		}
		return c.path, nil
	}
	tried := candidates()
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: tried %s; run `make ort` (fetches ONNX Runtime %s into %s) or set %s",
		ErrNoLibrary, strings.Join(tried, ", "), ORTVersion, fetchedDir, EnvLibrary)
}

// candidates lists the fetched-copy and system locations, most specific first.
func candidates() []string {
	var out []string
	for _, d := range candidateDirs(fetchedDir) {
		out = append(out, filepath.Join(d, LibraryName))
	}
	for _, d := range []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"} {
		out = append(out, filepath.Join(d, "libonnxruntime.so"), filepath.Join(d, LibraryName))
	}
	return out
}

// candidateDirs lists where a fetched folder (relative to the repository root) may be:
// beside the executable or its parent, then in the working directory and its parents.
func candidateDirs(rel string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		add(filepath.Join(dir, rel))
		add(filepath.Join(dir, "..", rel))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			add(filepath.Join(dir, rel))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return out
}

// Init loads the library at path and creates the ONNX Runtime environment. Later calls with
// the same path do nothing; a different path is an error (one runtime per process).
func Init(path string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath != "" {
		if initPath != path {
			return fmt.Errorf("onnx: runtime already initialised from %s, cannot switch to %s", initPath, path)
		}
		return nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx: loading ONNX Runtime from %s: %w (run `make ort` for the pinned CPU build)", path, err)
	}
	initPath = path
	return nil
}

// Setup finds the library (see ChooseLibrary) and initialises the runtime. It returns the
// path loaded.
func Setup(flag string, rt configs.Runtime) (string, error) {
	path, err := ChooseLibrary(flag, rt)
	if err != nil {
		return "", err
	}
	return path, Init(path)
}

// ChooseLibrary is FindLibrary, except that for runtime.provider cuda without an explicit
// choice (flag, $CAMELSVAE_ORT_LIB, runtime.library) it takes the core library that came with
// the CUDA provider plugin, beside it: the plugin works only with the release it was built for.
func ChooseLibrary(flag string, rt configs.Runtime) (string, error) {
	if rt.Provider == "cuda" && flag == "" && os.Getenv(EnvLibrary) == "" && rt.Library == "" {
		plugin, err := FindCUDAProvider(rt.CUDALibrary)
		if err != nil {
			return "", err
		}
		if core, _ := pluginCore(plugin); core != "" {
			return core, nil
		}
	}
	return FindLibrary(flag, rt.Library)
}

// LibraryPath is the library Init loaded, or "" before Init.
func LibraryPath() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version is the loaded runtime's version string.
func Version() string { return ort.GetVersion() }

// Session is a loaded model bound to one execution provider, with named inputs and outputs.
type Session struct {
	s        *ort.DynamicAdvancedSession
	Inputs   []string
	Outputs  []string
	Provider string // the provider the session actually runs on
	// Fallback is why the session runs on the CPU instead of the provider asked for
	// (runtime.fallback: cpu), or nil.
	Fallback error
}

// NewSession loads an ONNX model from bytes on the provider rt asks for.
func NewSession(model []byte, inputs, outputs []string, rt configs.Runtime) (*Session, error) {
	provider := rt.Provider
	opts, err := sessionOptions(rt, provider)
	var fallback error
	if err != nil && rt.Fallback == "cpu" && provider != "cpu" {
		fallback, provider = err, "cpu"
		opts, err = sessionOptions(rt, provider)
	}
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("onnx: creating session on %s: %w", provider, err)
	}
	return &Session{s: s, Inputs: inputs, Outputs: outputs, Provider: provider, Fallback: fallback}, nil
}

// Run executes the model. inputs follow s.Inputs; outputs follow s.Outputs, and a nil output
// is allocated by ONNX Runtime (the caller destroys it).
func (s *Session) Run(inputs, outputs []ort.Value) error {
	if err := s.s.Run(inputs, outputs); err != nil {
		return fmt.Errorf("onnx: run: %w", err)
	}
	return nil
}

// Destroy frees the session.
func (s *Session) Destroy() {
	if s != nil && s.s != nil {
		s.s.Destroy()
		s.s = nil
	}
}

// sessionOptions builds options for one provider, or an error that says what is missing.
func sessionOptions(rt configs.Runtime, provider string) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		opts.Destroy()
		return nil, err
	}
	if rt.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(rt.IntraOpThreads); err != nil {
			return fail(fmt.Errorf("onnx: runtime.intra_op_threads: %w", err))
		}
	}
	spin := "0"
	if rt.Spinning {
		spin = "1"
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", spin); err != nil {
		return fail(fmt.Errorf("onnx: runtime.spinning: %w", err))
	}
	if rt.Profile != "" {
		if err := opts.EnableProfiling(rt.Profile); err != nil {
			return fail(fmt.Errorf("onnx: runtime.profile: %w", err))
		}
	}
	switch provider {
	case "cpu":
	case "cuda":
		if err := appendCUDA(opts, rt); err != nil {
			return fail(err)
		}
	case "webgpu":
		o, err := WebGPUOptions(rt)
		if err != nil {
			return fail(err)
		}
		if err := opts.AppendExecutionProvider("WebGPU", o); err != nil {
			return fail(providerError("webgpu", err))
		}
	default:
		return fail(fmt.Errorf("onnx: runtime.provider: unknown provider %q (want cpu, cuda or webgpu)", provider))
	}
	return opts, nil
}

// WebGPUOptions are the WebGPU provider options rt asks for.
func WebGPUOptions(rt configs.Runtime) (map[string]string, error) {
	o := map[string]string{"deviceId": strconv.Itoa(rt.DeviceID)}
	if rt.WebGPULayout != "" {
		o["preferredLayout"] = rt.WebGPULayout
	}
	if rt.WebGPUValidation != "" {
		o["validationMode"] = rt.WebGPUValidation
	}
	return o, mergeExtra(o, rt)
}

// mergeExtra adds runtime.provider_options, which win over the typed keys.
func mergeExtra(o map[string]string, rt configs.Runtime) error {
	extra, err := rt.ExtraProviderOptions()
	if err != nil {
		return err
	}
	for k, v := range extra {
		o[k] = v
	}
	return nil
}

// providerError explains how to get the WebGPU provider when the loaded library cannot run it.
func providerError(provider string, err error) error {
	return fmt.Errorf("onnx: execution provider %s is not available in %s: %v; it needs a Vulkan loader (libvulkan1) "+
		"and a GPU driver", provider, LibraryPath(), err)
}

// CheckProvider makes a session on rt's provider and returns why it cannot run, so that a
// command fails at its start rather than after reading its data. With runtime.fallback cpu
// the provider's failure is no error: it is returned as a warning for the caller to report.
func CheckProvider(rt configs.Runtime) (warning string, err error) {
	rt.Profile = ""
	s, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
	if err != nil {
		return "", err
	}
	defer s.Destroy()
	if s.Fallback != nil {
		return fmt.Sprintf("%v; running on the cpu (runtime.fallback: cpu)", oneLine(s.Fallback)), nil
	}
	return "", nil
}

// Providers reports, for each of cpu, cuda and webgpu, nil when a session on it can be made
// with the loaded library, or the error that says why not. It loads a one-node model.
func Providers(rt configs.Runtime) map[string]error {
	out := map[string]error{}
	for _, p := range []string{"cpu", "cuda", "webgpu"} {
		r := rt
		r.Provider, r.Fallback, r.Profile = p, "", ""
		s, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, r)
		if err == nil {
			s.Destroy()
		}
		out[p] = err
	}
	return out
}
