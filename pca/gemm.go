package pca

import (
	"fmt"
	"runtime"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/graphs"
	"github.com/camelsvae/camelsvae/onnx"
)

// gemmShape is one shape class of float32 products run through ONNX Runtime: Y (m x n) =
// op(A) op(B) (+ C, a [1, n] row broadcast over Y's rows when bias is set), where op
// transposes when the flag is set; kk is the inner dimension.
type gemmShape struct {
	m, n, kk       int
	transA, transB bool
	bias           bool
}

// ortGemm runs float32 products on ONNX Runtime's CPU provider (MLAS SGEMM, one intra-op
// thread per core, not spinning between products, which leaves the cores to the Go code that
// prepares the blocks), one static-shape Gemm session per shape class, built on first use. Inputs
// and outputs are tensors over the caller's slices: no copies. Not safe for concurrent use;
// Close frees the sessions.
type ortGemm struct {
	rt       configs.Runtime
	sessions map[gemmShape]*onnx.Session
}

// newORTGemm checks that the runtime is initialised (onnx.Setup) and returns an empty runner.
func newORTGemm() (*ortGemm, error) {
	if onnx.LibraryPath() == "" {
		return nil, fmt.Errorf("pca: engine %q: ONNX Runtime is not initialised (call onnx.Setup first)", EngineONNX)
	}
	rt := configs.Runtime{Provider: "cpu", IntraOpThreads: runtime.NumCPU()}
	return &ortGemm{rt: rt, sessions: map[gemmShape]*onnx.Session{}}, nil
}

// Close destroys every session.
func (o *ortGemm) Close() {
	for _, s := range o.sessions {
		s.Destroy()
	}
	clear(o.sessions)
}

func (o *ortGemm) session(s gemmShape) (*onnx.Session, error) {
	if sess, ok := o.sessions[s]; ok {
		return sess, nil
	}
	g := graphs.NewGraph(fmt.Sprintf("pca_gemm_%dx%dx%d", s.m, s.n, s.kk))
	a := g.Input("a", opDims(s.m, s.kk, s.transA)...)
	b := g.Input("b", opDims(s.kk, s.n, s.transB)...)
	var c *graphs.Value
	if s.bias {
		c = g.Input("c", 1, int64(s.n))
	}
	g.Output("y", g.Gemm(a, b, c, s.transA, s.transB))
	model, err := g.Model()
	if err != nil {
		return nil, fmt.Errorf("pca: gemm graph %+v: %w", s, err)
	}
	sess, err := onnx.NewSession(model, g.InputNames(), []string{"y"}, o.rt)
	if err != nil {
		return nil, fmt.Errorf("pca: gemm session %+v: %w", s, err)
	}
	o.sessions[s] = sess
	return sess, nil
}

// run computes y = op(a) op(b) (+ c) for the shape class s; the slices hold exactly the
// operands (row-major), and c is nil unless s.bias.
func (o *ortGemm) run(s gemmShape, a, b, c, y []float32) error {
	sess, err := o.session(s)
	if err != nil {
		return err
	}
	in := []onnx.Value{nil, nil}
	if s.bias {
		in = append(in, nil)
	}
	out := []onnx.Value{nil}
	defer onnx.DestroyAll(in)
	defer onnx.DestroyAll(out)
	if in[0], err = newTensor(opDims(s.m, s.kk, s.transA), a); err != nil {
		return err
	}
	if in[1], err = newTensor(opDims(s.kk, s.n, s.transB), b); err != nil {
		return err
	}
	if s.bias {
		if in[2], err = newTensor([]int64{1, int64(s.n)}, c); err != nil {
			return err
		}
	}
	if out[0], err = newTensor([]int64{int64(s.m), int64(s.n)}, y); err != nil {
		return err
	}
	if err := sess.Run(in, out); err != nil {
		return fmt.Errorf("pca: gemm %+v: %w", s, err)
	}
	return nil
}

// newTensor is onnx.NewTensor returning the interface type, so a failed call leaves a nil
// interface (not a typed nil) for DestroyAll.
func newTensor(shape []int64, data []float32) (onnx.Value, error) {
	t, err := onnx.NewTensor(shape, data)
	if err != nil {
		return nil, fmt.Errorf("pca: %w", err)
	}
	return t, nil
}

// opDims is the stored shape of an r x c operand, transposed when t is set.
func opDims(r, c int, t bool) []int64 {
	if t {
		return []int64{int64(c), int64(r)}
	}
	return []int64{int64(r), int64(c)}
}
