// Lists the Vulkan physical devices the Vulkan loader finds, the adapters Dawn (the WebGPU
// implementation inside ONNX Runtime) chooses from on Linux. Loaded with dlopen, so nothing
// links against Vulkan; the few structures are declared here as the Vulkan ABI lays them out.
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*vk_void_fn)(void);
typedef vk_void_fn (*vk_get_proc_fn)(void* instance, const char* name);

typedef struct {
  int32_t sType;  // VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1
  const void* pNext;
  uint32_t flags;
  const void* pApplicationInfo;
  uint32_t enabledLayerCount;
  const char* const* ppEnabledLayerNames;
  uint32_t enabledExtensionCount;
  const char* const* ppEnabledExtensionNames;
} vk_instance_create_info;

typedef struct {
  uint32_t apiVersion;
  uint32_t driverVersion;
  uint32_t vendorID;
  uint32_t deviceID;
  int32_t deviceType;
  char deviceName[256];
  uint8_t rest[4096];  // pipelineCacheUUID, limits, sparse properties (824 bytes in all)
} vk_physical_device_properties;

// ortx_vulkan_devices writes one line per device into out ("type|name|api"), and returns the
// number of devices, or -1 with a reason in out.
int ortx_vulkan_devices(char* out, size_t len) {
  out[0] = 0;
  void* h = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(out, len, "no Vulkan loader: %s", dlerror());
    return -1;
  }
  vk_get_proc_fn gip = (vk_get_proc_fn)dlsym(h, "vkGetInstanceProcAddr");
  if (gip == NULL) {
    snprintf(out, len, "libvulkan.so.1 has no vkGetInstanceProcAddr");
    return -1;
  }
  int32_t (*create)(const vk_instance_create_info*, const void*, void**) =
      (int32_t (*)(const vk_instance_create_info*, const void*, void**))gip(NULL, "vkCreateInstance");
  vk_instance_create_info ci;
  memset(&ci, 0, sizeof ci);
  ci.sType = 1;
  void* inst = NULL;
  int32_t r = create ? create(&ci, NULL, &inst) : -1;
  if (r != 0) {
    snprintf(out, len, "vkCreateInstance failed (VkResult %d): no Vulkan driver (ICD) found", r);
    return -1;
  }
  int32_t (*enumerate)(void*, uint32_t*, void**) = (int32_t (*)(void*, uint32_t*, void**))gip(inst, "vkEnumeratePhysicalDevices");
  void (*props)(void*, vk_physical_device_properties*) = (void (*)(void*, vk_physical_device_properties*))gip(inst, "vkGetPhysicalDeviceProperties");
  void (*destroy)(void*, const void*) = (void (*)(void*, const void*))gip(inst, "vkDestroyInstance");
  void* devs[16];
  uint32_t n = 16;
  int count = 0;
  if (enumerate && props && enumerate(inst, &n, devs) >= 0) {
    size_t used = 0;
    for (uint32_t i = 0; i < n && used < len; i++) {
      vk_physical_device_properties p;
      memset(&p, 0, sizeof p);
      props(devs[i], &p);
      p.deviceName[255] = 0;
      used += snprintf(out + used, len - used, "%d|%s|%u.%u.%u\n", p.deviceType, p.deviceName, p.apiVersion >> 22,
                       (p.apiVersion >> 12) & 0x3ff, p.apiVersion & 0xfff);
      count++;
    }
  }
  if (destroy) destroy(inst, NULL);
  return count;
}
