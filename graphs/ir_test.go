package graphs

import "testing"

// TestProtoDropsDeadNodes: nodes whose results reach no output are not written (ORT would
// run them), and the initializers only they read go with them.
func TestProtoDropsDeadNodes(t *testing.T) {
	g := NewGraph("dead")
	x := g.Input("x", 2, 3)
	dead := g.Exp(g.Mul(x, g.Const([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})))
	g.Output("y", g.Neg(x))
	if dead.Size() != 6 {
		t.Fatal(dead.shape)
	}
	m, err := g.Proto()
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Graph.Node; len(n) != 1 || n[0].GetOpType() != "Neg" {
		t.Fatalf("want only the Neg node, got %v", n)
	}
	if len(m.Graph.Initializer) != 0 {
		t.Fatalf("initializer of a dead node written: %v", m.Graph.Initializer)
	}
}
