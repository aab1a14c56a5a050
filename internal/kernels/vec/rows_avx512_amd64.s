#include "textflag.h"

// Row copies and sums over a strided block with AVX-512: 16 floats at a
// time, and a row's last cols%16 under a mask, so that rows of any width
// (a 7×7 or 14×14 feature map's) take no scalar loop. Masked-off lanes are
// neither read nor written.

// ROWARGS loads what every row kernel takes: DI dst, R8 its stride in
// bytes, SI src, R9 its stride, BX rows.
#define ROWARGS \
	MOVQ dst+0(FP), DI \
	MOVQ dstStride+8(FP), R8 \
	SHLQ $2, R8 \
	MOVQ src+16(FP), SI \
	MOVQ srcStride+24(FP), R9 \
	SHLQ $2, R9 \
	MOVQ rows+32(FP), BX

// ROWSETUP loads ROWARGS, R10 the bytes of a row's whole 16-float blocks,
// R11 the tail's length and K1 its mask.
#define ROWSETUP \
	ROWARGS \
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

// Rows at step 2 on the image's side (a stride-2 convolution's im2col and
// col2im): 16 outputs from 32 inputs by a two-table permute, and 16 inputs
// added into the even lanes of 32 by an expand. A row's last cols%16 go
// under masks the Go wrapper computes: m0 and m1 the input lanes of the two
// halves (2·t − 1 of them in all), mt the t outputs.

DATA evenlanes<>+0(SB)/4, $0
DATA evenlanes<>+4(SB)/4, $2
DATA evenlanes<>+8(SB)/4, $4
DATA evenlanes<>+12(SB)/4, $6
DATA evenlanes<>+16(SB)/4, $8
DATA evenlanes<>+20(SB)/4, $10
DATA evenlanes<>+24(SB)/4, $12
DATA evenlanes<>+28(SB)/4, $14
DATA evenlanes<>+32(SB)/4, $16
DATA evenlanes<>+36(SB)/4, $18
DATA evenlanes<>+40(SB)/4, $20
DATA evenlanes<>+44(SB)/4, $22
DATA evenlanes<>+48(SB)/4, $24
DATA evenlanes<>+52(SB)/4, $26
DATA evenlanes<>+56(SB)/4, $28
DATA evenlanes<>+60(SB)/4, $30
GLOBL evenlanes<>(SB), RODATA|NOPTR, $64

// STEPSETUP loads ROWARGS, R10 the whole 16-output blocks of a row, R11
// the tail's length, and the tail's masks K2 (m0), K3 (m1), K4 (mt).
#define STEPSETUP \
	ROWARGS \
	MOVQ cols+40(FP), R10 \
	MOVQ R10, R11 \
	SHRQ $4, R10 \
	ANDQ $15, R11 \
	KMOVW m0+48(FP), K2 \
	KMOVW m1+56(FP), K3 \
	KMOVW mt+64(FP), K4

// func gatherRows2AVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int, m0, m1, mt int)
// dst[r*dstStride+j] = src[r*srcStride+2j].
TEXT ·gatherRows2AVX512(SB), NOSPLIT, $0-72
	STEPSETUP
	VMOVUPS evenlanes<>(SB), Z30

grow:
	TESTQ BX, BX
	JE    gdone
	MOVQ  SI, AX
	MOVQ  DI, DX
	MOVQ  R10, CX

gblock:
	TESTQ     CX, CX
	JE        gtail
	VMOVUPS   (AX), Z0
	VMOVUPS   64(AX), Z1
	VPERMT2PS Z1, Z30, Z0
	VMOVUPS   Z0, (DX)
	ADDQ      $128, AX
	ADDQ      $64, DX
	DECQ      CX
	JMP       gblock

gtail:
	TESTQ     R11, R11
	JE        gnext
	VMOVUPS.Z (AX), K2, Z0
	VMOVUPS.Z 64(AX), K3, Z1
	VPERMT2PS Z1, Z30, Z0
	VMOVUPS   Z0, K4, (DX)

gnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JMP  grow

gdone:
	VZEROUPPER
	RET

// SCATTER16 adds the inputs at SOFF(AX) into the lanes K of the 16 floats
// at DOFF(DX), one input a lane.
#define SCATTER16(K, DOFF, SOFF, ZD, ZS) \
	VMOVUPS.Z   DOFF(DX), K, ZD \
	VEXPANDPS.Z SOFF(AX), K, ZS \
	VADDPS      ZS, ZD, ZD \
	VMOVUPS     ZD, K, DOFF(DX)

// func scatterAddRows2AVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int, m0, m1, mt int)
// dst[r*dstStride+2j] += src[r*srcStride+j]; here m0 and m1 are the even
// lanes of the tail's two halves of dst, and mt is unused.
TEXT ·scatterAddRows2AVX512(SB), NOSPLIT, $0-72
	STEPSETUP
	MOVL  $0x5555, AX
	KMOVW AX, K1

srow:
	TESTQ BX, BX
	JE    sdone
	MOVQ  SI, AX
	MOVQ  DI, DX
	MOVQ  R10, CX

sblock:
	TESTQ       CX, CX
	JE          stail
	SCATTER16(K1, 0, 0, Z0, Z4)
	SCATTER16(K1, 64, 32, Z1, Z5)
	ADDQ        $64, AX
	ADDQ        $128, DX
	DECQ        CX
	JMP         sblock

stail:
	TESTQ       R11, R11
	JE          snext
	SCATTER16(K2, 0, 0, Z0, Z4)
	SCATTER16(K3, 64, 32, Z1, Z5)

snext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JMP  srow

sdone:
	VZEROUPPER
	RET
