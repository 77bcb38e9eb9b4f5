// Package graphs writes ONNX graphs from Go: a small typed graph IR with shape inference,
// reverse-mode automatic differentiation into standard ONNX ops, and the lowering of a few
// nodes for the runtime that will run them. It knows no model; package vae builds one on it.
//
// Standard ONNX Runtime builds have no training API, so the backward pass is ours: Grad walks
// the forward nodes in reverse and emits, for each, the vector-Jacobian product of its
// operator's rule (rules.go) as ordinary ONNX nodes. The rules are maths only. Where the
// fastest form of a product depends on the runtime, they ask the graph's lowering (Target)
// for it: the kernel gradient of a convolution becomes GEMMs over copies shifted by one-hot
// grouped Convs, GEMMs over pixel phases or a dilated Conv on the CPU (lower_cpu.go), and
// split-K batched MatMuls on a GPU (lower_gpu.go). When a model is serialised the lowering
// also rewrites finished nodes: on the CPU, small ConvTransposes become MatMul + Col2Im, large
// strided ones a sub-pixel Conv plus a one-hot interleave, Convs with few output maps a 1x1
// Conv plus one-hot shift sums; on a GPU, Sums become Adds and long Gemms split-K products.
//
// Adding an operator: its constant and constructor (which infers the output shape) in
// ops.go, and its gradient rule in rules.go's table if gradients flow through it.
//
// # Invariants
//
//   - Every value is a tensor of float32 (or int64/bool for shape and mask helpers) with a
//     shape known when it is created. A dimension of -1 is the symbolic batch dimension "N";
//     only inference graphs (encoder, decoder, eval) have one. Training graphs are fully static.
//   - Op constructors check and infer shapes as each node is added. The first failure is kept
//     (Graph.Err) and names the node; later constructors do nothing. Serialisation refuses a
//     graph with an error. Grad refuses a node on the gradient's path that has no rule or
//     several outputs.
//   - Nodes are stored in the order they are built, which is a topological order. Names of
//     nodes and values are derived from a per-graph counter and the current scope, so the same
//     building code gives the same names, and Model gives the same bytes (deterministic proto
//     marshalling, constants deduplicated in first-use order, metadata sorted by key).
//   - Models are written with opset 21 and IR version 8.
//   - This package builds bytes only and imports nothing of the project but the ONNX types; it
//     never loads ONNX Runtime. Tests run the graphs through package onnx.
//
// A caller's mistake (wrong number of parameter slices, a nil value) panics with a "graphs:"
// prefix; a shape error while building is returned as an error naming the node.
package graphs
