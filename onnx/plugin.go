package onnx

// #include <stdlib.h>
// #include "device.h"
import "C"

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/camelsvae/camelsvae/configs"
	ort "github.com/yalue/onnxruntime_go"
)

// ONNX Runtime's CUDA provider ships as a plugin library beside a core library that lacks it:
// libonnxruntime_providers_cuda.so is registered with the environment once per process, and
// each CUDA session appends the device it offers for runtime.device_id (API V2). A core
// library with CUDA built in is used through the legacy path instead.

// CUDAProviderLibrary is the file name of the CUDA provider plugin.
const CUDAProviderLibrary = "libonnxruntime_providers_cuda.so"

// cudaFetchedDir is where `make ort-cuda` puts it, relative to the repository root.
const cudaFetchedDir = "third_party/onnxruntime-cuda"

// cudaEP is the name the CUDA provider's devices carry.
const cudaEP = "CUDAExecutionProvider"

var (
	cudaMu   sync.Mutex
	cudaPath string // the registered plugin
	cudaErr  error  // why registering it failed
)

// FindCUDAProvider returns the CUDA provider plugin to register: configured
// (runtime.cuda_library, an error when missing), else the copy beside the loaded runtime
// library, else the fetched one (third_party/onnxruntime-cuda beside the executable or in a
// parent of the working directory). It returns "" when there is none.
func FindCUDAProvider(configured string) (string, error) {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			return "", fmt.Errorf("onnx: runtime.cuda_library %q does not exist (run `make ort-cuda` to fetch the CUDA provider into %s)", configured, cudaFetchedDir)
		}
		return configured, nil
	}
	var tried []string
	if lib := LibraryPath(); lib != "" {
		tried = append(tried, filepath.Join(filepath.Dir(lib), CUDAProviderLibrary))
	}
	for _, c := range candidateDirs(cudaFetchedDir) {
		tried = append(tried, filepath.Join(c, CUDAProviderLibrary))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", nil
}

// pluginCore returns the core library beside a plugin (libonnxruntime.so.X.Y.Z, as `make
// ort-cuda` puts it) and its version X.Y.Z, or "" when there is none.
func pluginCore(plugin string) (path, version string) {
	if plugin == "" {
		return "", ""
	}
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(plugin), "libonnxruntime.so.*.*.*"))
	if len(m) == 0 {
		return "", ""
	}
	return m[0], strings.TrimPrefix(filepath.Base(m[0]), "libonnxruntime.so.")
}

// registerCUDA registers the plugin at path with the environment, once per process.
func registerCUDA(path string) error {
	cudaMu.Lock()
	defer cudaMu.Unlock()
	if cudaPath != "" {
		if cudaPath != path {
			return fmt.Errorf("onnx: the CUDA provider is already registered from %s, cannot switch to %s", cudaPath, path)
		}
		return cudaErr
	}
	cudaPath = path
	if cudaErr = initBinding(); cudaErr != nil {
		return cudaErr
	}
	if core, version := pluginCore(path); core != "" && version != Version() {
		cudaErr = fmt.Errorf("onnx: the CUDA provider %s works with ONNX Runtime %s (%s), this process loaded %s from %s: "+
			"for --provider cuda, leave --ort-lib, %s and runtime.library unset so that its own core is loaded", path, version, core, Version(), LibraryPath(), EnvLibrary)
		return cudaErr
	}
	if err := ort.RegisterExecutionProviderLibrary("CUDA", path); err != nil {
		cudaErr = loadError(path, err)
	}
	return cudaErr
}

// loadError explains a plugin that did not load: every library it needs that cannot be
// found, with what provides it, rather than the dynamic linker's first miss.
func loadError(path string, err error) error {
	missing, merr := MissingLibraries(path)
	if merr != nil || len(missing) == 0 {
		return fmt.Errorf("onnx: registering the CUDA provider %s: %v", path, oneLine(err))
	}
	var names []string
	for _, m := range missing {
		names = append(names, m.Name+" ("+m.Provides+")")
	}
	return fmt.Errorf("onnx: the CUDA provider %s cannot load: missing %s; install CUDA 13 and cuDNN 9 "+
		"(or the pip wheels named) and put their lib folders on LD_LIBRARY_PATH", path, strings.Join(names, ", "))
}

// Missing is a shared library a provider needs that the dynamic linker cannot find.
type Missing struct {
	Name, Provides string
}

// cudaLibraries says what provides the libraries the CUDA provider links against.
var cudaLibraries = []struct{ prefix, provides string }{
	{"libcudart.", "CUDA runtime; pip nvidia-cuda-runtime"},
	{"libcublasLt.", "cuBLAS; pip nvidia-cublas"},
	{"libcublas.", "cuBLAS; pip nvidia-cublas"},
	{"libcudnn", "cuDNN 9; pip nvidia-cudnn-cu13"},
	{"libcufft.", "cuFFT; pip nvidia-cufft"},
	{"libcurand.", "cuRAND; pip nvidia-curand"},
	{"libnvrtc", "NVRTC; pip nvidia-cuda-nvrtc"},
	{"libnvJitLink", "nvJitLink; pip nvidia-nvjitlink"},
	{"libcuda.", "the NVIDIA driver"},
	{"libonnxruntime_providers_shared", "ONNX Runtime's, beside the core library: make ort-cuda"},
}

// MissingLibraries lists the libraries the shared library at path needs (DT_NEEDED) that
// neither its own run path ($ORIGIN included) nor the dynamic linker's search finds.
func MissingLibraries(path string) ([]Missing, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	var runpath []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if vals, err := f.DynString(tag); err == nil {
			for _, v := range vals {
				for _, d := range strings.Split(v, ":") {
					runpath = append(runpath, strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(path)))
				}
			}
		}
	}
	var out []Missing
	for _, name := range needed {
		found := false
		for _, d := range runpath {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				found = true
				break
			}
		}
		if !found && dlopenError(name) != nil {
			m := Missing{Name: name, Provides: "a system library"}
			for _, l := range cudaLibraries {
				if strings.HasPrefix(name, l.prefix) {
					m.Provides = l.provides
					break
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// LoadedLater are libraries the CUDA provider opens only when a session starts (cuDNN for
// convolutions), which DT_NEEDED does not list.
var LoadedLater = []Missing{{"libcudnn.so.9", "cuDNN 9; pip nvidia-cudnn-cu13; opened when a session starts"}}

// MissingAtRunTime lists the libraries of LoadedLater that cannot be loaded.
func MissingAtRunTime() []Missing {
	var out []Missing
	for _, m := range LoadedLater {
		if dlopenError(m.Name) != nil {
			out = append(out, m)
		}
	}
	return out
}

// dlopenError is what loading a library by name would fail with (nil when it loads).
func dlopenError(name string) error {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	return errOf(C.ortx_dlopen_error(c))
}

// EPDevice is a device that the environment's execution providers offer.
type EPDevice struct {
	// EP is the provider's name (CUDAExecutionProvider); Type cpu, gpu or npu.
	EP, Type, Vendor string
	h                unsafe.Pointer
}

// EPDevices lists the devices of the built-in and registered providers.
func EPDevices() ([]EPDevice, error) {
	if err := initBinding(); err != nil {
		return nil, err
	}
	var list *unsafe.Pointer
	var n C.size_t
	if err := errOf(C.ortx_ep_devices((**unsafe.Pointer)(unsafe.Pointer(&list)), &n)); err != nil {
		return nil, fmt.Errorf("onnx: listing execution provider devices: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var out []EPDevice
	for _, h := range unsafe.Slice(list, int(n)) {
		d := EPDevice{EP: C.GoString(C.ortx_ep_device_name(h)), Vendor: C.GoString(C.ortx_ep_device_vendor(h)), h: h}
		d.Type = map[C.int]string{0: "cpu", 1: "gpu", 2: "npu"}[C.ortx_ep_device_type(h)]
		out = append(out, d)
	}
	return out, nil
}

// appendCUDA adds the CUDA provider to opts: the plugin when one is found, else the core
// library's built-in provider.
func appendCUDA(opts *ort.SessionOptions, rt configs.Runtime) error {
	o, err := cudaOptions(rt)
	if err != nil {
		return err
	}
	plugin, err := FindCUDAProvider(rt.CUDALibrary)
	if err != nil {
		return err
	}
	if plugin == "" {
		return appendBuiltinCUDA(opts, rt, o)
	}
	if err := registerCUDA(plugin); err != nil {
		return err
	}
	devs, err := EPDevices()
	if err != nil {
		return err
	}
	var cuda []EPDevice
	for _, d := range devs {
		if d.EP == cudaEP {
			cuda = append(cuda, d)
		}
	}
	if len(cuda) == 0 {
		return fmt.Errorf("onnx: the CUDA provider %s loaded but offers no device: no NVIDIA GPU or driver is usable here", plugin)
	}
	if rt.DeviceID >= len(cuda) {
		return fmt.Errorf("onnx: runtime.device_id %d: the CUDA provider offers %d device(s)", rt.DeviceID, len(cuda))
	}
	var keys, vals []*C.char
	for k, v := range o {
		keys, vals = append(keys, C.CString(k)), append(vals, C.CString(v))
	}
	defer func() {
		for i := range keys {
			C.free(unsafe.Pointer(keys[i]))
			C.free(unsafe.Pointer(vals[i]))
		}
	}()
	var kp, vp **C.char
	if len(keys) > 0 {
		kp, vp = &keys[0], &vals[0]
	}
	if err := errOf(C.ortx_append_v2(optionsHandle(opts), cuda[rt.DeviceID].h, kp, vp, C.size_t(len(keys)))); err != nil {
		return fmt.Errorf("onnx: appending the CUDA provider %s: %w", plugin, err)
	}
	return nil
}

// cudaOptions are the CUDA provider options rt asks for (the device is chosen apart).
func cudaOptions(rt configs.Runtime) (map[string]string, error) {
	search := rt.CudnnConvAlgoSearch
	if search == "" {
		search = "EXHAUSTIVE"
	}
	o := map[string]string{"cudnn_conv_algo_search": search}
	if rt.CudaArenaExtend != "" {
		o["arena_extend_strategy"] = rt.CudaArenaExtend
	}
	if rt.CudaMemLimitMB > 0 {
		o["gpu_mem_limit"] = strconv.FormatInt(int64(rt.CudaMemLimitMB)<<20, 10)
	}
	return o, mergeExtra(o, rt)
}

// appendBuiltinCUDA uses a core library's own CUDA provider (a GPU build of ONNX Runtime).
func appendBuiltinCUDA(opts *ort.SessionOptions, rt configs.Runtime, o map[string]string) error {
	cu, err := ort.NewCUDAProviderOptions()
	if err == nil {
		defer cu.Destroy()
		o["device_id"] = strconv.Itoa(rt.DeviceID)
		if err = cu.Update(o); err == nil {
			err = opts.AppendExecutionProviderCUDA(cu)
		}
	}
	if err != nil {
		return fmt.Errorf("onnx: execution provider cuda is not available: no %s found (runtime.cuda_library, beside the runtime "+
			"library, or %s; `make ort-cuda` fetches it), and %s has no CUDA built in (%v)", CUDAProviderLibrary, cudaFetchedDir, LibraryPath(), oneLine(err))
	}
	return nil
}

// oneLine folds a multi-line library error into one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
