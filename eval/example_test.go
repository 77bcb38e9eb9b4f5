package eval_test

import (
	"fmt"

	"github.com/camelsvae/camelsvae/eval"
)

// SSIM of a smooth 16x16 map against itself and against a copy with a constant offset, as
// scikit-image's structural_similarity computes it (Gaussian window of sigma 1.5; it gives
// 0.990 for the offset pair too).
func ExampleSSIM() {
	const n = 16
	a, b := make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		x, y := float32(i%n), float32(i/n)
		a[i] = 0.01 * (x*x + 2*y)
		b[i] = a[i] + 0.1
	}
	self, err := eval.SSIM(a, a, n, n, 1)
	if err != nil {
		panic(err)
	}
	offset, err := eval.SSIM(a, b, n, n, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("itself %.3f, offset by 0.1: %.3f\n", self, offset)
	fmt.Printf("PSNR of the offset: %.1f dB\n", eval.PSNR(eval.MSE(a, b), 1))
	// Output:
	// itself 1.000, offset by 0.1: 0.990
	// PSNR of the offset: 20.0 dB
}
