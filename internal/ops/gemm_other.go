//go:build !amd64

package ops

// HasAVX2 reports whether the assembly micro-kernel is in use.
var HasAVX2 = false

// kernelAVX2 does not exist off amd64; tests compare against kernelGo.
var kernelAVX2 kernelFunc = kernelGo

var dotFast = dotGo

var transpose8x8Fast = transpose8x8Go
