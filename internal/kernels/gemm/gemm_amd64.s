#include "textflag.h"

// The two micro-kernels share their registers and structure: SI walks the
// packed A panel, DI the B rows (R12 = B's row stride in bytes), R10 the
// bias and then the rows of C (R8 = C's row stride in bytes), R11 counts
// the rows to store, CX the depth left. These macros are their pieces.

// KARGS loads the kernels' arguments (the flags end set by bias == nil);
// KSTORE gets ready to store (the flags end set by !add).
#define KARGS \
	MOVQ    k+0(FP), CX; \
	MOVQ    ap+8(FP), SI; \
	MOVQ    bp+16(FP), DI; \
	MOVQ    c+24(FP), DX; \
	MOVQ    ldc+32(FP), R8; \
	SHLQ    $2, R8; \
	MOVBQZX add+40(FP), R9; \
	MOVQ    ldb+64(FP), R12; \
	SHLQ    $2, R12; \
	MOVQ    bias+48(FP), R10; \
	TESTQ   R10, R10

#define KSTORE \
	MOVQ  rows+56(FP), R11; \
	MOVQ  DX, R10; \
	TESTQ R9, R9

// KBIAS starts an accumulator row pair at the bias of row off/4.
#define KBIAS(off, a, b) \
	VBROADCASTSS off(R10), a; \
	VMOVAPS      a, b

// KPUT stores a row pair (its second half at byte offset half), KADD adds
// it to C's row first; KNEXT moves to the next row of C, or to done after
// the last one.
#define KPUT(a, b, half) \
	VMOVUPS a, (R10); \
	VMOVUPS b, half(R10)

#define KADD(a, b, half) \
	VADDPS  (R10), a, a; \
	VADDPS  half(R10), b, b; \
	VMOVUPS a, (R10); \
	VMOVUPS b, half(R10)

#define KNEXT(done) \
	DECQ R11; \
	JE   done; \
	ADDQ R8, R10

// KDEPTH(loop, tail, done, step, fma) runs the CX depth steps of a
// tile, step(fma) each (two a turn, then an odd one), and jumps to done;
// loop and tail are its labels.
#define KDEPTH(loop, tail, done, step, fma) \
loop: \
	CMPQ CX, $2; \
	JLT  tail; \
	step(fma); \
	step(fma); \
	SUBQ $2, CX; \
	JMP  loop; \
tail: \
	TESTQ CX, CX; \
	JE    done; \
	step(fma); \
	JMP   done

// XSTEP is one depth step of the 6×16 kernel: a row of B times six of A.
#define XSTEP \
	VMOVUPS      (DI), Y0; \
	VMOVUPS      32(DI), Y1; \
	VBROADCASTSS 0(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VBROADCASTSS 4(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS 8(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VBROADCASTSS 12(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS 16(SI), Y2; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VBROADCASTSS 20(SI), Y3; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15; \
	ADDQ         $24, SI; \
	ADDQ         R12, DI

// func kernel6x16AVX2(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int)
//
// C[0:rows, 0:16] (row stride ldc floats) = or += Σ_p ap[p*6+r] · bp[p*ldb+j],
// starting the sums at bias[r] (six values) unless bias is nil. Twelve YMM
// accumulators hold the tile: Y4..Y15 = rows 0..5 × two halves.
TEXT ·kernel6x16AVX2(SB), NOSPLIT, $0-72
	KARGS
	JE      xzero
	KBIAS(0, Y4, Y5)
	KBIAS(4, Y6, Y7)
	KBIAS(8, Y8, Y9)
	KBIAS(12, Y10, Y11)
	KBIAS(16, Y12, Y13)
	KBIAS(20, Y14, Y15)
	JMP     xloop

xzero:
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

xloop:
	CMPQ CX, $2
	JLT  xtail
	XSTEP
	XSTEP
	SUBQ $2, CX
	JMP  xloop

xtail:
	TESTQ CX, CX
	JE    xstore
	XSTEP

xstore:
	KSTORE
	JNE   xadd
	KPUT(Y4, Y5, 32)
	KNEXT(xdone)
	KPUT(Y6, Y7, 32)
	KNEXT(xdone)
	KPUT(Y8, Y9, 32)
	KNEXT(xdone)
	KPUT(Y10, Y11, 32)
	KNEXT(xdone)
	KPUT(Y12, Y13, 32)
	KNEXT(xdone)
	KPUT(Y14, Y15, 32)
	JMP xdone

xadd:
	KADD(Y4, Y5, 32)
	KNEXT(xdone)
	KADD(Y6, Y7, 32)
	KNEXT(xdone)
	KADD(Y8, Y9, 32)
	KNEXT(xdone)
	KADD(Y10, Y11, 32)
	KNEXT(xdone)
	KADD(Y12, Y13, 32)
	KNEXT(xdone)
	KADD(Y14, Y15, 32)

xdone:
	VZEROUPPER
	RET

// func dotAVX2(n int, x, y *float32) float32
//
// Σ x[i]·y[i] for i < n, n a multiple of 32, with four 8-wide accumulators.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	MOVQ   y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dotloop:
	TESTQ       CX, CX
	JE          dotdone
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dotloop

dotdone:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+24(FP)
	RET

// func transpose8x8AVX(src *float32, srcStride int, dst *float32, dstStride int)
//
// dst[k*dstStride + i] = src[i*srcStride + k] for i, k < 8 (strides in floats).
TEXT ·transpose8x8AVX(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ srcStride+8(FP), AX
	SHLQ $2, AX
	MOVQ dst+16(FP), DI
	MOVQ dstStride+24(FP), BX
	SHLQ $2, BX

	VMOVUPS (SI), Y0
	ADDQ    AX, SI
	VMOVUPS (SI), Y1
	ADDQ    AX, SI
	VMOVUPS (SI), Y2
	ADDQ    AX, SI
	VMOVUPS (SI), Y3
	ADDQ    AX, SI
	VMOVUPS (SI), Y4
	ADDQ    AX, SI
	VMOVUPS (SI), Y5
	ADDQ    AX, SI
	VMOVUPS (SI), Y6
	ADDQ    AX, SI
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
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	VMOVUPS Y8, (DI)
	ADDQ    BX, DI
	VMOVUPS Y9, (DI)
	ADDQ    BX, DI
	VMOVUPS Y10, (DI)
	ADDQ    BX, DI
	VMOVUPS Y11, (DI)
	ADDQ    BX, DI
	VMOVUPS Y12, (DI)
	ADDQ    BX, DI
	VMOVUPS Y13, (DI)
	ADDQ    BX, DI
	VMOVUPS Y14, (DI)
	ADDQ    BX, DI
	VMOVUPS Y15, (DI)
	VZEROUPPER
	RET

// KZERO8 and KBIAS8 start the accumulators of rows 0–7 (Z4..Z19) at zero
// or at the bias; KPUT8 and KADD8 store them, up to the last row to store.
#define KZERO8 \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19

#define KBIAS8 \
	KBIAS(0, Z4, Z5); \
	KBIAS(4, Z6, Z7); \
	KBIAS(8, Z8, Z9); \
	KBIAS(12, Z10, Z11); \
	KBIAS(16, Z12, Z13); \
	KBIAS(20, Z14, Z15); \
	KBIAS(24, Z16, Z17); \
	KBIAS(28, Z18, Z19)

#define KPUT8(done) \
	KPUT(Z4, Z5, 64); \
	KNEXT(done); \
	KPUT(Z6, Z7, 64); \
	KNEXT(done); \
	KPUT(Z8, Z9, 64); \
	KNEXT(done); \
	KPUT(Z10, Z11, 64); \
	KNEXT(done); \
	KPUT(Z12, Z13, 64); \
	KNEXT(done); \
	KPUT(Z14, Z15, 64); \
	KNEXT(done); \
	KPUT(Z16, Z17, 64); \
	KNEXT(done); \
	KPUT(Z18, Z19, 64)

#define KADD8(done) \
	KADD(Z4, Z5, 64); \
	KNEXT(done); \
	KADD(Z6, Z7, 64); \
	KNEXT(done); \
	KADD(Z8, Z9, 64); \
	KNEXT(done); \
	KADD(Z10, Z11, 64); \
	KNEXT(done); \
	KADD(Z12, Z13, 64); \
	KNEXT(done); \
	KADD(Z14, Z15, 64); \
	KNEXT(done); \
	KADD(Z16, Z17, 64); \
	KNEXT(done); \
	KADD(Z18, Z19, 64)

// YFMA is the arithmetic of one depth step of the 8×32 kernel: the row of B
// in Z0:Z1 times eight of A (YFMA_LO rows 0–3, YFMA_HI rows 4–7). YFMA4
// is its first four rows only: an edge tile of at most four rows (36
// filters end in one of 4) does half the work rather than the whole
// tile's.
// KROW is row off/4 of a depth step: A's value broadcast into b, times B's
// row in Z0:Z1, into the row's accumulators a0:a1.
#define KROW(off, b, a0, a1) \
	VBROADCASTSS off(SI), b; \
	VFMADD231PS  Z0, b, a0; \
	VFMADD231PS  Z1, b, a1

#define YFMA_LO \
	KROW(0, Z2, Z4, Z5); \
	KROW(4, Z3, Z6, Z7); \
	KROW(8, Z2, Z8, Z9); \
	KROW(12, Z3, Z10, Z11)

#define YFMA_HI \
	KROW(16, Z2, Z12, Z13); \
	KROW(20, Z3, Z14, Z15); \
	KROW(24, Z2, Z16, Z17); \
	KROW(28, Z3, Z18, Z19)

#define YFMA \
	YFMA_LO; \
	YFMA_HI; \
	ADDQ $32, SI

#define YFMA4 \
	YFMA_LO; \
	ADDQ $32, SI

// YSTEP(fma) is one depth step with B's rows a stride (R12) apart;
// YSTEPR(fma) one with row p at DI + 4·offs[p] (R13 walks offs); fma is
// YFMA or YFMA4.
#define YSTEP(fma) \
	VMOVUPS (DI), Z0; \
	VMOVUPS 64(DI), Z1; \
	fma; \
	ADDQ    R12, DI

#define YSTEPR(fma) \
	MOVQ    (R13), R14; \
	VMOVUPS (DI)(R14*4), Z0; \
	VMOVUPS 64(DI)(R14*4), Z1; \
	fma; \
	ADDQ    $8, R13

// func kernel8x32AVX512(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int, offs *int)
//
// C[0:rows, 0:32] (row stride ldc floats) = or += Σ_p ap[p*8+r] · bp[p*ldb+j],
// starting the sums at bias[r] (eight values) unless bias is nil; rows ≤ 8
// lets an edge tile store only the rows inside C; ldb is 32 for a packed
// panel, larger to read B where it lies. Sixteen ZMM accumulators hold the
// tile: Z4..Z19 = rows 0..7 × two halves.
TEXT ·kernel8x32AVX512(SB), NOSPLIT, $0-80
	KARGS
	JE      yzero
	KBIAS8
	JMP     ybody

yzero:
	KZERO8

ybody:
	MOVQ  offs+72(FP), R13
	CMPQ  rows+56(FP), $4
	JLE   yhalf
	TESTQ R13, R13
	JNE   yrows

	KDEPTH(yloop, ytail, ystore, YSTEP, YFMA)

	KDEPTH(yrows, yrtail, ystore, YSTEPR, YFMA)

yhalf:
	TESTQ R13, R13
	JNE   yhrows

	KDEPTH(yhloop, yhtail, ystore, YSTEP, YFMA4)

	KDEPTH(yhrows, yhrtail, ystore, YSTEPR, YFMA4)

ystore:
	KSTORE
	JNE   yadd
	KPUT8(ydone)
	JMP ydone

yadd:
	KADD8(ydone)

ydone:
	VZEROUPPER
	RET

// ZFMA is the arithmetic of one depth step of the 10×32 kernel, the row of
// B in Z0:Z1 times ten of A; ZFMA5 is its first five rows, for an edge tile
// of at most five. Ten rows are the 8×32 kernel's tile grown to twenty
// accumulators: a layer of 20 or 50 filters (LeNet's) is then whole tiles,
// each pass over B's panel feeding ten rows rather than eight or an edge
// tile's four.
#define ZFMA \
	YFMA_LO; \
	YFMA_HI; \
	KROW(32, Z2, Z20, Z21); \
	KROW(36, Z3, Z22, Z23); \
	ADDQ $40, SI

#define ZFMA5 \
	YFMA_LO; \
	KROW(16, Z2, Z12, Z13); \
	ADDQ $40, SI

// func kernel10x32AVX512(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int, offs *int)
//
// kernel8x32AVX512 for 10×32 tiles (ap holds ten values a depth step, bias
// ten, rows ≤ 10): Z4..Z23 = rows 0..9 × two halves.
TEXT ·kernel10x32AVX512(SB), NOSPLIT, $0-80
	KARGS
	JE      zzero
	KBIAS8
	KBIAS(32, Z20, Z21)
	KBIAS(36, Z22, Z23)
	JMP     zbody

zzero:
	KZERO8
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

zbody:
	MOVQ  offs+72(FP), R13
	CMPQ  rows+56(FP), $5
	JLE   zhalf
	TESTQ R13, R13
	JNE   zrows

	KDEPTH(zloop, zloopt, zstore, YSTEP, ZFMA)

	KDEPTH(zrows, zrowst, zstore, YSTEPR, ZFMA)

zhalf:
	TESTQ R13, R13
	JNE   zhrows

	KDEPTH(zhloop, zhloopt, zstore, YSTEP, ZFMA5)

	KDEPTH(zhrows, zhrowst, zstore, YSTEPR, ZFMA5)

zstore:
	KSTORE
	JNE   zadd
	KPUT8(zdone)
	KNEXT(zdone)
	KPUT(Z20, Z21, 64)
	KNEXT(zdone)
	KPUT(Z22, Z23, 64)
	JMP zdone

zadd:
	KADD8(zdone)
	KNEXT(zdone)
	KADD(Z20, Z21, 64)
	KNEXT(zdone)
	KADD(Z22, Z23, 64)

zdone:
	VZEROUPPER
	RET

// func dot4AVX512(n int, x, w *float32, ldw int, out *float32)
//
// out[r] = Σ_{i<n} x[i]·w[r·ldw + i] for r < 4 (ldw in floats; n a
// positive multiple of 16). x is loaded once for the four rows: a dot
// product alone loads two floats per multiply-add, and at batch 1 a dense
// layer is bound by the loads of its weights.
TEXT ·dot4AVX512(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), AX
	SHLQ $2, AX
	MOVQ out+32(FP), DX
	LEAQ (DI)(AX*1), R8
	LEAQ (DI)(AX*2), R9
	LEAQ (R8)(AX*2), R10
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

dot4loop32:
	CMPQ        CX, $32
	JL          dot4tail
	VMOVUPS     (SI), Z8
	VMOVUPS     64(SI), Z9
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS 64(DI), Z9, Z4
	VFMADD231PS (R8), Z8, Z1
	VFMADD231PS 64(R8), Z9, Z5
	VFMADD231PS (R9), Z8, Z2
	VFMADD231PS 64(R9), Z9, Z6
	VFMADD231PS (R10), Z8, Z3
	VFMADD231PS 64(R10), Z9, Z7
	ADDQ        $128, SI
	ADDQ        $128, DI
	ADDQ        $128, R8
	ADDQ        $128, R9
	ADDQ        $128, R10
	SUBQ        $32, CX
	JMP         dot4loop32

dot4tail:
	TESTQ       CX, CX
	JE          dot4reduce
	VMOVUPS     (SI), Z8
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS (R8), Z8, Z1
	VFMADD231PS (R9), Z8, Z2
	VFMADD231PS (R10), Z8, Z3

dot4reduce:
	VADDPS        Z4, Z0, Z0
	VADDPS        Z5, Z1, Z1
	VADDPS        Z6, Z2, Z2
	VADDPS        Z7, Z3, Z3
	VEXTRACTF64X4 $1, Z0, Y8
	VADDPS        Y8, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y8
	VADDPS        Y8, Y1, Y1
	VEXTRACTF64X4 $1, Z2, Y8
	VADDPS        Y8, Y2, Y2
	VEXTRACTF64X4 $1, Z3, Y8
	VADDPS        Y8, Y3, Y3
	VEXTRACTF128  $1, Y0, X8
	VADDPS        X8, X0, X0
	VEXTRACTF128  $1, Y1, X8
	VADDPS        X8, X1, X1
	VEXTRACTF128  $1, Y2, X8
	VADDPS        X8, X2, X2
	VEXTRACTF128  $1, Y3, X8
	VADDPS        X8, X3, X3
	VHADDPS       X1, X0, X0
	VHADDPS       X3, X2, X2
	VHADDPS       X2, X0, X0
	VMOVUPS       X0, (DX)
	VZEROUPPER
	RET
