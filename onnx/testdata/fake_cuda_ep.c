// A stand-in for ONNX Runtime's CUDA provider plugin, for tests on machines without a GPU:
// it registers like the real one, offers the machine's CPU as a CUDAExecutionProvider
// device, and fails where the real one would start using the GPU (CreateEp), so that the
// whole plugin path (register, list devices, append V2, create the session) runs up to that
// point. Built by the tests with gcc -shared.
#include <stdbool.h>
#include <stddef.h>

#include "../include/onnxruntime_c_api.h"

static const OrtApi* api;

static const char* ORT_API_CALL get_name(const OrtEpFactory* f) { (void)f; return "CUDAExecutionProvider"; }
static const char* ORT_API_CALL get_vendor(const OrtEpFactory* f) { (void)f; return "camelsvae test"; }

static OrtStatus* ORT_API_CALL get_supported_devices(OrtEpFactory* f, const OrtHardwareDevice* const* devices,
                                                     size_t num_devices, OrtEpDevice** ep_devices,
                                                     size_t max_ep_devices, size_t* num_ep_devices) {
  *num_ep_devices = 0;
  for (size_t i = 0; i < num_devices && *num_ep_devices < max_ep_devices; i++) {
    if (api->HardwareDevice_Type(devices[i]) != OrtHardwareDeviceType_CPU) continue;
    OrtStatus* st = api->GetEpApi()->CreateEpDevice(f, devices[i], NULL, NULL, &ep_devices[*num_ep_devices]);
    if (st != NULL) return st;
    (*num_ep_devices)++;
  }
  return NULL;
}

static OrtStatus* ORT_API_CALL create_ep(OrtEpFactory* f, const OrtHardwareDevice* const* devices,
                                         const OrtKeyValuePairs* const* metadata, size_t num_devices,
                                         const OrtSessionOptions* options, const OrtLogger* logger, OrtEp** ep) {
  (void)f; (void)devices; (void)metadata; (void)num_devices; (void)options; (void)logger;
  *ep = NULL;
  return api->CreateStatus(ORT_EP_FAIL, "fake CUDA provider: no GPU here");
}

static void ORT_API_CALL release_ep(OrtEpFactory* f, OrtEp* ep) { (void)f; (void)ep; }

// The members a factory of this API version has; they report "none" or "not applicable".
static uint32_t ORT_API_CALL get_vendor_id(const OrtEpFactory* f) { (void)f; return 0; }
static const char* ORT_API_CALL get_version(const OrtEpFactory* f) { (void)f; return "0.0.0"; }
static OrtStatus* ORT_API_CALL validate(OrtEpFactory* f, const OrtHardwareDevice* const* d, size_t n, const char* info,
                                        OrtCompiledModelCompatibility* out) {
  (void)f; (void)d; (void)n; (void)info;
  *out = OrtCompiledModelCompatibility_EP_NOT_APPLICABLE;
  return NULL;
}
static OrtStatus* ORT_API_CALL create_allocator(OrtEpFactory* f, const OrtMemoryInfo* m, const OrtKeyValuePairs* o,
                                                OrtAllocator** a) {
  (void)f; (void)m; (void)o;
  *a = NULL;
  return NULL;
}
static void ORT_API_CALL release_allocator(OrtEpFactory* f, OrtAllocator* a) { (void)f; (void)a; }
static OrtStatus* ORT_API_CALL create_data_transfer(OrtEpFactory* f, OrtDataTransferImpl** d) {
  (void)f;
  *d = NULL;
  return NULL;
}
static bool ORT_API_CALL is_stream_aware(const OrtEpFactory* f) { (void)f; return false; }
static OrtStatus* ORT_API_CALL create_stream(OrtEpFactory* f, const OrtMemoryDevice* m, const OrtKeyValuePairs* o,
                                             OrtSyncStreamImpl** s) {
  (void)f; (void)m; (void)o;
  *s = NULL;
  return NULL;
}
static OrtStatus* ORT_API_CALL incompatibility(OrtEpFactory* f, const OrtHardwareDevice* hw,
                                               OrtDeviceEpIncompatibilityDetails* d) {
  (void)f; (void)hw; (void)d;
  return NULL;
}
static OrtStatus* ORT_API_CALL create_importer(OrtEpFactory* f, const OrtEpDevice* d, OrtExternalResourceImporterImpl** i) {
  (void)f; (void)d;
  *i = NULL;
  return NULL;
}
static OrtStatus* ORT_API_CALL num_domains(OrtEpFactory* f, size_t* n) {
  (void)f;
  *n = 0;
  return NULL;
}
static OrtStatus* ORT_API_CALL domains(OrtEpFactory* f, OrtCustomOpDomain** d, size_t n) {
  (void)f; (void)d; (void)n;
  return NULL;
}

static OrtEpFactory factory;

OrtStatus* CreateEpFactories(const char* name, const OrtApiBase* base, const OrtLogger* logger,
                             OrtEpFactory** factories, size_t max_factories, size_t* num_factories) {
  (void)name; (void)logger;
  api = base->GetApi(ORT_API_VERSION);
  *num_factories = 0;
  if (api == NULL || max_factories < 1) return NULL;
  factory.ort_version_supported = ORT_API_VERSION;
  factory.GetName = get_name;
  factory.GetVendor = get_vendor;
  factory.GetSupportedDevices = get_supported_devices;
  factory.CreateEp = create_ep;
  factory.ReleaseEp = release_ep;
  factory.GetVendorId = get_vendor_id;
  factory.GetVersion = get_version;
  factory.ValidateCompiledModelCompatibilityInfo = validate;
  factory.CreateAllocator = create_allocator;
  factory.ReleaseAllocator = release_allocator;
  factory.CreateDataTransfer = create_data_transfer;
  factory.IsStreamAware = is_stream_aware;
  factory.CreateSyncStreamForDevice = create_stream;
  factory.GetHardwareDeviceIncompatibilityDetails = incompatibility;
  factory.CreateExternalResourceImporterForDevice = create_importer;
  factory.GetNumCustomOpDomains = num_domains;
  factory.GetCustomOpDomains = domains;
  factories[0] = &factory;
  *num_factories = 1;
  return NULL;
}

OrtStatus* ReleaseEpFactory(OrtEpFactory* f) { (void)f; return NULL; }
