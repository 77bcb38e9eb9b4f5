package onnx

// #cgo LDFLAGS: -ldl
// #include <stdlib.h>
// #include "device.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/camelsvae/camelsvae/configs"
	ort "github.com/yalue/onnxruntime_go"
)

// This file keeps tensors in an execution provider's memory between runs, which
// onnxruntime_go cannot: a Bound session binds each output either to a host tensor (copied
// back) or to the provider's device memory, and a device output can be bound as a later run's
// input without leaving the device. On the CPU provider "device" memory is host memory and
// nothing is copied.

var (
	bindOnce sync.Once
	bindErr  error
)

func errOf(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return fmt.Errorf("%s", C.GoString(msg))
}

// initBinding loads the C API table from the library Init loaded.
func initBinding() error {
	bindOnce.Do(func() {
		path := LibraryPath()
		if path == "" {
			bindErr = fmt.Errorf("onnx: device binding needs the runtime initialised first (onnx.Setup)")
			return
		}
		p := C.CString(path)
		defer C.free(unsafe.Pointer(p))
		if err := errOf(C.ortx_init(p)); err != nil {
			bindErr = fmt.Errorf("onnx: device binding on %s: %w", path, err)
		}
	})
	return bindErr
}

// DeviceMemory is the name ONNX Runtime gives a provider's tensor memory.
func DeviceMemory(provider string) string {
	switch provider {
	case "webgpu":
		return "WebGPU_Buffer"
	case "cuda":
		return "Cuda"
	}
	return "Cpu"
}

// Arg is a value a Bound session can take as input: a *HostTensor or a *DeviceValue.
type Arg interface{ handle() unsafe.Pointer }

// HostTensor is a float32 tensor in C memory that runs read from and write into in place.
type HostTensor struct {
	v     unsafe.Pointer
	buf   unsafe.Pointer
	Data  []float32
	Shape []int64
}

// NewHostTensor allocates a zeroed tensor of shape.
func NewHostTensor(shape []int64) (*HostTensor, error) {
	if err := initBinding(); err != nil {
		return nil, err
	}
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	buf := C.calloc(C.size_t(max(n, 1)), 4)
	if buf == nil {
		return nil, fmt.Errorf("onnx: out of memory for a tensor of shape %v", shape)
	}
	cs := C.malloc(C.size_t(8 * max(len(shape), 1)))
	defer C.free(cs)
	dims := unsafe.Slice((*C.int64_t)(cs), max(len(shape), 1))
	for i, d := range shape {
		dims[i] = C.int64_t(d)
	}
	t := &HostTensor{buf: buf, Data: unsafe.Slice((*float32)(buf), n), Shape: append([]int64(nil), shape...)}
	if err := errOf(C.ortx_host_tensor((*C.float)(buf), (*C.int64_t)(cs), C.size_t(len(shape)), &t.v)); err != nil {
		C.free(buf)
		return nil, fmt.Errorf("onnx: host tensor %v: %w", shape, err)
	}
	return t, nil
}

func (t *HostTensor) handle() unsafe.Pointer { return t.v }

// Bytes is the tensor's size in bytes.
func (t *HostTensor) Bytes() int64 { return int64(len(t.Data)) * 4 }

// Destroy frees the tensor and its memory.
func (t *HostTensor) Destroy() {
	if t != nil && t.v != nil {
		C.ortx_value_release(t.v)
		C.free(t.buf)
		t.v, t.buf, t.Data = nil, nil, nil
	}
}

// DeviceValue is a tensor a run left in the provider's memory.
type DeviceValue struct{ v unsafe.Pointer }

func (d *DeviceValue) handle() unsafe.Pointer { return d.v }

// Location names the memory the value lives in and its device id, as ONNX Runtime reports.
func (d *DeviceValue) Location() (string, int, error) {
	var name *C.char
	var id C.int
	if err := errOf(C.ortx_value_location(d.v, &name, &id)); err != nil {
		return "", 0, err
	}
	return C.GoString(name), int(id), nil
}

// Release returns the value's memory to the runtime.
func (d *DeviceValue) Release() {
	if d != nil && d.v != nil {
		C.ortx_value_release(d.v)
		d.v = nil
	}
}

// ReleaseValues releases every non-nil value.
func ReleaseValues(vs []*DeviceValue) {
	for _, v := range vs {
		v.Release()
	}
}

// Traffic counts the bytes of the host tensors bound to runs: what crosses between host and
// device on a GPU provider (nothing is copied on the CPU provider).
type Traffic struct{ ToDevice, ToHost int64 }

// Bound is a session run through an IO binding on the provider rt asks for.
type Bound struct {
	s, b     unsafe.Pointer
	Inputs   []string
	Outputs  []string
	Provider string
	names    []*C.char // inputs then outputs, as C strings
	mem      *C.char
	device   int
	Traffic  Traffic // cumulative over runs
}

// NewBound loads a model for IO-bound runs (same options and fallback as NewSession).
func NewBound(model []byte, inputs, outputs []string, rt configs.Runtime) (*Bound, error) {
	if err := initBinding(); err != nil {
		return nil, err
	}
	provider := rt.Provider
	opts, err := sessionOptions(rt, provider)
	if err != nil && rt.Fallback == "cpu" && provider != "cpu" {
		provider = "cpu"
		opts, err = sessionOptions(rt, provider)
	}
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	s := &Bound{Inputs: inputs, Outputs: outputs, Provider: provider, device: rt.DeviceID}
	if len(model) == 0 {
		return nil, fmt.Errorf("onnx: empty model")
	}
	if err := errOf(C.ortx_session(unsafe.Pointer(&model[0]), C.size_t(len(model)), optionsHandle(opts), &s.s)); err != nil {
		return nil, fmt.Errorf("onnx: creating session on %s: %w", provider, err)
	}
	if err := errOf(C.ortx_binding(s.s, &s.b)); err != nil {
		C.ortx_session_release(s.s)
		return nil, fmt.Errorf("onnx: io binding: %w", err)
	}
	for _, n := range append(append([]string{}, inputs...), outputs...) {
		s.names = append(s.names, C.CString(n))
	}
	s.mem = C.CString(DeviceMemory(provider))
	return s, nil
}

// optionsHandle is the OrtSessionOptions pointer inside onnxruntime_go's SessionOptions (its
// only field; pinned by go.mod and exercised by every Bound test).
func optionsHandle(o *ort.SessionOptions) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(o))
}

// Run binds inputs (in s.Inputs order) and outputs, runs, and returns the outputs left on the
// device: host[i] != nil receives output i on the host; host[i] == nil (or a short host) leaves
// it in device memory, returned at index i (the caller releases it). Values bound as inputs
// are not consumed.
func (s *Bound) Run(inputs []Arg, host []*HostTensor) ([]*DeviceValue, error) {
	if len(inputs) != len(s.Inputs) {
		return nil, fmt.Errorf("onnx: model wants %d inputs, got %d", len(s.Inputs), len(inputs))
	}
	C.ortx_clear(s.b)
	var moved Traffic
	for i, a := range inputs {
		if a == nil || a.handle() == nil {
			return nil, fmt.Errorf("onnx: input %s is not set", s.Inputs[i])
		}
		if err := errOf(C.ortx_bind_input(s.b, s.names[i], a.handle())); err != nil {
			return nil, fmt.Errorf("onnx: binding input %s: %w", s.Inputs[i], err)
		}
		if h, ok := a.(*HostTensor); ok {
			moved.ToDevice += h.Bytes()
		}
	}
	onDevice := make([]bool, len(s.Outputs))
	for i := range s.Outputs {
		name := s.names[len(s.Inputs)+i]
		var err error
		if i < len(host) && host[i] != nil {
			err = errOf(C.ortx_bind_output(s.b, name, host[i].v))
			moved.ToHost += host[i].Bytes()
		} else {
			onDevice[i] = true
			err = errOf(C.ortx_bind_output_device(s.b, name, s.mem, C.int(s.device)))
		}
		if err != nil {
			return nil, fmt.Errorf("onnx: binding output %s: %w", s.Outputs[i], err)
		}
	}
	if err := errOf(C.ortx_run(s.s, s.b)); err != nil {
		return nil, fmt.Errorf("onnx: run: %w", err)
	}
	var list *unsafe.Pointer
	var n C.size_t
	if err := errOf(C.ortx_outputs(s.b, &list, &n)); err != nil {
		return nil, fmt.Errorf("onnx: bound outputs: %w", err)
	}
	defer C.ortx_free_list(list)
	vals := unsafe.Slice(list, int(n))
	out := make([]*DeviceValue, len(s.Outputs))
	for i, v := range vals {
		if i < len(onDevice) && onDevice[i] {
			out[i] = &DeviceValue{v: v}
		} else {
			C.ortx_value_release(v)
		}
	}
	if s.Provider != "cpu" {
		s.Traffic.ToDevice += moved.ToDevice
		s.Traffic.ToHost += moved.ToHost
	}
	return out, nil
}

// Destroy frees the binding and the session.
func (s *Bound) Destroy() {
	if s == nil || s.s == nil {
		return
	}
	C.ortx_binding_release(s.b)
	C.ortx_session_release(s.s)
	for _, n := range s.names {
		C.free(unsafe.Pointer(n))
	}
	C.free(unsafe.Pointer(s.mem))
	s.s, s.b, s.names = nil, nil, nil
}

// Reader copies values a run left on the device into host tensors, through a model of
// Identity nodes whose outputs are bound to the host.
type Reader struct {
	b *Bound
}

// NewReader prepares copies of float32 tensors of the given shapes on rt's provider.
func NewReader(shapes [][]int64, rt configs.Runtime) (*Reader, error) {
	model, in, out := identityModel(shapes)
	b, err := NewBound(model, in, out, rt)
	if err != nil {
		return nil, fmt.Errorf("onnx: reader: %w", err)
	}
	return &Reader{b: b}, nil
}

// Read copies src[i] into dst[i] (same shapes as NewReader's).
func (r *Reader) Read(src []Arg, dst []*HostTensor) error {
	if len(dst) != len(r.b.Outputs) {
		return fmt.Errorf("onnx: reader wants %d destinations, got %d", len(r.b.Outputs), len(dst))
	}
	_, err := r.b.Run(src, dst)
	return err
}

// Traffic is what the reads copied so far.
func (r *Reader) Traffic() Traffic { return r.b.Traffic }

// Destroy frees the reader's session.
func (r *Reader) Destroy() {
	if r != nil {
		r.b.Destroy()
	}
}
