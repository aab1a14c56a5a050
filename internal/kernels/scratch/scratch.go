// Package scratch holds the reusable buffers of the compute kernels and
// ops, and counts every allocation they make: in steady-state training the
// count stops growing (cnnctl bench reports it per step, and a test checks
// it is zero).
package scratch

import "sync/atomic"

// Allocs counts the buffers Grow (and the ops' output tensors) allocated.
var Allocs atomic.Int64

// Grow returns s resized to n elements, reallocating only when it must.
func Grow[T any](s []T, n int) []T {
	if cap(s) < n {
		Allocs.Add(1)
		return make([]T, n)
	}
	return s[:n]
}
