package formats_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/formats"
)

// Write two arrays as an .npz archive (numpy.load reads it) and read them back.
func ExampleReadNPZ() {
	dir, _ := os.MkdirTemp("", "npz")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "weights.npz")
	arrays := map[string]formats.Array{
		"w": formats.F32Array([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
		"b": formats.F64Array([]float64{0.5}, 1),
	}
	if err := formats.WriteNPZ(path, []string{"w", "b"}, arrays); err != nil {
		panic(err)
	}
	got, err := formats.ReadNPZ(path)
	if err != nil {
		panic(err)
	}
	fmt.Println(got["w"].DType(), got["w"].Shape, got["w"].F32)
	fmt.Println(got["b"].DType(), got["b"].Shape, got["b"].F64)
	// Output:
	// <f4 [2 3] [1 2 3 4 5 6]
	// <f8 [1] [0.5]
}
