//go:build amd64 && !purego

package preprocess

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2 row kernels of fastmath_amd64.s, which give the same bits as the
// pure-Go ones 8 pixels at a time. Tests clear it to run the pure-Go path.
var useAVX2 = cpu.X86.HasAVX2

// useAVX512 selects the AVX-512 versions of the ln and asinh kernels (same bits again, one
// 8-lane float64 register per 8 pixels). Tests clear it to run the AVX2 ones.
var useAVX512 = cpu.X86.HasAVX2 && cpu.X86.HasAVX512F

// lnRowAVX2 is lnKernel.row's loop over src[:n] (n a multiple of 8), with la = ln2*a. It
// stops before the first 8-pixel block holding a value row does not take and returns how
// many pixels it wrote.
//
//go:noescape
func lnRowAVX2(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int

// asinhRowAVX2 is asinhRow's loop over src[:n] (n a multiple of 8); it stops as lnRowAVX2.
//
//go:noescape
func asinhRowAVX2(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int

// linRowAVX2 is linRow's loop over src[:n] (n a multiple of 8); it stops as lnRowAVX2.
//
//go:noescape
func linRowAVX2(dst, src *float32, n int, a, b float64) int

// reverseAVX2 writes dst[n-1-i] = src[i] for i < n, n a multiple of 8.
//
//go:noescape
func reverseAVX2(dst, src *float32, n int)

// transpose8AVX2 writes dst[q*ds+p] = src[p*ss+q] for p, q < 8 (strides in float32s, either
// sign): one 8x8 block of a column variant's gather.
//
//go:noescape
func transpose8AVX2(dst *float32, ds int, src *float32, ss int)

// lnRowAVX512 is lnRowAVX2 on AVX-512.
//
//go:noescape
func lnRowAVX512(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int

// asinhRowAVX512 is asinhRowAVX2 on AVX-512.
//
//go:noescape
func asinhRowAVX512(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int
