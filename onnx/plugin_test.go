package onnx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
)

// buildFake compiles testdata/fake_cuda_ep.c into dir (linked against extra -l libraries).
func buildFake(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, CUDAProviderLibrary)
	cmd := exec.Command("gcc", append([]string{"-shared", "-fPIC", "-O1", "-o", out, "testdata/fake_cuda_ep.c"}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

// inChild runs this test again in a child process with env set, where plugin registration
// (once per process) starts fresh; the child's part runs when the variable is set.
func inChild(t *testing.T, env string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), env)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "--- PASS: "+t.Name()) {
		t.Fatalf("child: %v\n%s", err, b)
	}
}

// TestCUDAPluginPath runs the CUDA plugin path with a stand-in provider that offers the CPU
// as a CUDA device and fails where a GPU is needed: registration, the device list, the V2
// append and session creation all run, and the error is the provider's own.
func TestCUDAPluginPath(t *testing.T) {
	if lib := os.Getenv("FAKE_CUDA_EP"); lib != "" {
		setup(t)
		rt := configs.Default().Runtime
		rt.Provider, rt.CUDALibrary = "cuda", lib
		_, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
		if err == nil || !strings.Contains(err.Error(), "fake CUDA provider: no GPU here") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("session on the stand-in provider: %v, want its CreateEp error on one line", err)
		}
		devs, err := EPDevices()
		found := false
		for _, d := range devs {
			found = found || (d.EP == cudaEP && d.Type == "cpu" && d.Vendor != "")
		}
		if err != nil || !found {
			t.Fatalf("EPDevices = %+v, %v; want the stand-in's device", devs, err)
		}
		rt.DeviceID = 3
		if _, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt); err == nil || !strings.Contains(err.Error(), "runtime.device_id 3") {
			t.Fatalf("device 3 of 1: %v", err)
		}
		return
	}
	inChild(t, "FAKE_CUDA_EP="+buildFake(t, t.TempDir()))
}

// TestCUDAPluginMissingLibraries: a provider whose CUDA libraries are absent fails to
// register with one line naming every missing library and what provides it.
func TestCUDAPluginMissingLibraries(t *testing.T) {
	if lib := os.Getenv("FAKE_CUDA_EP"); lib != "" {
		setup(t)
		rt := configs.Default().Runtime
		rt.Provider, rt.CUDALibrary = "cuda", lib
		_, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
		for _, want := range []string{"cannot load: missing", "libcublasLt.so.13 (cuBLAS; pip nvidia-cublas)", "libcudnn.so.9 (cuDNN 9"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("registering a provider without its libraries: %v, want %q", err, want)
			}
		}
		return
	}
	// Link the stand-in against stub CUDA libraries, then take the stubs away.
	dir, stubs := t.TempDir(), t.TempDir()
	for _, name := range []string{"libcublasLt.so.13", "libcudnn.so.9"} {
		cmd := exec.Command("gcc", "-shared", "-fPIC", "-o", filepath.Join(stubs, name), "-Wl,-soname,"+name, "-x", "c", "/dev/null")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, b)
		}
	}
	lib := buildFake(t, dir, "-Wl,--no-as-needed", filepath.Join(stubs, "libcublasLt.so.13"), filepath.Join(stubs, "libcudnn.so.9"))
	missing, err := MissingLibraries(lib)
	if err != nil || len(missing) != 2 {
		t.Fatalf("MissingLibraries = %+v, %v; want the two stubs", missing, err)
	}
	inChild(t, "FAKE_CUDA_EP="+lib)
}

// TestChooseLibraryForCUDA: --provider cuda loads the core beside the plugin unless a library
// is chosen explicitly; other providers load the pinned build.
func TestChooseLibraryForCUDA(t *testing.T) {
	dir := t.TempDir()
	plugin, core := filepath.Join(dir, CUDAProviderLibrary), filepath.Join(dir, "libonnxruntime.so.1.29.0")
	for _, f := range []string{plugin, core} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rt := configs.Default().Runtime
	rt.Provider, rt.CUDALibrary = "cuda", plugin
	if got, err := ChooseLibrary("", rt); err != nil || got != core {
		t.Errorf("cuda: %q %v, want the core beside the plugin", got, err)
	}
	if got, _ := ChooseLibrary("/x/libonnxruntime.so", rt); got == core {
		t.Error("an explicit --ort-lib must win")
	}
	rt.Provider = "cpu"
	if got, _ := ChooseLibrary("", rt); got == core {
		t.Error("cpu must not load the CUDA provider's core")
	}
}

// TestCUDAPluginVersionMismatch: a plugin beside the core of another release is refused
// before it is registered, naming both versions.
func TestCUDAPluginVersionMismatch(t *testing.T) {
	if lib := os.Getenv("FAKE_CUDA_EP"); lib != "" {
		setup(t)
		rt := configs.Default().Runtime
		rt.Provider, rt.CUDALibrary = "cuda", lib
		_, err := NewSession(probeModel(), []string{"x"}, []string{"y"}, rt)
		if err == nil || !strings.Contains(err.Error(), "works with ONNX Runtime 9.9.9") || !strings.Contains(err.Error(), ORTVersion) {
			t.Fatalf("a plugin of another release: %v", err)
		}
		return
	}
	dir := t.TempDir()
	lib := buildFake(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "libonnxruntime.so.9.9.9"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inChild(t, "FAKE_CUDA_EP="+lib)
}
