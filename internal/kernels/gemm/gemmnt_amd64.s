#include "textflag.h"

// NTCOL loads 16 values of one B row from addr into zb and accumulates its
// products with the four A rows (Z0..Z3) into a0..a3.
#define NTCOL(addr, zb, a0, a1, a2, a3) \
	VMOVUPS     addr, zb; \
	VFMADD231PS zb, Z0, a0; \
	VFMADD231PS zb, Z1, a1; \
	VFMADD231PS zb, Z2, a2; \
	VFMADD231PS zb, Z3, a3

// NTARGS loads the arguments both kernels share: k (CX), a (SI), lda in
// bytes (R8) and 3·lda (R9), b (DI).
#define NTARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), SI; \
	MOVQ lda+16(FP), R8; \
	SHLQ $2, R8; \
	LEAQ (R8)(R8*2), R9; \
	MOVQ b+24(FP), DI

// NTAROWS loads 16 values of each of the four A rows (SI, lda = R8 bytes
// apart, R9 = 3·lda) into Z0..Z3; NTNEXT steps both operands by 16 floats
// and counts them off k (CX), setting the flags for the loop's JNZ.
#define NTAROWS \
	VMOVUPS (SI), Z0; \
	VMOVUPS (SI)(R8*1), Z1; \
	VMOVUPS (SI)(R8*2), Z2; \
	VMOVUPS (SI)(R9*1), Z3

#define NTNEXT \
	ADDQ $64, SI; \
	ADDQ $64, DI; \
	SUBQ $16, CX

// NTACC loads the twenty lane-wise sums from acc (DX) into Z8..Z27, and
// NTSTORE stores them back.
#define NTACC \
	VMOVUPS 0(DX), Z8; \
	VMOVUPS 64(DX), Z9; \
	VMOVUPS 128(DX), Z10; \
	VMOVUPS 192(DX), Z11; \
	VMOVUPS 256(DX), Z12; \
	VMOVUPS 320(DX), Z13; \
	VMOVUPS 384(DX), Z14; \
	VMOVUPS 448(DX), Z15; \
	VMOVUPS 512(DX), Z16; \
	VMOVUPS 576(DX), Z17; \
	VMOVUPS 640(DX), Z18; \
	VMOVUPS 704(DX), Z19; \
	VMOVUPS 768(DX), Z20; \
	VMOVUPS 832(DX), Z21; \
	VMOVUPS 896(DX), Z22; \
	VMOVUPS 960(DX), Z23; \
	VMOVUPS 1024(DX), Z24; \
	VMOVUPS 1088(DX), Z25; \
	VMOVUPS 1152(DX), Z26; \
	VMOVUPS 1216(DX), Z27

#define NTSTORE \
	VMOVUPS Z8, 0(DX); \
	VMOVUPS Z9, 64(DX); \
	VMOVUPS Z10, 128(DX); \
	VMOVUPS Z11, 192(DX); \
	VMOVUPS Z12, 256(DX); \
	VMOVUPS Z13, 320(DX); \
	VMOVUPS Z14, 384(DX); \
	VMOVUPS Z15, 448(DX); \
	VMOVUPS Z16, 512(DX); \
	VMOVUPS Z17, 576(DX); \
	VMOVUPS Z18, 640(DX); \
	VMOVUPS Z19, 704(DX); \
	VMOVUPS Z20, 768(DX); \
	VMOVUPS Z21, 832(DX); \
	VMOVUPS Z22, 896(DX); \
	VMOVUPS Z23, 960(DX); \
	VMOVUPS Z24, 1024(DX); \
	VMOVUPS Z25, 1088(DX); \
	VMOVUPS Z26, 1152(DX); \
	VMOVUPS Z27, 1216(DX)

// func gemmNT4x5AVX512(k int, a *float32, lda int, b *float32, ldb int, acc *float32)
//
// acc[(j*4+i)*16 + l] += Σ_{p<k, p%16=l} a[i*lda+p] · b[j*ldb+p] for i < 4,
// j < 5, with k a positive multiple of 16: twenty lane-wise dot products,
// kept in Z8..Z27 (j-major) and reduced by the caller at the very end.
TEXT ·gemmNT4x5AVX512(SB), NOSPLIT, $0-48
	NTARGS
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11 // 3·ldb
	MOVQ acc+40(FP), DX

	NTACC

loop:
	NTAROWS
	NTCOL((DI), Z4, Z8, Z9, Z10, Z11)
	NTCOL((DI)(R10*1), Z5, Z12, Z13, Z14, Z15)
	NTCOL((DI)(R10*2), Z6, Z16, Z17, Z18, Z19)
	NTCOL((DI)(R11*1), Z7, Z20, Z21, Z22, Z23)
	NTCOL((DI)(R10*4), Z4, Z24, Z25, Z26, Z27)
	NTNEXT
	JNZ  loop

	NTSTORE
	VZEROUPPER
	RET

// func gemmNT4x5RowsAVX512(k int, a *float32, lda int, b *float32, offs *int, acc *float32)
//
// gemmNT4x5AVX512 with B's five rows at b + offs[j] (floats) rather than
// ldb apart: the taps of a convolution read where they lie in the image.
TEXT ·gemmNT4x5RowsAVX512(SB), NOSPLIT, $0-48
	NTARGS
	MOVQ offs+32(FP), BX
	MOVQ 0(BX), R10
	MOVQ 8(BX), R11
	MOVQ 16(BX), R12
	MOVQ 24(BX), R13
	MOVQ 32(BX), AX
	SHLQ $2, R10
	SHLQ $2, R11
	SHLQ $2, R12
	SHLQ $2, R13
	SHLQ $2, AX
	MOVQ acc+40(FP), DX
	NTACC

rloop:
	NTAROWS
	NTCOL((DI)(R10*1), Z4, Z8, Z9, Z10, Z11)
	NTCOL((DI)(R11*1), Z5, Z12, Z13, Z14, Z15)
	NTCOL((DI)(R12*1), Z6, Z16, Z17, Z18, Z19)
	NTCOL((DI)(R13*1), Z7, Z20, Z21, Z22, Z23)
	NTCOL((DI)(AX*1), Z4, Z24, Z25, Z26, Z27)
	NTNEXT
	JNZ  rloop

	NTSTORE
	VZEROUPPER
	RET
