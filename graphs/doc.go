// Package graphs writes the VAE's ONNX graphs from Go: a small typed graph IR with shape
// inference, reverse-mode automatic differentiation into standard ONNX ops, the study's VAE,
// its losses, an Adam update, and the artifacts the trainer and other ONNX consumers load.
//
// Standard ONNX Runtime builds have no training API, so the backward pass is ours: Grad walks
// the forward nodes in reverse and emits, for each, the vector-Jacobian product as ordinary
// ONNX nodes (Conv input gradient as a Conv with the flipped kernel or a ConvTranspose, Conv
// weight gradient as GEMMs over copies shifted by one-hot grouped Convs, or a dilated Conv where
// those do not pay, broadcasting undone with ReduceSum, LeakyRelu as a multiply by a mask of
// its output). Model then lowers some nodes for the runtime that will run them (Target): on the
// CPU, small ConvTransposes become MatMul + Col2Im, large strided ones a sub-pixel Conv plus a
// one-hot interleave, and Convs with few output maps a 1x1 Conv plus one-hot shift sums.
//
// # Invariants
//
//   - Every value is a tensor of float32 (or int64/bool for shape and mask helpers) with a
//     shape known when it is created. A dimension of -1 is the symbolic batch dimension "N";
//     only inference graphs (encoder, decoder, eval) have one. Training graphs are fully static.
//   - Op constructors check and infer shapes as each node is added. The first failure is kept
//     (Graph.Err) and names the node; later constructors do nothing. Serialisation refuses a
//     graph with an error.
//   - Nodes are stored in the order they are built, which is a topological order. Names of
//     nodes and values are derived from a per-graph counter and the current scope, so the same
//     building code gives the same names, and Model gives the same bytes (deterministic proto
//     marshalling, constants deduplicated in first-use order, metadata sorted by key).
//   - Models are written with opset 21 and IR version 8.
//   - This package builds bytes only; it never loads ONNX Runtime. Tests run the graphs through
//     package onnx.
//
// A caller's mistake (wrong number of parameter slices, a nil value) panics with a "graphs:"
// prefix; a shape error while building is returned as an error naming the node.
package graphs
