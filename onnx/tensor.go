package onnx

import (
	"fmt"

	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// Value is any ONNX Runtime value (tensor) passed to or returned by Session.Run.
type Value = ort.Value

// Tensor is a float32 tensor over Go memory.
type Tensor = ort.Tensor[float32]

// NewTensor wraps data (no copy) as a float32 tensor of the given shape; len(data) must be
// the shape's element count. The caller destroys it and keeps data alive until then.
func NewTensor(shape []int64, data []float32) (*Tensor, error) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("onnx: tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	t, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, fmt.Errorf("onnx: tensor %v: %w", shape, err)
	}
	return t, nil
}

// Float32s returns the data and shape of a float32 output value.
func Float32s(v Value) ([]float32, []int64, error) {
	t, ok := v.(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("onnx: output is %T, want a float32 tensor", v)
	}
	return t.GetData(), t.GetShape(), nil
}

// DestroyAll destroys every non-nil value.
func DestroyAll(vs []Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// RunFloat32 is a convenience for tests and small jobs: it runs model once on named float32
// inputs and returns copies of the named outputs. shapes[i] is the shape of inputs[i].
func RunFloat32(s *Session, inputs [][]float32, shapes [][]int64) ([][]float32, [][]int64, error) {
	if len(inputs) != len(s.Inputs) || len(shapes) != len(inputs) {
		return nil, nil, fmt.Errorf("onnx: model wants %d inputs %v, got %d", len(s.Inputs), s.Inputs, len(inputs))
	}
	in := make([]Value, len(inputs))
	defer DestroyAll(in)
	for i := range inputs {
		t, err := NewTensor(shapes[i], inputs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", s.Inputs[i], err)
		}
		in[i] = t
	}
	out := make([]Value, len(s.Outputs))
	defer DestroyAll(out)
	if err := s.Run(in, out); err != nil {
		return nil, nil, err
	}
	data := make([][]float32, len(out))
	outShapes := make([][]int64, len(out))
	for i, v := range out {
		d, sh, err := Float32s(v)
		if err != nil {
			return nil, nil, fmt.Errorf("output %s: %w", s.Outputs[i], err)
		}
		data[i] = append([]float32(nil), d...)
		outShapes[i] = append([]int64(nil), sh...)
	}
	return data, outShapes, nil
}

// probeModel is y = Relu(x) for a float32 [1] input: the smallest model that makes a session.
func probeModel() []byte {
	f := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: &f,
				Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
					{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}},
			}}}}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(21)}},
		Graph: &onnxpb.GraphProto{
			Name:   proto.String("probe"),
			Node:   []*onnxpb.NodeProto{{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err) // a fixed message always marshals
	}
	return b
}

// identityModel is y_i = Identity(x_i) for float32 tensors of the given shapes.
func identityModel(shapes [][]int64) ([]byte, []string, []string) {
	f := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string, shape []int64) *onnxpb.ValueInfoProto {
		var dims []*onnxpb.TensorShapeProto_Dimension
		for _, d := range shape {
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: &f, Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	g := &onnxpb.GraphProto{Name: proto.String("identity")}
	var ins, outs []string
	for i, s := range shapes {
		x, y := fmt.Sprintf("x%d", i), fmt.Sprintf("y%d", i)
		ins, outs = append(ins, x), append(outs, y)
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"), Name: proto.String(y), Input: []string{x}, Output: []string{y}})
		g.Input = append(g.Input, vi(x, s))
		g.Output = append(g.Output, vi(y, s))
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(21)}},
		Graph:       g,
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err) // a well-formed message always marshals
	}
	return b, ins, outs
}
