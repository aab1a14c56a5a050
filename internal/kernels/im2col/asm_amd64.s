#include "textflag.h"

// func s1RowsAVX(x, col *float32, c, k, w4, oh, ow4, ow32, rest4, skip4 int, add bool)
// The moves of im2col and col2im for stride 1 and no padding, on the first
// ow32/4 (a multiple of 8) columns of each output row: for every channel
// ch < c, tap (ki,kj) and position (oy, ox),
//
//	col[ch,ki,kj][oy][ox] = x[ch][ki+oy][kj+ox]   (im2col, add false)
//	x[ch][ki+oy][kj+ox] += col[ch,ki,kj][oy][ox]  (col2im, add true)
//
// One call per image, tight loops over the rows: calls per row (addRows,
// copyRows) cost more than the moves themselves. Sizes in bytes: w4 = W·4,
// ow4 = OW·4, ow32 = 4·(OW &^ 7); rest4 = (H − k)·W·4 takes row k of a plane
// to the next plane; skip4 is the gap between rows of col (0 when they are
// contiguous).
TEXT ·s1RowsAVX(SB), NOSPLIT, $0-81
	MOVQ x+0(FP), R12
	MOVQ col+8(FP), SI
	MOVQ c+16(FP), CX
	MOVQ w4+32(FP), R8
	MOVQ ow32+56(FP), R9

ci_loop:
	TESTQ CX, CX
	JE    ci_done
	MOVQ  k+24(FP), BX

ki_loop:
	TESTQ BX, BX
	JE    ki_done
	MOVQ  k+24(FP), DX
	MOVQ  R12, R13 // column kj of row ki

kj_loop:
	TESTQ DX, DX
	JE    kj_done
	MOVQ  R13, R10 // x at (ki + oy, kj)
	MOVQ  oh+40(FP), R11
	CMPB  add+80(FP), $0
	JNE   add_row

copy_row:
	XORQ AX, AX

copy_col:
	VMOVUPS (R10)(AX*1), Y0
	VMOVUPS Y0, (SI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R9
	JNE     copy_col
	ADDQ    R8, R10
	ADDQ    ow4+48(FP), SI
	DECQ    R11
	JNE     copy_row
	JMP     kj_next

add_row:
	XORQ AX, AX

add_col:
	VMOVUPS (SI)(AX*1), Y0
	VADDPS  (R10)(AX*1), Y0, Y0
	VMOVUPS Y0, (R10)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R9
	JNE     add_col
	ADDQ    R8, R10
	ADDQ    ow4+48(FP), SI
	DECQ    R11
	JNE     add_row

kj_next:
	ADDQ skip4+72(FP), SI
	ADDQ $4, R13
	DECQ DX
	JMP  kj_loop

kj_done:
	ADDQ R8, R12
	DECQ BX
	JMP  ki_loop

ki_done:
	ADDQ rest4+64(FP), R12 // the next channel's plane
	DECQ CX
	JMP  ci_loop

ci_done:
	VZEROUPPER
	RET

// func im2rowAVX(x, row *float32, c, k, w4, oh, ow, hrest4, ld4, xs4, ys4 int)
// The transpose of im2col for no padding and k ≤ 8, stride S (xs4 = 4·S,
// ys4 = 4·S·W): for each output pixel p = (oy, ox), row p (ld4 bytes apart)
// gets, for each channel and kernel row (ch, ki), the k input values
// x[ch][S·oy+ki][S·ox : S·ox+k]. Each
// span is moved as 8 floats: the extra 8−k land where the next span (or the
// next row) is written afterwards, and past the last row, which the caller
// pads; reads likewise run up to 8−k floats past a span.
TEXT ·im2rowAVX(SB), NOSPLIT, $0-88
	MOVQ x+0(FP), R12 // x at (0, oy, 0)
	MOVQ row+8(FP), DI
	MOVQ w4+32(FP), R8
	MOVQ k+24(FP), R9
	SHLQ $2, R9 // k·4: one span
	MOVQ oh+40(FP), R11

ir_oy:
	TESTQ R11, R11
	JE    ir_done
	MOVQ  ow+48(FP), R10
	MOVQ  R12, R13 // x at (0, oy, ox)

ir_ox:
	TESTQ R10, R10
	JE    ir_oy_next
	MOVQ  R13, SI
	MOVQ  DI, DX
	MOVQ  c+16(FP), CX

ir_c:
	MOVQ k+24(FP), BX

ir_ki:
	VMOVUPS (SI), Y0
	VMOVUPS Y0, (DX)
	ADDQ    R8, SI
	ADDQ    R9, DX
	DECQ    BX
	JNE     ir_ki
	ADDQ    hrest4+56(FP), SI // on to the next channel
	DECQ    CX
	JNE     ir_c
	ADDQ    ld4+64(FP), DI
	ADDQ    xs4+72(FP), R13 // the next output pixel's taps: S inputs on
	DECQ    R10
	JMP     ir_ox

ir_oy_next:
	ADDQ ys4+80(FP), R12 // S input rows down
	DECQ R11
	JMP  ir_oy

ir_done:
	VZEROUPPER
	RET
