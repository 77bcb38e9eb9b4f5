package vae

import (
	"math/rand/v2"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/onnx"
	"github.com/camelsvae/camelsvae/onnx/onnxtest"
)

// stepper runs train_step then optimizer on tensors over Go memory, ping-ponging the
// parameter and moment buffers: what the trainer does, reduced to the loop.
type stepper struct {
	train, opt   *onnx.Session
	trainIn      []onnx.Value // params, x, eps, kl_weight
	trainOut     []onnx.Value // loss, mse, ssim, kl, grads
	optIn        [2][]onnx.Value
	optOut       [2][]onnx.Value
	params       [2][][]float32
	losses       [4][]float32
	size1, eps1  []float32 // Adam's step_size and eps_hat
	adam         AdamOptions
	n, iteration int
	paramT       [2][]onnx.Value
}

func newStepper(t testing.TB, v *VAE, batch int) *stepper {
	t.Helper()
	ts, err := v.TrainStep(batch)
	if err != nil {
		t.Fatal(err)
	}
	op, err := v.Optimizer()
	if err != nil {
		t.Fatal(err)
	}
	st := &stepper{n: len(v.Params()), size1: []float32{0}, eps1: []float32{0}, adam: v.Options().Adam}
	st.train = onnxtest.Session(t, ts.Name, ts.Model, ts.Inputs, ts.Outputs)
	st.opt = onnxtest.Session(t, op.Name, op.Model, op.Inputs, op.Outputs)
	mk := func(shape []int64, data []float32) onnx.Value {
		tt, err := onnx.NewTensor(shape, data)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tt.Destroy() })
		return tt
	}
	specs := v.Params()
	init := v.InitParams(1)
	var grads, m [2][]onnx.Value
	var vv [2][]onnx.Value
	for side := range 2 {
		for i, s := range specs {
			p := make([]float32, s.Size())
			if side == 0 {
				copy(p, init[i])
			}
			st.params[side] = append(st.params[side], p)
			st.paramT[side] = append(st.paramT[side], mk(s.Shape, p))
			m[side] = append(m[side], mk(s.Shape, make([]float32, s.Size())))
			vv[side] = append(vv[side], mk(s.Shape, make([]float32, s.Size())))
		}
	}
	for _, s := range specs {
		grads[0] = append(grads[0], mk(s.Shape, make([]float32, s.Size())))
	}
	r := rand.New(rand.NewPCG(1, 1))
	b := int64(batch)
	x := mk([]int64{b, 3, v.o.Size, v.o.Size}, onnxtest.Rand(r, b*3*v.o.Size*v.o.Size, -1, 1))
	eps := mk([]int64{b, v.o.Latent}, onnxtest.Rand(r, b*v.o.Latent, -1, 1))
	klw := mk([]int64{1}, []float32{0.1})
	for i := range st.losses {
		st.losses[i] = make([]float32, 1)
		st.trainOut = append(st.trainOut, mk([]int64{1}, st.losses[i]))
	}
	st.trainOut = append(st.trainOut, grads[0]...)
	sizeT, epsT := mk([]int64{1}, st.size1), mk([]int64{1}, st.eps1)
	for side := range 2 {
		other := 1 - side
		in := append(append(append(append([]onnx.Value{}, st.paramT[side]...), grads[0]...), m[side]...), vv[side]...)
		st.optIn[side] = append(in, sizeT, epsT)
		st.optOut[side] = append(append(append([]onnx.Value{}, st.paramT[other]...), m[other]...), vv[other]...)
	}
	st.trainIn = append(append([]onnx.Value{}, st.paramT[0]...), x, eps, klw)
	return st
}

// step runs one training step and returns the loss.
func (st *stepper) step(t testing.TB) float32 {
	side := st.iteration % 2
	copy(st.trainIn, st.paramT[side])
	if err := st.train.Run(st.trainIn, st.trainOut); err != nil {
		t.Fatal(err)
	}
	st.iteration++
	st.size1[0], st.eps1[0] = AdamScalars(st.adam, 3e-4, st.iteration)
	if err := st.opt.Run(st.optIn[side], st.optOut[side]); err != nil {
		t.Fatal(err)
	}
	return st.losses[0][0]
}

// TestFullSize loads every full-size artifact (256x256, 32,366,403 parameters) in ORT 1.30
// on the CPU and runs two training steps at batch 2: the loss is finite and changes.
func TestFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size artifacts take about a minute")
	}
	v, err := FromConfig(configs.Default())
	if err != nil {
		t.Fatal(err)
	}
	p := v.InitParams(100)
	enc, err := v.Encoder(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	onnxtest.Session(t, enc.Name, enc.Model, enc.Inputs, enc.Outputs)
	dec, err := v.Decoder(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	onnxtest.Session(t, dec.Name, dec.Model, dec.Inputs, dec.Outputs)
	ev, err := v.EvalStep(0)
	if err != nil {
		t.Fatal(err)
	}
	onnxtest.Session(t, ev.Name, ev.Model, ev.Inputs, ev.Outputs)
	st := newStepper(t, v, 2)
	l1 := st.step(t)
	l2 := st.step(t)
	if !(l1 > 0 && l2 > 0) || l1 == l2 || l1 != l1 || l2 != l2 {
		t.Fatalf("losses %g then %g", l1, l2)
	}
	t.Logf("full-size losses: %g, %g", l1, l2)
}
