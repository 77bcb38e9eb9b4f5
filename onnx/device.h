// Device binding: the few ONNX Runtime C API calls onnxruntime_go does not expose (binding an
// output to device memory and keeping the resulting values), called through the same loaded
// library and its one environment.
#include <stddef.h>
#include <stdint.h>

typedef struct ortx_value ortx_value;

// ortx_init loads the API table from the library at path (already loaded by onnxruntime_go)
// and takes a reference to the process's ONNX Runtime environment. It returns an error
// message (to free) or NULL.
char* ortx_init(const char* path);

// ortx_session creates a session from model bytes with the given OrtSessionOptions.
char* ortx_session(const void* model, size_t len, void* options, void** out);
void ortx_session_release(void* s);

// ortx_binding creates an IO binding for s.
char* ortx_binding(void* s, void** out);
void ortx_binding_release(void* b);
char* ortx_bind_input(void* b, const char* name, void* value);
char* ortx_bind_output(void* b, const char* name, void* value);
// ortx_bind_output_device binds an output to the memory named mem ("WebGPU_Buffer", "Cuda",
// "Cpu") of device id: ORT allocates it there at each run.
char* ortx_bind_output_device(void* b, const char* name, const char* mem, int id);
void ortx_clear(void* b);
char* ortx_run(void* s, void* b);
// ortx_outputs returns the bound outputs (new references, in bind order).
char* ortx_outputs(void* b, void*** values, size_t* n);
void ortx_free_list(void** values);
void ortx_value_release(void* v);

// ortx_host_tensor wraps float32 data (C memory the caller owns) as a CPU tensor.
char* ortx_host_tensor(float* data, const int64_t* shape, size_t rank, void** out);
// ortx_value_location names the memory a tensor lives in.
char* ortx_value_location(void* v, const char** name, int* id);

// Plugin execution providers (ONNX Runtime's CUDA provider ships as one): the devices that
// registered libraries offer, and appending one to session options (API V2).
// ortx_ep_devices lists every OrtEpDevice of the environment (pointers owned by ORT).
char* ortx_ep_devices(const void* const** devices, size_t* n);
const char* ortx_ep_device_name(const void* d);
// ortx_ep_device_type is the hardware type: 0 CPU, 1 GPU, 2 NPU.
int ortx_ep_device_type(const void* d);
const char* ortx_ep_device_vendor(const void* d);
// ortx_append_v2 appends the provider of device d to options, with n key/value options.
char* ortx_append_v2(void* options, const void* d, const char* const* keys, const char* const* vals, size_t n);
// ortx_dlopen_error tries to load a shared library the way the dynamic linker would for a
// provider library, returning dlerror's message (to free) or NULL when it loads.
char* ortx_dlopen_error(const char* name);
