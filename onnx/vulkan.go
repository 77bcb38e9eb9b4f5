package onnx

// #include <stdlib.h>
// int ortx_vulkan_devices(char* out, size_t len);
import "C"

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Adapter is a Vulkan physical device: what the WebGPU provider (Dawn) can run on, on Linux.
type Adapter struct {
	Name string
	Kind string // discrete GPU, integrated GPU, virtual GPU, CPU (software), other
	API  string // Vulkan version
	rank int
}

func (a Adapter) String() string { return fmt.Sprintf("%s (%s, Vulkan %s)", a.Name, a.Kind, a.API) }

// VulkanAdapters lists the Vulkan devices, the one Dawn prefers for high performance first
// (discrete, then integrated, virtual, software). The error says what is missing.
func VulkanAdapters() ([]Adapter, error) {
	buf := (*C.char)(C.malloc(8192))
	defer C.free(unsafe.Pointer(buf))
	n := C.ortx_vulkan_devices(buf, 8192)
	text := C.GoString(buf)
	if n < 0 {
		return nil, errors.New(text)
	}
	kinds := map[int]struct {
		name string
		rank int
	}{0: {"other", 4}, 1: {"integrated GPU", 1}, 2: {"discrete GPU", 0}, 3: {"virtual GPU", 2}, 4: {"CPU, software", 3}}
	var out []Adapter
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			continue
		}
		t, _ := strconv.Atoi(f[0])
		k := kinds[t]
		if k.name == "" {
			k = kinds[0]
		}
		out = append(out, Adapter{Name: f[1], Kind: k.name, API: f[2], rank: k.rank})
	}
	if len(out) == 0 {
		return nil, errors.New("the Vulkan loader found no device")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank < out[j].rank })
	return out, nil
}
