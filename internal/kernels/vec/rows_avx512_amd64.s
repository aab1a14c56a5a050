#include "textflag.h"

// Row copies and sums over a strided block with AVX-512: 16 floats at a
// time, and a row's last cols%16 under a mask, so that rows of any width
// (a 7×7 or 14×14 feature map's) take no scalar loop. Masked-off lanes are
// neither read nor written.

// ROWSETUP loads the arguments: DI dst, R8 its stride in bytes, SI src, R9
// its stride, BX rows, R10 the bytes of a row's whole 16-float blocks,
// R11 the tail's length and K1 its mask.
#define ROWSETUP \
	MOVQ dst+0(FP), DI \
	MOVQ dstStride+8(FP), R8 \
	SHLQ $2, R8 \
	MOVQ src+16(FP), SI \
	MOVQ srcStride+24(FP), R9 \
	SHLQ $2, R9 \
	MOVQ rows+32(FP), BX \
	MOVQ cols+40(FP), CX \
	MOVQ CX, R10 \
	ANDQ $-16, R10 \
	SHLQ $2, R10 \
	ANDQ $15, CX \
	MOVQ CX, R11 \
	MOVL $1, AX \
	SHLL CX, AX \
	DECL AX \
	KMOVW AX, K1

// func copyRowsAVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)
// dst[r*dstStride+j] = src[r*srcStride+j] for r < rows, j < cols.
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-48
	ROWSETUP

crow:
	TESTQ BX, BX
	JE    cdone
	XORQ  AX, AX

ccol:
	CMPQ    AX, R10
	JE      ctail
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	JMP     ccol

ctail:
	TESTQ     R11, R11
	JE        cnext
	VMOVUPS.Z (SI)(AX*1), K1, Z0
	VMOVUPS   Z0, K1, (DI)(AX*1)

cnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JMP  crow

cdone:
	VZEROUPPER
	RET

// func addRowsAVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)
// dst[r*dstStride+j] += src[r*srcStride+j] for r < rows, j < cols.
TEXT ·addRowsAVX512(SB), NOSPLIT, $0-48
	ROWSETUP

arow:
	TESTQ BX, BX
	JE    adone
	XORQ  AX, AX

acol:
	CMPQ    AX, R10
	JE      atail
	VMOVUPS (DI)(AX*1), Z0
	VADDPS  (SI)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	JMP     acol

atail:
	TESTQ     R11, R11
	JE        anext
	VMOVUPS.Z (DI)(AX*1), K1, Z0
	VMOVUPS.Z (SI)(AX*1), K1, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*1)

anext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JMP  arow

adone:
	VZEROUPPER
	RET
