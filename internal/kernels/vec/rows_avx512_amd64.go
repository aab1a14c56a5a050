package vec

import "golang.org/x/sys/cpu"

// HasAVX512 reports whether the AVX-512 row kernels are in use
// (GODEBUG=cpu.avx512f=off turns them off, for tests and measurements).
var HasAVX512 = cpu.X86.HasAVX512F && HasAVX2

//go:noescape
func copyRowsAVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)

//go:noescape
func addRowsAVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)

// rowsBounds checks the bounds the row kernels rely on.
func rowsBounds(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	_ = dst[(rows-1)*dstStride+cols-1]
	_ = src[(rows-1)*srcStride+cols-1]
}

func copyRows512(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	rowsBounds(dst, dstStride, src, srcStride, rows, cols)
	copyRowsAVX512(&dst[0], dstStride, &src[0], srcStride, rows, cols)
}

func addRows512(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	rowsBounds(dst, dstStride, src, srcStride, rows, cols)
	addRowsAVX512(&dst[0], dstStride, &src[0], srcStride, rows, cols)
}
