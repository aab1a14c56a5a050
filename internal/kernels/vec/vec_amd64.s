#include "textflag.h"

// Element-wise kernels for batch norm and ReLU, 8 floats at a time; n is a
// multiple of 8 (the Go wrappers handle the rest).

// HSUM2 sums the eight lanes of Y0 into X0 and those of Y1 into X1 (the
// reductions' two results), using X2 and X3.
#define HSUM2 \
	VEXTRACTF128 $1, Y0, X2; \
	VADDPS       X2, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VEXTRACTF128 $1, Y1, X3; \
	VADDPS       X3, X1, X1; \
	VHADDPS      X1, X1, X1; \
	VHADDPS      X1, X1, X1

// func affineAVX2(n int, x, y *float32, scale, shift float32, relu bool)
// y = x·scale + shift, clamped at 0 if relu.
TEXT ·affineAVX2(SB), NOSPLIT, $0-33
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	VBROADCASTSS scale+24(FP), Y1
	VBROADCASTSS shift+28(FP), Y2
	MOVBQZX      relu+32(FP), AX
	VXORPS       Y3, Y3, Y3
	TESTQ        AX, AX
	JNE          reluloop

plainloop:
	TESTQ       CX, CX
	JE          affdone
	VMOVUPS     (SI), Y0
	VFMADD213PS Y2, Y1, Y0 // Y0 = Y0*Y1 + Y2
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         plainloop

reluloop:
	TESTQ       CX, CX
	JE          affdone
	VMOVUPS     (SI), Y0
	VFMADD213PS Y2, Y1, Y0
	VMAXPS      Y3, Y0, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         reluloop

affdone:
	VZEROUPPER
	RET

// func sumSqAVX2(n int, x *float32, k float32) (s, sq float32)
// Σ(x − k) and Σ(x − k)².
TEXT ·sumSqAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	VBROADCASTSS k+16(FP), Y5
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3

sqloop:
	CMPQ        CX, $16
	JLT         sqtail
	VMOVUPS     (SI), Y4
	VSUBPS      Y5, Y4, Y4
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y4, Y4, Y1
	VMOVUPS     32(SI), Y6
	VSUBPS      Y5, Y6, Y6
	VADDPS      Y6, Y2, Y2
	VFMADD231PS Y6, Y6, Y3
	ADDQ        $64, SI
	SUBQ        $16, CX
	JMP         sqloop

sqtail:
	TESTQ       CX, CX
	JE          sqdone
	VMOVUPS     (SI), Y4
	VSUBPS      Y5, Y4, Y4
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y4, Y4, Y1

sqdone:
	VADDPS       Y2, Y0, Y0
	VADDPS       Y3, Y1, Y1
	HSUM2
	VZEROUPPER
	MOVSS        X0, s+24(FP)
	MOVSS        X1, sq+28(FP)
	RET

// func sumDotAVX2(n int, gs, h *float32, c float32) (s, d float32)
// Σg and Σg·(h − c).
TEXT ·sumDotAVX2(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         gs+8(FP), SI
	MOVQ         h+16(FP), DI
	VBROADCASTSS c+24(FP), Y5
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y2, Y2, Y2
	VXORPS       Y3, Y3, Y3

sdloop:
	CMPQ        CX, $16
	JLT         sdtail
	VMOVUPS     (SI), Y4
	VMOVUPS     (DI), Y6
	VSUBPS      Y5, Y6, Y6
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y6, Y4, Y1
	VMOVUPS     32(SI), Y7
	VMOVUPS     32(DI), Y8
	VSUBPS      Y5, Y8, Y8
	VADDPS      Y7, Y2, Y2
	VFMADD231PS Y8, Y7, Y3
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         sdloop

sdtail:
	TESTQ       CX, CX
	JE          sddone
	VMOVUPS     (SI), Y4
	VMOVUPS     (DI), Y6
	VSUBPS      Y5, Y6, Y6
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y6, Y4, Y1

sddone:
	VADDPS       Y2, Y0, Y0
	VADDPS       Y3, Y1, Y1
	HSUM2
	VZEROUPPER
	MOVSS        X0, s+32(FP)
	MOVSS        X1, d+36(FP)
	RET

// func axpbyAVX2(n int, gs, x, out *float32, a, b, c float32)
// out = a·g + b·x + c.
TEXT ·axpbyAVX2(SB), NOSPLIT, $0-44
	MOVQ         n+0(FP), CX
	MOVQ         gs+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVQ         out+24(FP), DX
	VBROADCASTSS a+32(FP), Y1
	VBROADCASTSS b+36(FP), Y2
	VBROADCASTSS c+40(FP), Y3

axloop:
	TESTQ       CX, CX
	JE          axdone
	VMOVUPS     (DI), Y0
	VFMADD213PS Y3, Y2, Y0 // b·x + c
	VMOVUPS     (SI), Y4
	VFMADD231PS Y4, Y1, Y0 // + a·g
	VMOVUPS     Y0, (DX)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         axloop

axdone:
	VZEROUPPER
	RET

// func reluGradAVX2(n int, y, dy, dx *float32)
// dx = dy where y > 0, else 0.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ   n+0(FP), CX
	MOVQ   y+8(FP), SI
	MOVQ   dy+16(FP), DI
	MOVQ   dx+24(FP), DX
	VXORPS Y3, Y3, Y3

rgloop:
	TESTQ    CX, CX
	JE       rgdone
	VMOVUPS  (SI), Y0
	VCMPPS   $0x1e, Y3, Y0, Y1 // y > 0 (ordered, quiet)
	VANDPS   (DI), Y1, Y1
	VMOVUPS  Y1, (DX)
	ADDQ     $32, SI
	ADDQ     $32, DI
	ADDQ     $32, DX
	SUBQ     $8, CX
	JMP      rgloop

rgdone:
	VZEROUPPER
	RET

// func addRowsAVX(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)
// dst[r*dstStride+j] += src[r*srcStride+j] for r < rows, j < cols; cols is a
// multiple of 8, strides are in floats.
TEXT ·addRowsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), CX
	MOVQ cols+40(FP), R10

arow:
	TESTQ CX, CX
	JE    adone
	XORQ  AX, AX
	MOVQ  R10, DX

acol:
	TESTQ   DX, DX
	JE      anext
	VMOVUPS (SI)(AX*1), Y0
	VADDPS  (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	SUBQ    $8, DX
	JMP     acol

anext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  arow

adone:
	VZEROUPPER
	RET

// func copyRowsAVX(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)
// dst[r*dstStride+j] = src[r*srcStride+j], as addRowsAVX.
TEXT ·copyRowsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), CX
	MOVQ cols+40(FP), R10

crow:
	TESTQ CX, CX
	JE    cdone
	XORQ  AX, AX
	MOVQ  R10, DX

ccol:
	TESTQ   DX, DX
	JE      cnext
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	SUBQ    $8, DX
	JMP     ccol

cnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JMP  crow

cdone:
	VZEROUPPER
	RET

DATA evenidx<>+0(SB)/4, $0
DATA evenidx<>+4(SB)/4, $2
DATA evenidx<>+8(SB)/4, $4
DATA evenidx<>+12(SB)/4, $6
DATA evenidx<>+16(SB)/4, $8
DATA evenidx<>+20(SB)/4, $10
DATA evenidx<>+24(SB)/4, $12
DATA evenidx<>+28(SB)/4, $14
GLOBL evenidx<>(SB), RODATA|NOPTR, $32

DATA ones<>+0(SB)/8, $0x0000000100000001
DATA ones<>+8(SB)/8, $0x0000000100000001
DATA ones<>+16(SB)/8, $0x0000000100000001
DATA ones<>+24(SB)/8, $0x0000000100000001
GLOBL ones<>(SB), RODATA|NOPTR, $32

DATA step16<>+0(SB)/8, $0x0000001000000010
DATA step16<>+8(SB)/8, $0x0000001000000010
DATA step16<>+16(SB)/8, $0x0000001000000010
DATA step16<>+24(SB)/8, $0x0000001000000010
GLOBL step16<>(SB), RODATA|NOPTR, $32

DATA zeros<>+0(SB)/8, $0
DATA zeros<>+8(SB)/8, $0
DATA zeros<>+16(SB)/8, $0
DATA zeros<>+24(SB)/8, $0
GLOBL zeros<>(SB), RODATA|NOPTR, $32

// The 2×2 max-pool kernels below share their registers: R11, R12, R13 =
// the current row of the input plane, output and arg-max (forward) or of dy,
// arg-max and dx (gradient); R9 = rows left; R10 = the plane index of input
// row 2·oy; BX = w; and these macros.
//
// MP_CONSTS sets Y14, Y15 = w, w+1 from BX = w (the constants 1 and 16
// are read from memory, leaving Y11 and Y13 free).
#define MP_CONSTS \
	VMOVD        BX, X0; \
	VPBROADCASTD X0, Y14; \
	LEAQ         1(BX), AX; \
	VMOVD        AX, X0; \
	VPBROADCASTD X0, Y15

// MP_ROW_START points SI, DI at input rows 2·oy and 2·oy+1 (forward; the
// gradient's dx rows), DX, R8 at the output and arg-max row (the
// gradient's dy and arg-max), Y12 at the indices of the row's r0 evens, and
// CX at the row's ow outputs.
#define MP_ROW_START \
	MOVQ         R11, SI; \
	LEAQ         (R11)(BX*4), DI; \
	MOVQ         R12, DX; \
	MOVQ         R13, R8; \
	VMOVD        R10, X0; \
	VPBROADCASTD X0, Y12; \
	VPADDD       evenidx<>(SB), Y12, Y12; \
	MOVQ         ow+32(FP), CX

// MP_ROW_NEXT moves to the next output row, restarting the plane index at
// each new plane (hw floats).
#define MP_ROW_NEXT \
	MOVQ    ow+32(FP), AX; \
	LEAQ    (R12)(AX*4), R12; \
	LEAQ    (R13)(AX*4), R13; \
	LEAQ    (R11)(BX*8), R11; \
	LEAQ    (R10)(BX*2), R10; \
	XORQ    AX, AX; \
	CMPQ    R10, hw+48(FP); \
	CMOVQEQ AX, R10; \
	DECQ    R9

// MP_WINDOW computes eight window maxima Y6 and arg-max indices Y9 from
// r0 = Y0:Y1 and r1 = Y4:Y5 (sixteen inputs each), with Y12 the indices of
// the r0 evens and Y14, Y15 = w, w+1. The offsets are blended
// lowest priority first, so the first position holding the maximum wins.
#define MP_WINDOW \
	VSHUFPS $0x88, Y1, Y0, Y2; \
	VSHUFPS $0xDD, Y1, Y0, Y3; \
	VPERMPD $0xD8, Y2, Y2; \
	VPERMPD $0xD8, Y3, Y3; \
	VSHUFPS $0x88, Y5, Y4, Y7; \
	VSHUFPS $0xDD, Y5, Y4, Y8; \
	VPERMPD $0xD8, Y7, Y7; \
	VPERMPD $0xD8, Y8, Y8; \
	VMAXPS  Y3, Y2, Y6; \
	VMAXPS  Y8, Y7, Y10; \
	VMAXPS  Y10, Y6, Y6; \
	VCMPPS    $0, Y6, Y7, Y10; \
	VBLENDVPS Y10, Y14, Y15, Y9; \
	VCMPPS    $0, Y6, Y3, Y10; \
	VBLENDVPS Y10, ones<>(SB), Y9, Y9; \
	VCMPPS    $0, Y6, Y2, Y10; \
	VXORPS    Y8, Y8, Y8; \
	VBLENDVPS Y10, Y8, Y9, Y9; \
	VPADDD    Y12, Y9, Y9

// MP_AFFINE applies y = max(x·Y11 + Y13, 0) to register r, as affineAVX2
// does (the same instructions, so the same values).
#define MP_AFFINE(r) \
	VFMADD213PS Y13, Y11, r; \
	VMAXPS      zeros<>(SB), r, r

// func maxPool2x2AVX(x, y *float32, am *int32, rows, ow, w, hw int, scale, shift float32, affine bool, planes, xstep, ystep, amstep int)
// 2×2, stride-2 max pooling of planes x (row stride w, hw floats a plane,
// each of an even height) into y (rows×ow in all),
// for the first ow&^3 outputs of each row (the caller does the rest):
// y[oy,i] = max of the window (r0[2i], r0[2i+1], r1[2i], r1[2i+1]) with r0,
// r1 = rows 2oy, 2oy+1, and am[oy,i] = the plane index of the first position
// holding the maximum, as the scalar loop picks it. Eight outputs at a time,
// then four. With affine, the inputs are first mapped by
// max(x·scale + shift, 0): a batch norm and ReLU pooled without writing
// their output. All that for planes planes: after each one's rows, x, y
// and am move on xstep, ystep and amstep bytes (a channel's planes, one
// per image) and the plane index starts again at 0.
TEXT ·maxPool2x2AVX(SB), NOSPLIT, $0-104
	MOVQ x+0(FP), R11  // row 2·oy of x
	MOVQ y+8(FP), R12  // row oy of y
	MOVQ am+16(FP), R13 // row oy of am
	MOVQ rows+24(FP), R9
	MOVQ w+40(FP), BX
	VBROADCASTSS scale+56(FP), Y11
	VBROADCASTSS shift+60(FP), Y13

	MP_CONSTS
	XORQ         R10, R10 // the plane index of row 2·oy

mprow:
	TESTQ        R9, R9
	JNE          mprowgo
	DECQ         planes+72(FP)
	JE           mpdone
	ADDQ         xstep+80(FP), R11
	ADDQ         ystep+88(FP), R12
	ADDQ         amstep+96(FP), R13
	XORQ         R10, R10
	MOVQ         rows+24(FP), R9

mprowgo:
	MP_ROW_START

mploop:
	CMPQ CX, $8
	JLT  mpquad
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DI), Y4
	VMOVUPS 32(DI), Y5
	CMPB    affine+64(FP), $0
	JE      mpwin8
	MP_AFFINE(Y0)
	MP_AFFINE(Y1)
	MP_AFFINE(Y4)
	MP_AFFINE(Y5)

mpwin8:
	MP_WINDOW
	VMOVUPS Y6, (DX)
	VMOVDQU Y9, (R8)
	VPADDD  step16<>(SB), Y12, Y12
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	ADDQ    $32, R8
	SUBQ    $8, CX
	JMP     mploop

mpquad:
	CMPQ    CX, $4
	JLT     mpnext
	// Four outputs: the same arithmetic on one vector per row, whose
	// results land in the low halves.
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y4
	CMPB    affine+64(FP), $0
	JE      mpwin4
	MP_AFFINE(Y0)
	MP_AFFINE(Y4)

mpwin4:
	VMOVAPS Y0, Y1
	VMOVAPS Y4, Y5
	MP_WINDOW
	VMOVUPS X6, (DX)
	VMOVDQU X9, (R8)

mpnext:
	MP_ROW_NEXT
	JMP mprow

mpdone:
	VZEROUPPER
	RET



// func momentumAVX2(n int, w, grad, v *float32, mu, lr, wd float32, nesterov bool)
// For n (a multiple of 8) parameters: g' = g + wd·w; v = mu·v + g';
// w −= lr·v, or lr·(g' + mu·v) for Nesterov.
TEXT ·momentumAVX2(SB), NOSPLIT, $0-45
	MOVQ         n+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         grad+16(FP), DI
	MOVQ         v+24(FP), DX
	VBROADCASTSS mu+32(FP), Y5
	VBROADCASTSS lr+36(FP), Y6
	VBROADCASTSS wd+40(FP), Y7
	MOVBQZX      nesterov+44(FP), R8

moloop:
	TESTQ        CX, CX
	JE           modone
	VMOVUPS      (SI), Y0
	VMOVUPS      (DI), Y1
	VMOVUPS      (DX), Y2
	VFMADD231PS  Y7, Y0, Y1 // g' = g + w·wd
	VFMADD213PS  Y1, Y5, Y2 // v = v·mu + g'
	VMOVUPS      Y2, (DX)
	TESTQ        R8, R8
	JNE          monest
	VFNMADD231PS Y6, Y2, Y0 // w −= v·lr
	JMP          mostore

monest:
	VFMADD231PS  Y5, Y2, Y1 // g' + v·mu
	VFNMADD231PS Y6, Y1, Y0 // w −= that·lr

mostore:
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     moloop

modone:
	VZEROUPPER
	RET

// func adamAVX2(n int, w, grad, m, v *float32, s *AdamStep)
// For n (a multiple of 8) parameters: g' = g + wd·w; m = β₁m + (1−β₁)g';
// v = β₂v + (1−β₂)g'²; w −= step·m / (√(v/bc2) + ε). AdamStep's fields,
// in order: B1, B2, OB1, OB2, Step, BC2, Eps, WD.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         w+8(FP), SI
	MOVQ         grad+16(FP), DI
	MOVQ         m+24(FP), DX
	MOVQ         v+32(FP), R8
	MOVQ         s+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // β₁
	VBROADCASTSS 4(AX), Y9   // β₂
	VBROADCASTSS 8(AX), Y10  // 1 − β₁
	VBROADCASTSS 12(AX), Y11 // 1 − β₂
	VBROADCASTSS 16(AX), Y12 // step
	VBROADCASTSS 20(AX), Y13 // bc2
	VBROADCASTSS 24(AX), Y14 // ε
	VBROADCASTSS 28(AX), Y15 // wd

adloop:
	TESTQ       CX, CX
	JE          addone
	VMOVUPS     (SI), Y0
	VMOVUPS     (DI), Y1
	VMOVUPS     (DX), Y2
	VMOVUPS     (R8), Y3
	VFMADD231PS Y15, Y0, Y1 // g' = g + w·wd
	VMULPS      Y10, Y1, Y4 // (1−β₁)g'
	VFMADD231PS Y8, Y2, Y4  // m = β₁m + that
	VMOVUPS     Y4, (DX)
	VMULPS      Y1, Y1, Y5  // g'²
	VMULPS      Y11, Y5, Y5 // (1−β₂)g'²
	VFMADD231PS Y9, Y3, Y5  // v = β₂v + that
	VMOVUPS     Y5, (R8)
	VDIVPS      Y13, Y5, Y5 // v/bc2
	VSQRTPS     Y5, Y5
	VADDPS      Y14, Y5, Y5 // √(v/bc2) + ε
	VMULPS      Y12, Y4, Y4 // step·m
	VDIVPS      Y5, Y4, Y4
	VSUBPS      Y4, Y0, Y0
	VMOVUPS     Y0, (SI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	ADDQ        $32, R8
	SUBQ        $8, CX
	JMP         adloop

addone:
	VZEROUPPER
	RET

// MP_SPREAD routes eight gradients Y0 to their windows' arg-max positions,
// the inverse of MP_WINDOW: with Y3 = the arg-max indices minus Y12 (each 0,
// 1, w or w+1), it leaves r0's sixteen values in Y4:Y5 and r1's in Y6:Y7,
// zero except at the arg-max. Y10 = 0, Y14, Y15 = w, w+1.
#define MP_SPREAD \
	VPCMPEQD     Y10, Y3, Y1; \
	VANDPS       Y1, Y0, Y4; \
	VPCMPEQD     ones<>(SB), Y3, Y1; \
	VANDPS       Y1, Y0, Y5; \
	VUNPCKLPS    Y5, Y4, Y8; \
	VUNPCKHPS    Y5, Y4, Y9; \
	VPERM2F128   $0x20, Y9, Y8, Y4; \
	VPERM2F128   $0x31, Y9, Y8, Y5; \
	VPCMPEQD     Y14, Y3, Y1; \
	VANDPS       Y1, Y0, Y6; \
	VPCMPEQD     Y15, Y3, Y1; \
	VANDPS       Y1, Y0, Y7; \
	VUNPCKLPS    Y7, Y6, Y8; \
	VUNPCKHPS    Y7, Y6, Y9; \
	VPERM2F128   $0x20, Y9, Y8, Y6; \
	VPERM2F128   $0x31, Y9, Y8, Y7

// func maxPool2x2GradAVX(dy *float32, am *int32, dx *float32, rows, ow, w, hw int)
// The gradient of maxPool2x2AVX on the same outputs: each window of dx gets
// its output's gradient at the arg-max and zeros elsewhere. It writes rows
// 0..2·oh−1, columns 0..2·(ow&^3)−1 of each plane; the caller does the rest.
TEXT ·maxPool2x2GradAVX(SB), NOSPLIT, $0-56
	MOVQ dy+0(FP), R12  // row oy of dy
	MOVQ am+8(FP), R13  // row oy of am
	MOVQ dx+16(FP), R11 // row 2·oy of dx
	MOVQ rows+24(FP), R9
	MOVQ w+40(FP), BX

	MP_CONSTS
	VPXOR        Y10, Y10, Y10
	XORQ         R10, R10 // the plane index of row 2·oy

mgrow:
	TESTQ        R9, R9
	JE           mgdone
	MP_ROW_START

mgloop:
	CMPQ    CX, $8
	JLT     mgquad
	VMOVUPS (DX), Y0
	VMOVDQU (R8), Y3
	VPSUBD  Y12, Y3, Y3
	MP_SPREAD
	VMOVUPS Y4, (SI)
	VMOVUPS Y5, 32(SI)
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VPADDD  step16<>(SB), Y12, Y12
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	ADDQ    $32, R8
	SUBQ    $8, CX
	JMP     mgloop

mgquad:
	CMPQ    CX, $4
	JLT     mgnext
	VMOVUPS (DX), X0
	VMOVDQU (R8), X3
	VPSUBD  Y12, Y3, Y3
	MP_SPREAD
	VMOVUPS Y4, (SI)
	VMOVUPS Y6, (DI)

mgnext:
	MP_ROW_NEXT
	JMP mgrow

mgdone:
	VZEROUPPER
	RET

// func sumDotReluAVX2(n int, gs, h *float32, c, scale, shift float32) (s, d float32)
// sumDotAVX2 where h·scale + shift > 0 (computed as affineAVX2 computes it:
// the ReLU that followed the batch norm let the gradient through), for n a
// multiple of 8.
TEXT ·sumDotReluAVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         gs+8(FP), SI
	MOVQ         h+16(FP), DI
	VBROADCASTSS c+24(FP), Y5
	VBROADCASTSS scale+28(FP), Y9
	VBROADCASTSS shift+32(FP), Y10
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VXORPS       Y11, Y11, Y11

srloop:
	TESTQ       CX, CX
	JE          srdone
	VMOVUPS     (DI), Y6
	VMOVAPS     Y6, Y7
	VFMADD213PS Y10, Y9, Y7        // h·scale + shift
	VCMPPS      $0x1e, Y11, Y7, Y7 // > 0 (ordered, quiet)
	VANDPS      (SI), Y7, Y4       // the gradient where the ReLU passed it
	VSUBPS      Y5, Y6, Y6
	VADDPS      Y4, Y0, Y0
	VFMADD231PS Y6, Y4, Y1
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         srloop

srdone:
	HSUM2
	MOVSS        X0, s+40(FP)
	MOVSS        X1, d+44(FP)
	VZEROUPPER
	RET

// func axpbyReluAVX2(n int, gs, x, out *float32, a, b, c, scale, shift float32)
// out = a·g' + b·x + c with g' = g where x·scale + shift > 0, else 0 (as
// sumDotReluAVX2 masks it), for n a multiple of 8.
TEXT ·axpbyReluAVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         gs+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVQ         out+24(FP), DX
	VBROADCASTSS a+32(FP), Y1
	VBROADCASTSS b+36(FP), Y2
	VBROADCASTSS c+40(FP), Y3
	VBROADCASTSS scale+44(FP), Y9
	VBROADCASTSS shift+48(FP), Y10
	VXORPS       Y11, Y11, Y11

arloop:
	TESTQ       CX, CX
	JE          ardone
	VMOVUPS     (DI), Y0
	VMOVAPS     Y0, Y7
	VFMADD213PS Y10, Y9, Y7        // x·scale + shift
	VCMPPS      $0x1e, Y11, Y7, Y7 // > 0
	VANDPS      (SI), Y7, Y4       // g'
	VFMADD213PS Y3, Y2, Y0         // b·x + c
	VFMADD231PS Y4, Y1, Y0         // + a·g'
	VMOVUPS     Y0, (DX)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         arloop

ardone:
	VZEROUPPER
	RET

// func maxPool1x2AffineAVX2(n int, x, y *float32, argmax *int32, scale, shift float32, base *int32, relu bool)
// Eight outputs a step from sixteen inputs: u, v = relu(x·scale + shift) of
// the even and odd inputs (no relu: −∞ is the floor), y = max(u, v),
// argmax = 2o + (u < v). base holds 0, 2, …, 14 (the first eight outputs'
// even positions).
TEXT ·maxPool1x2AffineAVX2(SB), NOSPLIT, $0-49
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         argmax+24(FP), DX
	VBROADCASTSS scale+32(FP), Y8
	VBROADCASTSS shift+36(FP), Y9
	MOVQ         base+40(FP), AX
	VMOVDQU      (AX), Y10       // 2o for the step's eight outputs
	MOVL         $16, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11        // 16: the next step's positions
	VXORPS       Y12, Y12, Y12
	MOVBQZX      relu+48(FP), AX
	TESTQ        AX, AX
	JNE          pairloop
	MOVL         $0xff800000, AX // −∞: max(x, −∞) = x
	VMOVD        AX, X12
	VBROADCASTSS X12, Y12

pairloop:
	TESTQ       CX, CX
	JE          pairdone
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y1
	VFMADD213PS Y9, Y8, Y0       // x·scale + shift
	VFMADD213PS Y9, Y8, Y1
	VMAXPS      Y12, Y0, Y0      // ReLU (−0 to +0), or nothing
	VMAXPS      Y12, Y1, Y1
	VSHUFPS     $0x88, Y1, Y0, Y2 // evens, lane by lane
	VSHUFPS     $0xDD, Y1, Y0, Y3 // odds
	VPERMPD     $0xD8, Y2, Y2    // in order: u
	VPERMPD     $0xD8, Y3, Y3    // v
	VCMPPS      $1, Y3, Y2, Y4   // u < v: all ones
	VMAXPS      Y3, Y2, Y5
	VPSUBD      Y4, Y10, Y6      // 2o + (u < v)
	VMOVUPS     Y5, (DI)
	VMOVDQU     Y6, (DX)
	VPADDD      Y11, Y10, Y10
	ADDQ        $64, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         pairloop

pairdone:
	VZEROUPPER
	RET

// func maxPool1x2ReluAVX2(n int, x, y *float32, scale, shift float32)
// Eight outputs a step from sixteen inputs: y = max(u, v), u, v =
// max(x·scale + shift, 0) of the even and odd inputs (the values
// maxPool1x2AffineAVX2 gives, without the arg-maxima).
TEXT ·maxPool1x2ReluAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	VBROADCASTSS scale+24(FP), Y8
	VBROADCASTSS shift+28(FP), Y9
	VXORPS       Y12, Y12, Y12

reluloop:
	TESTQ       CX, CX
	JE          reludone
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y1
	VFMADD213PS Y9, Y8, Y0
	VFMADD213PS Y9, Y8, Y1
	VMAXPS      Y12, Y0, Y0
	VMAXPS      Y12, Y1, Y1
	VSHUFPS     $0x88, Y1, Y0, Y2
	VSHUFPS     $0xDD, Y1, Y0, Y3
	VMAXPS      Y3, Y2, Y5
	VPERMPD     $0xD8, Y5, Y5 // in order
	VMOVUPS     Y5, (DI)
	ADDQ        $64, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         reluloop

reludone:
	VZEROUPPER
	RET

// func maxPool1x2GradAVX2(n int, dy *float32, argmax *int32, grad *float32, base *int32)
// Eight gradients a step to sixteen positions: with k = argmax − 2o (0 or
// 1), g[2o] = dy[o] where k = 0 and g[2o+1] = dy[o] where k = 1, else 0.
// base holds 0, 2, …, 14 (the first eight outputs' even positions).
TEXT ·maxPool1x2GradAVX2(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         dy+8(FP), SI
	MOVQ         argmax+16(FP), DX
	MOVQ         grad+24(FP), DI
	MOVQ         base+32(FP), AX
	VMOVDQU      (AX), Y10 // 2o for the step's eight outputs
	MOVL         $16, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11  // 16: the next step's positions

gradloop:
	TESTQ      CX, CX
	JE         graddone
	VMOVUPS    (SI), Y0
	VMOVDQU    (DX), Y1
	VPSUBD     Y10, Y1, Y1             // k
	VPSLLD     $31, Y1, Y1
	VPSRAD     $31, Y1, Y1             // all ones where k = 1
	VANDPS     Y1, Y0, Y3              // odd positions' values
	VANDNPS    Y0, Y1, Y2              // even positions'
	VUNPCKLPS  Y3, Y2, Y4              // pairs 0,1 | 4,5 of each half
	VUNPCKHPS  Y3, Y2, Y5              // pairs 2,3 | 6,7
	VPERM2F128 $0x20, Y5, Y4, Y6       // pairs 0–3
	VPERM2F128 $0x31, Y5, Y4, Y7       // pairs 4–7
	VMOVUPS    Y6, (DI)
	VMOVUPS    Y7, 32(DI)
	VPADDD     Y11, Y10, Y10
	ADDQ       $32, SI
	ADDQ       $32, DX
	ADDQ       $64, DI
	SUBQ       $8, CX
	JMP        gradloop

graddone:
	VZEROUPPER
	RET

// POOL_GRAD takes sixteen inputs Y0:Y1 and their eight pooled gradients Y2
// and leaves the gradients each input gets: evens' in Y8, odds' in Y7, and
// the inputs themselves in Y3 (evens), Y4 (odds), all in the order
// VSHUFPS leaves them (outputs 0, 1, 4, 5 | 2, 3, 6, 7). u, v = max(x·scale
// + shift, 0) as maxPool1x2AffineAVX2 computes them: the odd input takes
// dy where u < v, the even one where not and u > 0. Y9, Y10 = scale, shift;
// Y11 = 0.
#define POOL_GRAD \
	VSHUFPS     $0x88, Y1, Y0, Y3; \
	VSHUFPS     $0xDD, Y1, Y0, Y4; \
	VMOVAPS     Y3, Y5; \
	VFMADD213PS Y10, Y9, Y5; \
	VMOVAPS     Y4, Y6; \
	VFMADD213PS Y10, Y9, Y6; \
	VMAXPS      Y11, Y5, Y5; \
	VMAXPS      Y11, Y6, Y6; \
	VCMPPS      $1, Y6, Y5, Y7; \
	VCMPPS      $0x1e, Y11, Y5, Y8; \
	VANDNPS     Y8, Y7, Y8; \
	VPERMPD     $0xD8, Y2, Y2; \
	VANDPS      Y2, Y7, Y7; \
	VANDPS      Y2, Y8, Y8

// func sumDotReluPool1x2AVX2(n int, dy, x *float32, c, scale, shift float32) (s, d float32)
// Σg and Σg·(x − c) over 2n inputs, g routed by POOL_GRAD from n pooled
// gradients (n a multiple of 8).
TEXT ·sumDotReluPool1x2AVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), DI
	VBROADCASTSS c+24(FP), Y12
	VBROADCASTSS scale+28(FP), Y9
	VBROADCASTSS shift+32(FP), Y10
	VXORPS       Y11, Y11, Y11
	VXORPS       Y13, Y13, Y13
	VXORPS       Y14, Y14, Y14

sploop:
	TESTQ       CX, CX
	JE          spdone
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     (SI), Y2
	POOL_GRAD
	VSUBPS      Y12, Y3, Y3
	VSUBPS      Y12, Y4, Y4
	VADDPS      Y8, Y13, Y13
	VADDPS      Y7, Y13, Y13
	VFMADD231PS Y3, Y8, Y14
	VFMADD231PS Y4, Y7, Y14
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $8, CX
	JMP         sploop

spdone:
	VMOVAPS Y13, Y0
	VMOVAPS Y14, Y1
	HSUM2
	MOVSS   X0, s+40(FP)
	MOVSS   X1, d+44(FP)
	VZEROUPPER
	RET

// func axpbyReluPool1x2AVX2(n int, dy, x, out *float32, a, b, c, scale, shift float32)
// out = a·g + b·x + c over 2n inputs, g routed by POOL_GRAD from n pooled
// gradients (n a multiple of 8); UNPCK puts the pairs back in order.
TEXT ·axpbyReluPool1x2AVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), DI
	MOVQ         out+24(FP), DX
	VBROADCASTSS a+32(FP), Y13
	VBROADCASTSS b+36(FP), Y14
	VBROADCASTSS c+40(FP), Y15
	VBROADCASTSS scale+44(FP), Y9
	VBROADCASTSS shift+48(FP), Y10
	VXORPS       Y11, Y11, Y11

aploop:
	TESTQ       CX, CX
	JE          apdone
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     (SI), Y2
	POOL_GRAD
	VFMADD213PS Y15, Y14, Y3 // b·x + c
	VFMADD231PS Y8, Y13, Y3  // + a·g
	VFMADD213PS Y15, Y14, Y4
	VFMADD231PS Y7, Y13, Y4
	VUNPCKLPS   Y4, Y3, Y5   // inputs 0–7
	VUNPCKHPS   Y4, Y3, Y6   // inputs 8–15
	VMOVUPS     Y5, (DX)
	VMOVUPS     Y6, 32(DX)
	ADDQ        $32, SI
	ADDQ        $64, DI
	ADDQ        $64, DX
	SUBQ        $8, CX
	JMP         aploop

apdone:
	VZEROUPPER
	RET

// The 2×2 pooled batch-norm gradient kernels below make the forward
// pooling's choice again from x (maxPool2x2AVX with affine): Y12 = scale,
// Y13 = shift. Eight windows a step from sixteen inputs of each of rows
// 2·oy and 2·oy+1, or four from eight; the caller does the rest of a row.
//
// PP_DEINT(lo, hi, ev, od) splits sixteen inputs lo:hi into their evens
// and odds, each in order, as MP_WINDOW does.
#define PP_DEINT(lo, hi, ev, od) \
	VSHUFPS $0x88, hi, lo, ev; \
	VSHUFPS $0xDD, hi, lo, od; \
	VPERMPD $0xD8, ev, ev; \
	VPERMPD $0xD8, od, od

// PP_INTERLEAVE(ev, od, lo, hi) is its inverse, using Y8 and Y9.
#define PP_INTERLEAVE(ev, od, lo, hi) \
	VUNPCKLPS  od, ev, Y8; \
	VUNPCKHPS  od, ev, Y9; \
	VPERM2F128 $0x20, Y9, Y8, lo; \
	VPERM2F128 $0x31, Y9, Y8, hi

// PP_MAP(r) is MP_AFFINE with Y12, Y13: r = max(r·scale + shift, 0).
#define PP_MAP(r) \
	VFMADD213PS Y13, Y12, r; \
	VMAXPS      zeros<>(SB), r, r

// PP_MAX sets Y8 to the window maxima of the mapped a, b, c, d (the evens
// and odds of row 2·oy, then of 2·oy+1) in Y4..Y7 — MP_WINDOW's
// instructions in its order — and Y9 to where they are > 0.
#define PP_MAX \
	VMAXPS Y5, Y4, Y8; \
	VMAXPS Y7, Y6, Y9; \
	VMAXPS Y9, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VCMPPS $0x1e, Y9, Y8, Y9

// PP_CHOOSE takes raw rows 2·oy (Y0:Y1) and 2·oy+1 (Y2:Y3) and leaves
// the window maxima in Y8, where they are > 0 in Y9, and in Y10 the raw x
// at each window's first maximum (the forward pass's choice).
#define PP_CHOOSE \
	PP_DEINT(Y0, Y1, Y4, Y5); \
	PP_DEINT(Y2, Y3, Y6, Y7); \
	VMOVAPS Y4, Y0; \
	VMOVAPS Y5, Y1; \
	VMOVAPS Y6, Y2; \
	VMOVAPS Y7, Y3; \
	PP_MAP(Y4); \
	PP_MAP(Y5); \
	PP_MAP(Y6); \
	PP_MAP(Y7); \
	PP_MAX; \
	VCMPPS    $0, Y8, Y6, Y10; \
	VBLENDVPS Y10, Y2, Y3, Y10; \
	VCMPPS    $0, Y8, Y5, Y3; \
	VBLENDVPS Y3, Y1, Y10, Y10; \
	VCMPPS    $0, Y8, Y4, Y3; \
	VBLENDVPS Y3, Y0, Y10, Y10

// func sumDotReluPool2x2AVX2(dy, x *float32, rows, ow, q, w, planes, xstep, dystep int, c, scale, shift float32) (s, d float32)
// Σg and Σg·(x − c) over the first q (a multiple of 4) windows of each of
// rows output rows, g = dy at each window's maximum where it is > 0, of
// planes planes: after a plane's rows, x moves on xstep bytes and dy
// dystep (to the next image's plane of the same channel).
TEXT ·sumDotReluPool2x2AVX2(SB), NOSPLIT, $0-96
	MOVQ         dy+0(FP), R12
	MOVQ         x+8(FP), R11
	MOVQ         rows+16(FP), R9
	MOVQ         w+40(FP), BX
	MOVQ         planes+48(FP), R8
	VBROADCASTSS c+72(FP), Y11
	VBROADCASTSS scale+76(FP), Y12
	VBROADCASTSS shift+80(FP), Y13
	VXORPS       Y14, Y14, Y14 // Σ g·(x − c)
	VXORPS       Y15, Y15, Y15 // Σ g

sprow:
	TESTQ R9, R9
	JNE   sprowgo
	DECQ  R8
	JE    spdone
	ADDQ  xstep+56(FP), R11
	ADDQ  dystep+64(FP), R12
	MOVQ  rows+16(FP), R9

sprowgo:
	MOVQ  R11, SI
	LEAQ  (R11)(BX*4), DI
	MOVQ  R12, DX
	MOVQ  q+32(FP), CX

sploop:
	CMPQ    CX, $8
	JLT     spquad
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	PP_CHOOSE
	VANDPS  (DX), Y9, Y9
	VADDPS  Y9, Y15, Y15
	VSUBPS  Y11, Y10, Y10
	VFMADD231PS Y10, Y9, Y14
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     sploop

spquad:
	CMPQ    CX, $4
	JLT     spnext
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVUPS (DI), Y2
	VMOVAPS Y2, Y3
	PP_CHOOSE
	VMOVUPS (DX), X3 // four gradients; the upper lanes zero
	VANDPS  Y3, Y9, Y9
	VADDPS  Y9, Y15, Y15
	VSUBPS  Y11, Y10, Y10
	VFMADD231PS Y10, Y9, Y14

spnext:
	MOVQ ow+24(FP), AX
	LEAQ (R12)(AX*4), R12
	LEAQ (R11)(BX*8), R11
	DECQ R9
	JMP  sprow

spdone:
	VMOVAPS Y15, Y0
	VMOVAPS Y14, Y1
	HSUM2
	MOVSS   X0, s+88(FP)
	MOVSS   X1, d+92(FP)
	VZEROUPPER
	RET

// PP_ROUTE leaves in Y4..Y7 (evens and odds of row 2·oy, then of 2·oy+1)
// the gradient g (Y9 on entry) at each window's first maximum of the
// mapped a..d in Y4..Y7 (maxima Y8), zero elsewhere; then spreads them to
// the rows' order: Y0:Y1 and Y2:Y3.
#define PP_ROUTE \
	VCMPPS  $0, Y8, Y4, Y10; \
	VANDPS  Y10, Y9, Y4; \
	VANDNPS Y9, Y10, Y9; \
	VCMPPS  $0, Y8, Y5, Y10; \
	VANDPS  Y10, Y9, Y5; \
	VANDNPS Y9, Y10, Y9; \
	VCMPPS  $0, Y8, Y6, Y10; \
	VANDPS  Y10, Y9, Y6; \
	VANDNPS Y9, Y10, Y7; \
	PP_INTERLEAVE(Y4, Y5, Y0, Y1); \
	PP_INTERLEAVE(Y6, Y7, Y2, Y3)

// PP_OUT(off, g, src, dst) stores a·g + b·x + c for the eight x at
// off(src) at off(dst), as axpbyReluAVX2 rounds it.
#define PP_OUT(off, g, src, dst) \
	VMOVUPS     off(src), Y4; \
	VFMADD213PS Y11, Y14, Y4; \
	VFMADD231PS g, Y15, Y4; \
	VMOVUPS     Y4, off(dst)

// func axpbyReluPool2x2AVX2(dy, x, out *float32, rows, ow, q, w, planes, xstep, dystep int, a, b, c, scale, shift float32)
// out = a·g + b·x + c over the first 2·q columns (q a multiple of 4) of
// rows 0..2·rows−1, g as in sumDotReluPool2x2AVX2, of planes planes (out
// laid out as x).
TEXT ·axpbyReluPool2x2AVX2(SB), NOSPLIT, $0-100
	MOVQ         dy+0(FP), R12
	MOVQ         x+8(FP), R11
	MOVQ         out+16(FP), R13
	MOVQ         rows+24(FP), R9
	MOVQ         w+48(FP), BX
	VBROADCASTSS a+80(FP), Y15
	VBROADCASTSS b+84(FP), Y14
	VBROADCASTSS c+88(FP), Y11
	VBROADCASTSS scale+92(FP), Y12
	VBROADCASTSS shift+96(FP), Y13

aprow:
	TESTQ R9, R9
	JNE   aprowgo
	DECQ  planes+56(FP)
	JE    apdone
	MOVQ  xstep+64(FP), AX
	ADDQ  AX, R11
	ADDQ  AX, R13
	ADDQ  dystep+72(FP), R12
	MOVQ  rows+24(FP), R9

aprowgo:
	MOVQ  R11, SI
	LEAQ  (R11)(BX*4), DI
	MOVQ  R13, R8
	LEAQ  (R13)(BX*4), R10
	MOVQ  R12, DX
	MOVQ  q+40(FP), CX

aploop:
	CMPQ    CX, $8
	JLT     apquad
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	PP_MAP(Y0)
	PP_MAP(Y1)
	PP_MAP(Y2)
	PP_MAP(Y3)
	PP_DEINT(Y0, Y1, Y4, Y5)
	PP_DEINT(Y2, Y3, Y6, Y7)
	PP_MAX
	VANDPS  (DX), Y9, Y9
	PP_ROUTE
	PP_OUT(0, Y0, SI, R8)
	PP_OUT(32, Y1, SI, R8)
	PP_OUT(0, Y2, DI, R10)
	PP_OUT(32, Y3, DI, R10)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, R8
	ADDQ    $64, R10
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     aploop

apquad:
	CMPQ    CX, $4
	JLT     apnext
	VMOVUPS (SI), Y0
	VMOVUPS (DI), Y2
	PP_MAP(Y0)
	PP_MAP(Y2)
	VMOVAPS Y0, Y1
	VMOVAPS Y2, Y3
	PP_DEINT(Y0, Y1, Y4, Y5)
	PP_DEINT(Y2, Y3, Y6, Y7)
	PP_MAX
	VMOVUPS (DX), X10 // four gradients; the upper lanes zero
	VANDPS  Y10, Y9, Y9
	PP_ROUTE
	PP_OUT(0, Y0, SI, R8)
	PP_OUT(0, Y2, DI, R10)

apnext:
	MOVQ ow+32(FP), AX
	LEAQ (R12)(AX*4), R12
	LEAQ (R11)(BX*8), R11
	LEAQ (R13)(BX*8), R13
	DECQ R9
	JMP  aprow

apdone:
	VZEROUPPER
	RET

// func addRowSumsAVX2(n int, src *float32, rows, stride int, dst *float32)
// dst[r] += Σ of the first n (a multiple of 8) floats of row r of src
// (stride floats apart), r < rows: four sums in flight a row, so a row is
// not one long chain of dependent additions.
TEXT ·addRowSumsAVX2(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), BX
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R9
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ dst+32(FP), DX

rsrow:
	TESTQ  R9, R9
	JE     rsdone
	MOVQ   SI, DI
	MOVQ   BX, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

rs32:
	CMPQ   CX, $32
	JLT    rs8
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VADDPS 64(DI), Y2, Y2
	VADDPS 96(DI), Y3, Y3
	ADDQ   $128, DI
	SUBQ   $32, CX
	JMP    rs32

rs8:
	TESTQ  CX, CX
	JE     rssum
	VADDPS (DI), Y0, Y0
	ADDQ   $32, DI
	SUBQ   $8, CX
	JMP    rs8

rssum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VADDSS       (DX), X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         R9
	JMP          rsrow

rsdone:
	VZEROUPPER
	RET
