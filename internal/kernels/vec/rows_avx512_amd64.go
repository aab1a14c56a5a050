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

//go:noescape
func gatherRows2AVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int, m0, m1, mt int)

//go:noescape
func scatterAddRows2AVX512(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int, m0, m1, mt int)

// step2Masks are the masks of a row's last t = cols%16 outputs: the 2t − 1
// inputs they read, as the lanes of two 16-float halves, and the t outputs.
func step2Masks(cols int) (m0, m1, mt int) {
	t := cols % 16
	if t == 0 {
		return 0, 0, 0
	}
	in := 2*t - 1
	return 1<<min(in, 16) - 1, 1<<max(in-16, 0) - 1, 1<<t - 1
}

func gatherRows512(dst []float32, dstStride int, src []float32, srcStride int, rows, cols, step int) {
	if step != 2 || rows == 0 || cols == 0 {
		gatherRowsGo(dst, dstStride, src, srcStride, rows, cols, step)
		return
	}
	_ = dst[(rows-1)*dstStride+cols-1]
	_ = src[(rows-1)*srcStride+2*(cols-1)]
	m0, m1, mt := step2Masks(cols)
	gatherRows2AVX512(&dst[0], dstStride, &src[0], srcStride, rows, cols, m0, m1, mt)
}

func scatterAddRows512(dst []float32, dstStride int, src []float32, srcStride int, rows, cols, step int) {
	if step != 2 || rows == 0 || cols == 0 {
		scatterAddRowsGo(dst, dstStride, src, srcStride, rows, cols, step)
		return
	}
	_ = dst[(rows-1)*dstStride+2*(cols-1)]
	_ = src[(rows-1)*srcStride+cols-1]
	m0, m1, _ := step2Masks(cols)
	// dst's even lanes among the tail's inputs.
	m0, m1 = m0&0x5555, m1&0x5555
	scatterAddRows2AVX512(&dst[0], dstStride, &src[0], srcStride, rows, cols, m0, m1, 0)
}
