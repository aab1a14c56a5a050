package ops

import "golang.org/x/sys/cpu"

// kernel6x16AVX2 is kernelFunc in AVX2/FMA assembly (gemm_amd64.s).
//
//go:noescape
func kernel6x16AVX2(k int, ap, bp, c *float32, ldc int, add bool)

func kernelAVX2(k int, ap, bp []float32, c []float32, ldc int, add bool) {
	_ = ap[k*mr-1] // bounds the assembly relies on
	_ = bp[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x16AVX2(k, &ap[0], &bp[0], &c[0], ldc, add)
}

//go:noescape
func dotAVX2(n int, x, y *float32) float32

func dotFast(x, y []float32) float32 {
	n := len(x) &^ 31
	var s float32
	if n > 0 {
		_ = y[n-1]
		s = dotAVX2(n, &x[0], &y[0])
	}
	return s + dotGo(x[n:], y[n:len(x)])
}

//go:noescape
func transpose8x8AVX(src *float32, srcStride int, dst *float32, dstStride int)

// transpose8x8Fast is transpose8x8 in AVX (unpack, shuffle, lane swaps).
func transpose8x8Fast(src []float32, srcStride int, dst []float32, dstStride int) {
	_ = src[7*srcStride+7]
	_ = dst[7*dstStride+7]
	transpose8x8AVX(&src[0], srcStride, &dst[0], dstStride)
}

// HasAVX2 reports whether the assembly micro-kernel is in use.
var HasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func init() {
	if HasAVX2 {
		microKernel = kernelAVX2
		dot = dotFast
		transpose8x8 = transpose8x8Fast
	}
}
