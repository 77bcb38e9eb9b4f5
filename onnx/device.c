#include "device.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "include/onnxruntime_c_api.h"

static const OrtApi* api;
static OrtEnv* env;

static char* dupmsg(const char* m) {
  char* s = malloc(strlen(m) + 1);
  if (s) strcpy(s, m);
  return s;
}

// check turns a status into a message the caller frees (NULL on success).
static char* check(OrtStatus* st) {
  if (st == NULL) return NULL;
  char* m = dupmsg(api->GetErrorMessage(st));
  api->ReleaseStatus(st);
  return m;
}

char* ortx_init(const char* path) {
  if (api != NULL) return NULL;
  void* h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (h == NULL) h = dlopen(path, RTLD_NOW);
  if (h == NULL) return dupmsg(dlerror());
  const OrtApiBase* (*base)(void) = (const OrtApiBase* (*)(void))dlsym(h, "OrtGetApiBase");
  if (base == NULL) return dupmsg("OrtGetApiBase not found");
  const OrtApi* a = base()->GetApi(ORT_API_VERSION);
  if (a == NULL) return dupmsg("the library does not offer ONNX Runtime C API version 24");
  api = a;
  // The environment is a process singleton: this returns the one onnxruntime_go made.
  char* err = check(api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "camelsvae", &env));
  if (err != NULL) api = NULL;
  return err;
}

char* ortx_session(const void* model, size_t len, void* options, void** out) {
  return check(api->CreateSessionFromArray(env, model, len, (OrtSessionOptions*)options, (OrtSession**)out));
}

void ortx_session_release(void* s) { api->ReleaseSession((OrtSession*)s); }

char* ortx_binding(void* s, void** out) { return check(api->CreateIoBinding((OrtSession*)s, (OrtIoBinding**)out)); }

void ortx_binding_release(void* b) { api->ReleaseIoBinding((OrtIoBinding*)b); }

char* ortx_bind_input(void* b, const char* name, void* value) {
  return check(api->BindInput((OrtIoBinding*)b, name, (const OrtValue*)value));
}

char* ortx_bind_output(void* b, const char* name, void* value) {
  return check(api->BindOutput((OrtIoBinding*)b, name, (const OrtValue*)value));
}

char* ortx_bind_output_device(void* b, const char* name, const char* mem, int id) {
  OrtMemoryInfo* info;
  char* err = check(api->CreateMemoryInfo(mem, OrtDeviceAllocator, id, OrtMemTypeDefault, &info));
  if (err != NULL) return err;
  err = check(api->BindOutputToDevice((OrtIoBinding*)b, name, info));
  api->ReleaseMemoryInfo(info);
  return err;
}

void ortx_clear(void* b) {
  api->ClearBoundInputs((OrtIoBinding*)b);
  api->ClearBoundOutputs((OrtIoBinding*)b);
}

char* ortx_run(void* s, void* b) { return check(api->RunWithBinding((OrtSession*)s, NULL, (OrtIoBinding*)b)); }

char* ortx_outputs(void* b, void*** values, size_t* n) {
  OrtAllocator* alloc;
  char* err = check(api->GetAllocatorWithDefaultOptions(&alloc));
  if (err != NULL) return err;
  OrtValue** vs = NULL;
  err = check(api->GetBoundOutputValues((OrtIoBinding*)b, alloc, &vs, n));
  if (err != NULL) return err;
  // Move the list into malloc'd memory so the caller frees it without the allocator.
  *values = malloc((*n > 0 ? *n : 1) * sizeof(void*));
  for (size_t i = 0; i < *n; i++) (*values)[i] = vs[i];
  if (vs != NULL) alloc->Free(alloc, vs);
  return NULL;
}

void ortx_free_list(void** values) { free(values); }

void ortx_value_release(void* v) { api->ReleaseValue((OrtValue*)v); }

char* ortx_host_tensor(float* data, const int64_t* shape, size_t rank, void** out) {
  OrtMemoryInfo* info;
  char* err = check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &info));
  if (err != NULL) return err;
  size_t n = 1;
  for (size_t i = 0; i < rank; i++) n *= (size_t)shape[i];
  err = check(api->CreateTensorWithDataAsOrtValue(info, data, n * sizeof(float), shape, rank,
                                                  ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, (OrtValue**)out));
  api->ReleaseMemoryInfo(info);
  return err;
}

char* ortx_value_location(void* v, const char** name, int* id) {
  const OrtMemoryInfo* info;
  char* err = check(api->GetTensorMemoryInfo((const OrtValue*)v, &info));
  if (err != NULL) return err;
  err = check(api->MemoryInfoGetName(info, name));
  if (err != NULL) return err;
  return check(api->MemoryInfoGetId(info, id));
}

char* ortx_ep_devices(const void* const** devices, size_t* n) {
  return check(api->GetEpDevices(env, (const OrtEpDevice* const**)devices, n));
}

const char* ortx_ep_device_name(const void* d) { return api->EpDevice_EpName((const OrtEpDevice*)d); }

int ortx_ep_device_type(const void* d) {
  return (int)api->HardwareDevice_Type(api->EpDevice_Device((const OrtEpDevice*)d));
}

const char* ortx_ep_device_vendor(const void* d) {
  return api->HardwareDevice_Vendor(api->EpDevice_Device((const OrtEpDevice*)d));
}

char* ortx_append_v2(void* options, const void* d, const char* const* keys, const char* const* vals, size_t n) {
  const OrtEpDevice* devs[1] = {(const OrtEpDevice*)d};
  return check(api->SessionOptionsAppendExecutionProvider_V2((OrtSessionOptions*)options, env, devs, 1, keys, vals, n));
}

char* ortx_dlopen_error(const char* name) {
  dlerror();
  void* h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
  if (h == NULL) {
    const char* e = dlerror();
    return dupmsg(e ? e : "dlopen failed");
  }
  dlclose(h);
  return NULL;
}
