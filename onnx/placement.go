package onnx

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Placement says where ONNX Runtime ran each node of a model: node names by execution
// provider (e.g. "WebGpuExecutionProvider", "CPUExecutionProvider"), including the Memcpy
// nodes ORT adds between providers.
type Placement map[string][]string

// Off lists the nodes that ran on a provider other than want's, sorted, as "Op(name)@EP";
// Memcpy nodes count (they are the copies a fallback costs).
func (p Placement) Off(want string) []string {
	ep := providerEP(want)
	var out []string
	for prov, nodes := range p {
		if prov != ep {
			for _, n := range nodes {
				out = append(out, n+"@"+prov)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Count is the number of nodes placed on provider's EP.
func (p Placement) Count(provider string) int { return len(p[providerEP(provider)]) }

func providerEP(provider string) string {
	switch provider {
	case "webgpu":
		return "WebGpuExecutionProvider"
	case "cuda":
		return "CUDAExecutionProvider"
	}
	return "CPUExecutionProvider"
}

// PlacementOf runs model once on rt's provider with ORT's profiler on and zero-filled inputs
// (a symbolic dimension set to 1) and reads which provider ran each node.
func PlacementOf(model []byte, rt configs.Runtime) (Placement, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("onnx: placement: %w", err)
	}
	var inputs, outputs []string
	var shapes [][]int64
	inits := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, in := range m.GetGraph().GetInput() {
		if inits[in.GetName()] {
			continue
		}
		var shape []int64
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			v := d.GetDimValue()
			if v <= 0 {
				v = 1
			}
			shape = append(shape, v)
		}
		inputs = append(inputs, in.GetName())
		shapes = append(shapes, shape)
	}
	for _, o := range m.GetGraph().GetOutput() {
		outputs = append(outputs, o.GetName())
	}
	dir, err := os.MkdirTemp("", "camelsvae-placement-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := rt
	r.Profile = filepath.Join(dir, "p")
	s, err := NewSession(model, inputs, outputs, r)
	if err != nil {
		return nil, err
	}
	in := make([][]float32, len(inputs))
	for i, sh := range shapes {
		n := int64(1)
		for _, d := range sh {
			n *= d
		}
		in[i] = make([]float32, n)
	}
	_, _, err = RunFloat32(s, in, shapes)
	s.Destroy() // writes the profile
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "p*.json"))
	if len(files) != 1 {
		return nil, fmt.Errorf("onnx: placement: expected one profile in %s, found %d", dir, len(files))
	}
	return readPlacement(files[0])
}

// readPlacement parses an ORT profile (a JSON array of trace events).
func readPlacement(path string) (Placement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Args struct {
			Op       string `json:"op_name"`
			Provider string `json:"provider"`
		} `json:"args"`
	}
	if err := json.Unmarshal(b, &events); err != nil {
		return nil, fmt.Errorf("onnx: profile %s: %w", path, err)
	}
	p := Placement{}
	seen := map[string]bool{}
	for _, e := range events {
		name, ok := strings.CutSuffix(e.Name, "_kernel_time")
		if e.Cat != "Node" || !ok || e.Args.Provider == "" || seen[name] {
			continue
		}
		seen[name] = true
		p[e.Args.Provider] = append(p[e.Args.Provider], e.Args.Op+"("+name+")")
	}
	for _, v := range p {
		sort.Strings(v)
	}
	return p, nil
}
