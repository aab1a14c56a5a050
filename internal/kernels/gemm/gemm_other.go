//go:build !amd64

package gemm

// HasAVX2 reports whether the assembly micro-kernel is in use.
var HasAVX2 = false

// HasAVX512 reports whether the AVX-512 micro-kernel is in use.
var HasAVX512 = false

// The assembly kernels do not exist off amd64.
var kernelAVX2, kernelAVX512, kernelAVX512x10 = kernelGo16, kernelGo32, kernelGo32

var dotFast = dotGo

var transpose8x8Fast = transpose8x8Go

var dot4Fast = dot4Go
