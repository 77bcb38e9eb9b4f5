package pca_test

import (
	"fmt"

	"github.com/camelsvae/camelsvae/pca"
)

// Fit a two-component PCA to four points on a tilted plane, then compress a point to its two
// coefficients and back.
func ExampleFit() {
	rows := [][]float32{{1, 2, 3}, {2, 4, 6.5}, {3, 6, 9}, {4, 8, 11.5}}
	m, err := pca.Fit(rows, pca.Options{Components: 2, Solver: "exact", Engine: pca.EngineGonum})
	if err != nil {
		panic(err)
	}
	fmt.Printf("explained variance: %.4f of the total\n", m.CumulativeRatio[1])
	coef := m.Transform(rows[:1])
	back := m.InverseTransform(coef)
	fmt.Printf("%.2f -> %d numbers -> %.2f\n", rows[0], len(coef[0]), back[0])
	// Output:
	// explained variance: 1.0000 of the total
	// [1.00 2.00 3.00] -> 2 numbers -> [1.00 2.00 3.00]
}
