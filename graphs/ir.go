package graphs

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"sort"

	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Opset and IRVersion are pinned for every model this package writes.
const (
	Opset     = 21
	IRVersion = 8
)

// BatchDim is the name of the symbolic batch dimension (shape entry -1).
const BatchDim = "N"

// DType is the element type of a value.
type DType int

// Element types: Float is float32, the type of every differentiable value.
const (
	Float DType = iota
	Int64
	Bool
)

func (d DType) proto() int32 {
	switch d {
	case Int64:
		return int32(onnxpb.TensorProto_INT64)
	case Bool:
		return int32(onnxpb.TensorProto_BOOL)
	}
	return int32(onnxpb.TensorProto_FLOAT)
}

func (d DType) String() string { return [...]string{"float32", "int64", "bool"}[d] }

// Value is one tensor of a graph: a graph input, a constant (initializer) or a node output.
type Value struct {
	name  string
	dtype DType
	shape []int64
	node  *Node // producer, nil for inputs and constants
	f32   []float32
	i64   []int64
	init  bool // constant or named initializer
	input bool
}

// Name is the value's name in the model.
func (v *Value) Name() string { return v.name }

// Shape returns a copy of the shape; -1 marks the symbolic batch dimension.
func (v *Value) Shape() []int64 { return append([]int64(nil), v.shape...) }

// Rank is the number of dimensions.
func (v *Value) Rank() int { return len(v.shape) }

// DType is the element type.
func (v *Value) DType() DType { return v.dtype }

// IsConst reports whether v is a constant or initializer (no gradient flows into it).
func (v *Value) IsConst() bool { return v.init }

// Size is the number of elements of a static shape (-1 when symbolic).
func (v *Value) Size() int64 { return numel(v.shape) }

func numel(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// attr is one node attribute; exactly one of the fields is meaningful, chosen by kind.
type attr struct {
	name string
	kind onnxpb.AttributeProto_AttributeType
	i    int64
	f    float32
	ints []int64
}

// Node is one ONNX operator application.
type Node struct {
	Op    Op
	Name  string
	In    []*Value // nil entries are omitted optional inputs
	Out   []*Value
	attrs []attr
}

func (n *Node) attrInt(name string, def int64) int64 {
	for _, a := range n.attrs {
		if a.name == name {
			return a.i
		}
	}
	return def
}

func (n *Node) attrFloat(name string, def float32) float32 {
	for _, a := range n.attrs {
		if a.name == name {
			return a.f
		}
	}
	return def
}

func (n *Node) attrInts(name string) []int64 {
	for _, a := range n.attrs {
		if a.name == name {
			return a.ints
		}
	}
	return nil
}

func aInt(name string, v int64) attr { return attr{name: name, kind: onnxpb.AttributeProto_INT, i: v} }
func aFloat(name string, v float32) attr {
	return attr{name: name, kind: onnxpb.AttributeProto_FLOAT, f: v}
}
func aInts(name string, v []int64) attr {
	return attr{name: name, kind: onnxpb.AttributeProto_INTS, ints: append([]int64(nil), v...)}
}

// Graph is a graph under construction. It is not safe for concurrent use.
type Graph struct {
	name    string
	nodes   []*Node
	inputs  []*Value
	outputs []*Value
	outName []string
	inits   []*Value
	consts  map[string]*Value
	names   map[string]bool
	counter int
	scope   string
	err     error
	Meta    map[string]string // written as the model's metadata_props, sorted by key
	// Target chooses how Model lowers nodes for the runtime that will run them: TargetCPU
	// (the default) or TargetGPU. The graph and its gradients are the same for both.
	Target Target
}

// Target is the kind of execution provider a written model is tuned for.
type Target int

const (
	// TargetCPU writes small ConvTransposes as MatMul + Col2Im, large strided ones as a
	// sub-pixel Conv plus an interleave (lowerSubpixel), Convs with few output maps as a 1x1
	// Conv plus shift sums (lowerNarrowConv) and gradient sums as Sum: all faster on ORT's
	// CPU provider.
	TargetCPU Target = iota
	// TargetGPU writes only ops the WebGPU provider implements: ConvTranspose stays itself
	// and Sum becomes a chain of Adds (WebGPU has no Col2Im or Sum kernel, so those nodes
	// would run on the CPU with copies either side).
	TargetGPU
)

// TargetFor maps a runtime.provider to the lowering its sessions want.
func TargetFor(provider string) Target {
	if provider == "" || provider == "cpu" {
		return TargetCPU
	}
	return TargetGPU
}

// NewGraph starts an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{name: name, consts: map[string]*Value{}, names: map[string]bool{}, Meta: map[string]string{}}
}

// Err is the first error met while building, or nil.
func (g *Graph) Err() error { return g.err }

// Nodes returns the nodes in build (topological) order.
func (g *Graph) Nodes() []*Node { return g.nodes }

// Scope sets the prefix of the names of values and nodes built next (e.g. "enc.conv1") and
// returns the previous one, so callers can restore it.
func (g *Graph) Scope(s string) string {
	old := g.scope
	g.scope = s
	return old
}

// placeholder is what constructors return once the graph has an error.
func (g *Graph) placeholder() *Value { return &Value{name: "<error>", shape: []int64{}} }

// fail records the first error, naming the node that was being built.
func (g *Graph) fail(op Op, format string, args ...any) *Value {
	if g.err == nil {
		where := string(op)
		if g.scope != "" {
			where = g.scope + "/" + string(op)
		}
		g.err = fmt.Errorf("graphs: node %d %s: %s", len(g.nodes), where, fmt.Sprintf(format, args...))
	}
	return g.placeholder()
}

func (g *Graph) unique(base string) string {
	name := base
	for g.names[name] {
		g.counter++
		name = fmt.Sprintf("%s_%d", base, g.counter)
	}
	g.names[name] = true
	return name
}

// Input adds a float32 graph input. A -1 in shape is the symbolic batch dimension.
func (g *Graph) Input(name string, shape ...int64) *Value {
	if g.names[name] {
		panic(fmt.Sprintf("graphs: duplicate value name %q", name))
	}
	g.names[name] = true
	v := &Value{name: name, dtype: Float, shape: append([]int64{}, shape...), input: true}
	g.inputs = append(g.inputs, v)
	return v
}

// Initializer adds a named float32 initializer (a baked-in weight). It is not deduplicated.
func (g *Graph) Initializer(name string, shape []int64, data []float32) *Value {
	if g.names[name] {
		panic(fmt.Sprintf("graphs: duplicate value name %q", name))
	}
	if numel(shape) != int64(len(data)) {
		panic(fmt.Sprintf("graphs: initializer %s of shape %v needs %d values, got %d", name, shape, numel(shape), len(data)))
	}
	g.names[name] = true
	v := &Value{name: name, dtype: Float, shape: append([]int64{}, shape...), f32: data, init: true}
	g.inits = append(g.inits, v)
	return v
}

// Const returns a float32 constant, shared with any equal constant of the graph.
func (g *Graph) Const(shape []int64, data []float32) *Value {
	if numel(shape) != int64(len(data)) {
		panic(fmt.Sprintf("graphs: constant of shape %v needs %d values, got %d", shape, numel(shape), len(data)))
	}
	h := fnv.New64a()
	buf := make([]byte, 8)
	for _, d := range shape {
		binary.LittleEndian.PutUint64(buf, uint64(d))
		h.Write(buf)
	}
	for _, x := range data {
		binary.LittleEndian.PutUint32(buf, math.Float32bits(x))
		h.Write(buf[:4])
	}
	key := fmt.Sprintf("f%v:%d:%x", shape, len(data), h.Sum64())
	if v, ok := g.consts[key]; ok && sameF32(v.f32, data) {
		return v
	}
	v := &Value{name: g.unique(fmt.Sprintf("const%d", len(g.consts))), dtype: Float,
		shape: append([]int64{}, shape...), f32: append([]float32(nil), data...), init: true}
	g.consts[key] = v
	g.inits = append(g.inits, v)
	return v
}

// Scalar is a rank-0 float32 constant.
func (g *Graph) Scalar(x float32) *Value { return g.Const([]int64{}, []float32{x}) }

// ints is a 1-D int64 constant (shapes, axes, pads), shared like Const.
func (g *Graph) ints(data ...int64) *Value {
	key := fmt.Sprintf("i%v", data)
	if v, ok := g.consts[key]; ok {
		return v
	}
	v := &Value{name: g.unique(fmt.Sprintf("const%d", len(g.consts))), dtype: Int64,
		shape: []int64{int64(len(data))}, i64: append([]int64{}, data...), init: true}
	g.consts[key] = v
	g.inits = append(g.inits, v)
	return v
}

func sameF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// add appends a node with the given inputs, attributes and output types/shapes.
func (g *Graph) add(op Op, in []*Value, attrs []attr, outTypes []DType, outShapes ...[]int64) []*Value {
	for _, v := range in {
		if v != nil && v.name == "<error>" {
			return []*Value{g.fail(op, "input comes from a failed node")}
		}
	}
	base := string(op)
	if g.scope != "" {
		base = g.scope + "/" + string(op)
	}
	n := &Node{Op: op, In: in, attrs: attrs}
	n.Name = fmt.Sprintf("%s#%d", base, len(g.nodes)) // unique: the index is
	for i, s := range outShapes {
		dt := Float
		if outTypes != nil {
			dt = outTypes[i]
		}
		name := n.Name
		if len(outShapes) > 1 {
			name = fmt.Sprintf("%s:%d", n.Name, i)
		}
		name = g.unique(name)
		n.Out = append(n.Out, &Value{name: name, dtype: dt, shape: append([]int64{}, s...), node: n})
	}
	g.nodes = append(g.nodes, n)
	return n.Out
}

// Output marks v as a graph output called name. A value that is an input, a constant or
// already an output is passed through Identity. A rank-0 value is written with shape [1]:
// scalars cross the graph boundary as one-element vectors (onnxruntime_go has no rank-0
// tensors).
func (g *Graph) Output(name string, v *Value) {
	if g.err != nil {
		return
	}
	if v.Rank() == 0 {
		old := g.scope
		g.scope = ""
		v = g.Reshape(v, 1)
		g.scope = old
	}
	if v.input || v.init || v.node == nil || g.isOutput(v) {
		old := g.scope
		g.scope = ""
		v = g.add(OpIdentity, []*Value{v}, nil, []DType{v.dtype}, v.shape)[0]
		g.scope = old
	}
	if name != v.name {
		if g.names[name] {
			g.err = fmt.Errorf("graphs: output name %q is already used", name)
			return
		}
		delete(g.names, v.name)
		g.names[name] = true
		v.name = name
	}
	g.outputs = append(g.outputs, v)
	g.outName = append(g.outName, name)
}

func (g *Graph) isOutput(v *Value) bool {
	for _, o := range g.outputs {
		if o == v {
			return true
		}
	}
	return false
}

// Inputs returns the graph inputs in order.
func (g *Graph) Inputs() []*Value { return g.inputs }

// InputNames and OutputNames list the model's input and output names in order.
func (g *Graph) InputNames() []string {
	out := make([]string, len(g.inputs))
	for i, v := range g.inputs {
		out[i] = v.name
	}
	return out
}

// OutputNames lists the graph outputs in order.
func (g *Graph) OutputNames() []string { return append([]string(nil), g.outName...) }

func shapeProto(s []int64) *onnxpb.TensorShapeProto {
	sp := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
	for _, d := range s {
		if d < 0 {
			sp.Dim = append(sp.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}})
		} else {
			sp.Dim = append(sp.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return sp
}

func valueInfo(v *Value) *onnxpb.ValueInfoProto {
	et := v.dtype.proto()
	return &onnxpb.ValueInfoProto{Name: proto.String(v.name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et, Shape: shapeProto(v.shape)}}}}
}

func tensorProto(v *Value) *onnxpb.TensorProto {
	t := &onnxpb.TensorProto{Name: proto.String(v.name), Dims: append([]int64{}, v.shape...), DataType: proto.Int32(v.dtype.proto())}
	switch v.dtype {
	case Int64:
		raw := make([]byte, 8*len(v.i64))
		for i, x := range v.i64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
		}
		t.RawData = raw
	default:
		raw := make([]byte, 4*len(v.f32))
		for i, x := range v.f32 {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
		}
		t.RawData = raw
	}
	return t
}

// Proto converts the graph to a ModelProto (opset 21, IR 8).
func (g *Graph) Proto() (*onnxpb.ModelProto, error) {
	if g.err != nil {
		return nil, g.err
	}
	if len(g.outputs) == 0 {
		return nil, fmt.Errorf("graphs: graph %s has no outputs", g.name)
	}
	gp := &onnxpb.GraphProto{Name: proto.String(g.name)}
	used := map[*Value]bool{}
	var nodes []*Node
	for _, n := range g.nodes {
		nodes = append(nodes, g.lowering().lower(g, n)...)
	}
	for _, n := range live(nodes, g.outputs) {
		np := &onnxpb.NodeProto{OpType: proto.String(string(n.Op)), Name: proto.String(n.Name)}
		for _, v := range n.In {
			if v == nil {
				np.Input = append(np.Input, "")
				continue
			}
			used[v] = true
			np.Input = append(np.Input, v.name)
		}
		for _, v := range n.Out {
			np.Output = append(np.Output, v.name)
		}
		for _, a := range n.attrs {
			ap := &onnxpb.AttributeProto{Name: proto.String(a.name), Type: a.kind.Enum()}
			switch a.kind {
			case onnxpb.AttributeProto_INT:
				ap.I = proto.Int64(a.i)
			case onnxpb.AttributeProto_FLOAT:
				ap.F = proto.Float32(a.f)
			case onnxpb.AttributeProto_INTS:
				ap.Ints = append([]int64{}, a.ints...)
			}
			np.Attribute = append(np.Attribute, ap)
		}
		gp.Node = append(gp.Node, np)
	}
	for _, v := range g.outputs {
		used[v] = true
	}
	for _, v := range g.inits {
		if used[v] {
			gp.Initializer = append(gp.Initializer, tensorProto(v))
		}
	}
	for _, v := range g.inputs {
		gp.Input = append(gp.Input, valueInfo(v))
	}
	for _, v := range g.outputs {
		gp.Output = append(gp.Output, valueInfo(v))
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		ProducerName:    proto.String("camelsvae"),
		ProducerVersion: proto.String("1"),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		Graph:           gp,
	}
	keys := make([]string, 0, len(g.Meta))
	for k := range g.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(g.Meta[k])})
	}
	return m, nil
}

// live returns the nodes that contribute to outputs, in their order: a lowering that builds
// more than it returns must not cost ORT time (ORT runs nodes whose results go nowhere).
func live(nodes []*Node, outputs []*Value) []*Node {
	need := map[*Value]bool{}
	for _, v := range outputs {
		need[v] = true
	}
	keep := make([]bool, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		for _, v := range nodes[i].Out {
			if need[v] {
				keep[i] = true
				break
			}
		}
		if keep[i] {
			for _, v := range nodes[i].In {
				if v != nil {
					need[v] = true
				}
			}
		}
	}
	out := nodes[:0:0]
	for i, n := range nodes {
		if keep[i] {
			out = append(out, n)
		}
	}
	return out
}

// Artifact is one serialised model with its input and output names in order.
type Artifact struct {
	Name    string // file name, e.g. train_step.onnx
	Model   []byte
	Inputs  []string
	Outputs []string
}

// Artifact serialises the graph (Model) as the artifact called name.
func (g *Graph) Artifact(name string) (Artifact, error) {
	b, err := g.Model()
	if err != nil {
		return Artifact{}, fmt.Errorf("%s: %w", name, err)
	}
	return Artifact{Name: name, Model: b, Inputs: g.InputNames(), Outputs: g.OutputNames()}, nil
}

// Model serialises the graph deterministically: the same graph gives the same bytes.
func (g *Graph) Model() ([]byte, error) {
	m, err := g.Proto()
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("graphs: marshalling %s: %w", g.name, err)
	}
	return b, nil
}
