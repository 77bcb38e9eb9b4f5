//go:build !amd64 || purego

package preprocess

// useAVX2 is false off amd64 (or with the purego tag): the pure-Go kernels run.
var useAVX2, useAVX512 = false, false

func lnRowAVX2(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int { return 0 }

func asinhRowAVX2(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int {
	return 0
}

func linRowAVX2(dst, src *float32, n int, a, b float64) int { return 0 }

func reverseAVX2(dst, src *float32, n int) {}

func transpose8AVX2(dst *float32, ds int, src *float32, ss int) {}

func lnRowAVX512(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int { return 0 }

func asinhRowAVX512(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int {
	return 0
}
