package gemm

import "golang.org/x/sys/cpu"

// kernel6x16AVX2 and kernel8x32AVX512 are the micro-kernels in assembly
// (gemm_amd64.s), for 6×16 tiles with YMM registers and 8×32 with ZMM; both
// start from a bias, store partial rows, and read B with a row stride.
//
//go:noescape
func kernel6x16AVX2(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int)

// kernel8x32AVX512 reads row p of B at bp + offs[p] instead of bp + p·ldb
// unless offs is nil (SgemmPackedRows).
//
//go:noescape
func kernel8x32AVX512(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int, offs *int)

// kernel10x32AVX512 is kernel8x32AVX512 with ten rows to a tile.
//
//go:noescape
func kernel10x32AVX512(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int, offs *int)

var (
	kernelAVX2      = asmKernel(kernel6x16AVX2, 6, 16, 72, "avx2-fma 6x16")
	kernelAVX512    = avx512Kernel(kernel8x32AVX512, 8, 72, "avx512 8x32")
	kernelAVX512x10 = avx512Kernel(kernel10x32AVX512, 10, 80, "avx512 10x32")
)

// avx512Kernel wraps an AVX-512 micro-kernel, which also reads B's rows at
// offsets (kernel.rows).
func avx512Kernel(asm func(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int, offs *int), mr, mc int, name string) kernel {
	kern := asmKernel(func(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int) {
		asm(k, ap, bp, c, ldc, add, bias, rows, ldb, nil)
	}, mr, 32, mc, name)
	kern.rows = func(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows int, offs *int) {
		asm(k, ap, bp, c, ldc, add, bias, rows, 0, offs)
	}
	return kern
}

// asmKernel wraps an assembly micro-kernel for mr×nr tiles, checking the
// bounds it relies on.
func asmKernel(asm func(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows, ldb int), mr, nr, mc int, name string) kernel {
	return kernel{fn: func(k int, ap, bp []float32, ldb int, c []float32, ldc int, add bool, bias []float32, rows int) {
		_ = ap[k*mr-1]
		_ = bp[(k-1)*ldb+nr-1]
		_ = c[(rows-1)*ldc+nr-1]
		var bp0 *float32
		if bias != nil {
			_ = bias[mr-1]
			bp0 = &bias[0]
		}
		asm(k, &ap[0], &bp[0], &c[0], ldc, add, bp0, rows, ldb)
	}, mr: mr, nr: nr, mc: mc, name: name}
}

// HasAVX512 reports whether the AVX-512 micro-kernel is in use.
var HasAVX512 = cpu.X86.HasAVX512F

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
func dot4AVX512(n int, x, w *float32, ldw int, out *float32)

// dot4Fast is dot4 with the four rows' first len(x)&^15 products in
// AVX-512.
func dot4Fast(dst *[4]float32, x, w []float32, ldw int) {
	n := len(x) &^ 15
	if n == 0 {
		dot4Go(dst, x, w, ldw)
		return
	}
	_ = w[3*ldw+len(x)-1]
	dot4AVX512(n, &x[0], &w[0], ldw, &dst[0])
	for r := range 4 {
		dst[r] += dotGo(x[n:], w[r*ldw+n:])
	}
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
	if HasAVX512 {
		dot4 = dot4Fast
		microKernel, tallKernel = kernelAVX512, kernelAVX512x10
	} else if HasAVX2 {
		microKernel = kernelAVX2
	}
	if HasAVX2 {
		Dot = dotFast
		transpose8x8 = transpose8x8Fast
	}
}

//go:noescape
func gemmNT4x5AVX512(k int, a *float32, lda int, b *float32, ldb int, acc *float32)

func ntKernelAVX512(k int, a []float32, lda int, b []float32, ldb int, acc []float32) {
	_ = a[3*lda+k-1] // bounds the assembly relies on
	_ = b[4*ldb+k-1]
	_ = acc[ntTile-1]
	gemmNT4x5AVX512(k, &a[0], lda, &b[0], ldb, &acc[0])
}

//go:noescape
func gemmNT4x5RowsAVX512(k int, a *float32, lda int, b *float32, offs *int, acc *float32)

func ntRowsKernelAVX512(k int, a []float32, lda int, b []float32, offs []int, acc []float32) {
	_ = a[3*lda+k-1] // bounds the assembly relies on
	for _, o := range offs[:ntNR] {
		_ = b[o:][k-1]
	}
	_ = acc[ntTile-1]
	gemmNT4x5RowsAVX512(k, &a[0], lda, &b[0], &offs[0], &acc[0])
}

func init() {
	if HasAVX512 {
		NT = ntKernelAVX512
		NTRows = ntRowsKernelAVX512
	}
}
