//go:build amd64 && !purego

#include "textflag.h"

// AVX2 versions of the row kernels in fastmath.go, 8 float32 pixels per step. Each computes
// in float64 with the scalar kernel's operations in the scalar kernel's order, without FMA
// (Go does not fuse them on amd64 v1), so the results are bit-identical to the Go code.
// Each stops before the first 8-pixel block holding a pixel the scalar kernel would refuse
// and returns how many pixels it wrote; the Go caller goes on from there.

// A 32-byte vector of one repeated 32-bit or 64-bit value.
#define CONST32(name, v) \
	DATA name<>+0(SB)/4, $v \
	DATA name<>+4(SB)/4, $v \
	DATA name<>+8(SB)/4, $v \
	DATA name<>+12(SB)/4, $v \
	DATA name<>+16(SB)/4, $v \
	DATA name<>+20(SB)/4, $v \
	DATA name<>+24(SB)/4, $v \
	DATA name<>+28(SB)/4, $v \
	GLOBL name<>(SB), RODATA|NOPTR, $32

#define CONST64(name, v) \
	DATA name<>+0(SB)/8, $v \
	DATA name<>+8(SB)/8, $v \
	DATA name<>+16(SB)/8, $v \
	DATA name<>+24(SB)/8, $v \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST32(minNormal, 0x00800000)
CONST32(maxFinite, 0x7f7fffff)
CONST32(lnOffset, 0x3f330000)
CONST32(expMask, 0xff800000)
CONST32(lnIdxMask, 0x000000fe)
CONST32(absMask, 0x7fffffff)
CONST32(signMask, 0x80000000)
CONST32(half32, 0x3f000000)
CONST32(asinhMax, 0x0cffffff)
CONST32(asinhIdxMask, 0xfffffffc)
CONST32(centreMask, 0xffff0000)
CONST32(centreBit, 0x00008000)
CONST64(one64, 0x3ff0000000000000)
CONST64(third64, 0x3fd5555555555555)
CONST64(half64, 0x3fe0000000000000)

// LN_HALF computes 4 results of the ln kernel into X5 from idx*2 in X1, z bits in X2 and
// the exponent k in X3,
// leaving Y1-Y3 as they are. It uses Y0, Y4, Y5 and Y7-Y9.
#define LN_HALF \
	VCVTPS2PD X2, Y4 \
	VCVTDQ2PD X3, Y5 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, (DI)(X1*8), Y7 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, 8(DI)(X1*8), Y8 \
	VMULPD Y7, Y4, Y4 \
	VSUBPD Y12, Y4, Y4 \
	VMULPD Y11, Y4, Y7 \
	VSUBPD Y10, Y7, Y7 \
	VMULPD Y4, Y4, Y9 \
	VMULPD Y7, Y9, Y9 \
	VADDPD Y9, Y4, Y4 \
	VMULPD Y14, Y4, Y4 \
	VMULPD Y13, Y5, Y5 \
	VADDPD Y8, Y5, Y5 \
	VADDPD Y4, Y5, Y5 \
	VCVTPD2PSY Y5, X5

// func lnRowAVX2(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int
TEXT ·lnRowAVX2(SB), NOSPLIT, $0-56
	MOVQ tab+0(FP), DI
	MOVQ dst+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSD a+32(FP), Y14
	VBROADCASTSD la+40(FP), Y13
	VMOVDQU one64<>(SB), Y12
	VMOVDQU third64<>(SB), Y11
	VMOVDQU half64<>(SB), Y10
	VMOVDQU minNormal<>(SB), Y15
	XORQ AX, AX

lnLoop:
	CMPQ AX, CX
	JGE  lnDone
	VMOVDQU (SI)(AX*4), Y0 // ix
	VPCMPGTD Y0, Y15, Y1 // ix < smallest normal (or negative)
	VPCMPGTD maxFinite<>(SB), Y0, Y2 // ix > largest finite
	VPOR Y1, Y2, Y1
	VPTEST Y1, Y1
	JNZ lnDone
	VPSUBD lnOffset<>(SB), Y0, Y1 // tmp
	VPAND expMask<>(SB), Y1, Y2
	VPSUBD Y2, Y0, Y2 // z bits: ix - tmp&0xff800000
	VPSRAD $23, Y1, Y3 // k
	VPSRLD $15, Y1, Y1
	VPAND lnIdxMask<>(SB), Y1, Y1 // 2*table index
	LN_HALF
	VMOVUPS X5, (DX)(AX*4)
	VEXTRACTI128 $1, Y1, X1
	VEXTRACTI128 $1, Y2, X2
	VEXTRACTI128 $1, Y3, X3
	LN_HALF
	VMOVUPS X5, 16(DX)(AX*4)
	ADDQ $8, AX
	JMP  lnLoop

lnDone:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET

// ASINH_HALF computes 4 results of the asinh kernel into X5 from 4*index in X1, h (float32)
// in X2 and the sign bits in X3,
// leaving Y1-Y3 as they are. It uses Y0, Y4, Y5 and Y7-Y9.
#define ASINH_HALF \
	VCVTPS2PD X2, Y4 \
	VCVTPS2PD X3, Y5 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, 24(DI)(X1*8), Y7 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, 16(DI)(X1*8), Y8 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, 8(DI)(X1*8), Y9 \
	VMULPD Y4, Y7, Y7 \
	VADDPD Y8, Y7, Y7 \
	VMULPD Y4, Y7, Y7 \
	VPCMPEQD Y0, Y0, Y0 \
	VGATHERDPD Y0, (DI)(X1*8), Y8 \
	VADDPD Y9, Y7, Y7 \
	VMULPD Y4, Y7, Y7 \
	VADDPD Y8, Y7, Y7 \
	VORPD Y5, Y7, Y7 \
	VMULPD Y14, Y7, Y7 \
	VADDPD Y13, Y7, Y7 \
	VCVTPD2PSY Y7, X5

// func asinhRowAVX2(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int
TEXT ·asinhRowAVX2(SB), NOSPLIT, $0-56
	MOVQ tab+0(FP), DI
	MOVQ dst+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSD a+32(FP), Y14
	VBROADCASTSD b+40(FP), Y13
	VPXOR Y15, Y15, Y15
	XORQ AX, AX

asinhLoop:
	CMPQ AX, CX
	JGE  asinhDone
	VMOVDQU (SI)(AX*4), Y10 // ix
	VPAND absMask<>(SB), Y10, Y11 // ax
	VPSUBD half32<>(SB), Y11, Y1 // j
	VPCMPGTD Y1, Y15, Y2 // j < 0: |x| < 0.5
	VPCMPGTD asinhMax<>(SB), Y1, Y3 // |x| >= 2^25 or not finite
	VPOR Y2, Y3, Y2
	VPTEST Y2, Y2
	JNZ asinhDone
	VPSRLD $14, Y1, Y1
	VPAND asinhIdxMask<>(SB), Y1, Y1 // 4*table index
	VPAND centreMask<>(SB), Y11, Y2
	VPOR centreBit<>(SB), Y2, Y2 // x0
	VSUBPS Y2, Y11, Y2 // h = |x| - x0, exact
	VPAND signMask<>(SB), Y10, Y3
	ASINH_HALF
	VMOVUPS X5, (DX)(AX*4)
	VEXTRACTI128 $1, Y1, X1
	VEXTRACTI128 $1, Y2, X2
	VEXTRACTI128 $1, Y3, X3
	ASINH_HALF
	VMOVUPS X5, 16(DX)(AX*4)
	ADDQ $8, AX
	JMP  asinhLoop

asinhDone:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET

// func linRowAVX2(dst, src *float32, n int, a, b float64) int
TEXT ·linRowAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DX
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD a+24(FP), Y14
	VBROADCASTSD b+32(FP), Y13
	VMOVDQU maxFinite<>(SB), Y15
	XORQ AX, AX

linLoop:
	CMPQ AX, CX
	JGE  linDone
	VMOVDQU (SI)(AX*4), Y0
	VPAND absMask<>(SB), Y0, Y1
	VPCMPGTD Y15, Y1, Y1 // not finite
	VPTEST Y1, Y1
	JNZ linDone
	VCVTPS2PD X0, Y4
	VEXTRACTI128 $1, Y0, X0
	VCVTPS2PD X0, Y5
	VMULPD Y14, Y4, Y4
	VADDPD Y13, Y4, Y4
	VMULPD Y14, Y5, Y5
	VADDPD Y13, Y5, Y5
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VINSERTF128 $1, X5, Y4, Y4
	VMOVUPS Y4, (DX)(AX*4)
	ADDQ $8, AX
	JMP  linLoop

linDone:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET

DATA revIdx<>+0(SB)/4, $7
DATA revIdx<>+4(SB)/4, $6
DATA revIdx<>+8(SB)/4, $5
DATA revIdx<>+12(SB)/4, $4
DATA revIdx<>+16(SB)/4, $3
DATA revIdx<>+20(SB)/4, $2
DATA revIdx<>+24(SB)/4, $1
DATA revIdx<>+28(SB)/4, $0
GLOBL revIdx<>(SB), RODATA|NOPTR, $32

// func reverseAVX2(dst, src *float32, n int)
// dst[n-1-i] = src[i] for i < n, n a multiple of 8.
TEXT ·reverseAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVDQU revIdx<>(SB), Y15
	LEAQ -32(DI)(CX*4), DI // dst's last block
	XORQ AX, AX

revLoop:
	CMPQ AX, CX
	JGE  revDone
	VPERMD (SI)(AX*4), Y15, Y0
	VMOVDQU Y0, (DI)
	SUBQ $32, DI
	ADDQ $8, AX
	JMP  revLoop

revDone:
	VZEROUPPER
	RET

// func transpose8AVX2(dst *float32, ds int, src *float32, ss int)
// dst[q*ds+p] = src[p*ss+q] for p, q < 8; the strides count float32s and may be negative.
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ ss+24(FP), CX
	SHLQ $2, DX
	SHLQ $2, CX
	VMOVUPS (SI), Y0
	ADDQ CX, SI
	VMOVUPS (SI), Y1
	ADDQ CX, SI
	VMOVUPS (SI), Y2
	ADDQ CX, SI
	VMOVUPS (SI), Y3
	ADDQ CX, SI
	VMOVUPS (SI), Y4
	ADDQ CX, SI
	VMOVUPS (SI), Y5
	ADDQ CX, SI
	VMOVUPS (SI), Y6
	ADDQ CX, SI
	VMOVUPS (SI), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	ADDQ DX, DI
	VMOVUPS Y9, (DI)
	ADDQ DX, DI
	VMOVUPS Y10, (DI)
	ADDQ DX, DI
	VMOVUPS Y11, (DI)
	ADDQ DX, DI
	VMOVUPS Y12, (DI)
	ADDQ DX, DI
	VMOVUPS Y13, (DI)
	ADDQ DX, DI
	VMOVUPS Y14, (DI)
	ADDQ DX, DI
	VMOVUPS Y15, (DI)
	VZEROUPPER
	RET

// The AVX-512 versions below do the same float64 operations as the AVX2 ones on 8 lanes at
// once (one gather per table column and 8 pixels instead of two).

// func lnRowAVX512(tab *[lnN]lnEntry, dst, src *float32, n int, a, la float64) int
TEXT ·lnRowAVX512(SB), NOSPLIT, $0-56
	MOVQ tab+0(FP), DI
	MOVQ dst+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSD a+32(FP), Z14
	VBROADCASTSD la+40(FP), Z13
	VBROADCASTSD one64<>(SB), Z12
	VBROADCASTSD third64<>(SB), Z11
	VBROADCASTSD half64<>(SB), Z10
	VMOVDQU minNormal<>(SB), Y15
	XORQ AX, AX

ln512Loop:
	CMPQ AX, CX
	JGE  ln512Done
	VMOVDQU (SI)(AX*4), Y0
	VPCMPGTD Y0, Y15, Y1
	VPCMPGTD maxFinite<>(SB), Y0, Y2
	VPOR Y1, Y2, Y1
	VPTEST Y1, Y1
	JNZ ln512Done
	VPSUBD lnOffset<>(SB), Y0, Y1
	VPAND expMask<>(SB), Y1, Y2
	VPSUBD Y2, Y0, Y2
	VPSRAD $23, Y1, Y3
	VPSRLD $15, Y1, Y1
	VPAND lnIdxMask<>(SB), Y1, Y1
	KXNORW K1, K1, K1
	VGATHERDPD (DI)(Y1*8), K1, Z7
	KXNORW K2, K2, K2
	VGATHERDPD 8(DI)(Y1*8), K2, Z8
	VCVTPS2PD Y2, Z4
	VCVTDQ2PD Y3, Z5
	VMULPD Z7, Z4, Z4
	VSUBPD Z12, Z4, Z4
	VMULPD Z11, Z4, Z7
	VSUBPD Z10, Z7, Z7
	VMULPD Z4, Z4, Z9
	VMULPD Z7, Z9, Z9
	VADDPD Z9, Z4, Z4
	VMULPD Z14, Z4, Z4
	VMULPD Z13, Z5, Z5
	VADDPD Z8, Z5, Z5
	VADDPD Z4, Z5, Z5
	VCVTPD2PS Z5, Y5
	VMOVUPS Y5, (DX)(AX*4)
	ADDQ $8, AX
	JMP  ln512Loop

ln512Done:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET

// func asinhRowAVX512(tab *[asinhN][4]float64, dst, src *float32, n int, a, b float64) int
TEXT ·asinhRowAVX512(SB), NOSPLIT, $0-56
	MOVQ tab+0(FP), DI
	MOVQ dst+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	VBROADCASTSD a+32(FP), Z14
	VBROADCASTSD b+40(FP), Z13
	VPXOR Y15, Y15, Y15
	XORQ AX, AX

asinh512Loop:
	CMPQ AX, CX
	JGE  asinh512Done
	VMOVDQU (SI)(AX*4), Y10
	VPAND absMask<>(SB), Y10, Y11
	VPSUBD half32<>(SB), Y11, Y1
	VPCMPGTD Y1, Y15, Y2
	VPCMPGTD asinhMax<>(SB), Y1, Y3
	VPOR Y2, Y3, Y2
	VPTEST Y2, Y2
	JNZ asinh512Done
	VPSRLD $14, Y1, Y1
	VPAND asinhIdxMask<>(SB), Y1, Y1
	KXNORW K1, K1, K1
	VGATHERDPD 24(DI)(Y1*8), K1, Z7
	KXNORW K2, K2, K2
	VGATHERDPD 16(DI)(Y1*8), K2, Z8
	KXNORW K3, K3, K3
	VGATHERDPD 8(DI)(Y1*8), K3, Z9
	KXNORW K4, K4, K4
	VGATHERDPD (DI)(Y1*8), K4, Z6
	VPAND centreMask<>(SB), Y11, Y2
	VPOR centreBit<>(SB), Y2, Y2
	VSUBPS Y2, Y11, Y2
	VPAND signMask<>(SB), Y10, Y3
	VCVTPS2PD Y2, Z4
	VCVTPS2PD Y3, Z5
	VMULPD Z4, Z7, Z7
	VADDPD Z8, Z7, Z7
	VMULPD Z4, Z7, Z7
	VADDPD Z9, Z7, Z7
	VMULPD Z4, Z7, Z7
	VADDPD Z6, Z7, Z7
	VPORQ Z5, Z7, Z7
	VMULPD Z14, Z7, Z7
	VADDPD Z13, Z7, Z7
	VCVTPD2PS Z7, Y5
	VMOVUPS Y5, (DX)(AX*4)
	ADDQ $8, AX
	JMP  asinh512Loop

asinh512Done:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET
