package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGemmNT checks the NT accumulator with each kernel this CPU runs against
// the definition: whole and edge tiles, k with and without a tail (and below
// one vector), padded row strides, and accumulation over several products.
func TestGemmNT(t *testing.T) {
	kerns := map[string]NTKernel{"go": NTGo}
	if NT != nil {
		kerns["asm"] = NT
	} else {
		t.Log("no NT assembly kernel on this CPU: only the Go one is tested")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, sz := range [][3]int{{4, 5, 16}, {20, 25, 576}, {7, 11, 37}, {3, 2, 5}, {50, 500, 64}, {9, 6, 100}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb := k+3, k+1
		for name, kern := range kerns {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, n, k), func(t *testing.T) {
				var acc NTAccum
				acc.Reset(m, n)
				want := make([]float32, m*n)
				for range 3 { // three "images"
					a, b := randSlice(rng, m*lda), randSlice(rng, n*ldb)
					acc.Add(kern, k, a, lda, b, ldb)
					naiveGemm(false, true, m, n, k, 1, a, lda, b, ldb, 1, want, n)
				}
				got := make([]float32, m*n)
				for i := range got {
					got[i] = 0.5 // sumInto adds
				}
				acc.SumInto(got, n)
				for i := range got {
					if d := got[i] - 0.5 - want[i]; d > 1e-3 || d < -1e-3 {
						t.Fatalf("C[%d,%d] = %v, want %v", i/n, i%n, got[i]-0.5, want[i])
					}
				}
			})
		}
	}
}

// TestGemmNTRows checks AddRows, with each rows kernel this CPU runs,
// against the definition for B's rows at scattered, overlapping offsets
// (a convolution's taps): whole and edge tiles, k with and without a tail.
func TestGemmNTRows(t *testing.T) {
	kerns := map[string]NTRowsKernel{"go": NTRowsGo}
	if NTRows != nil {
		kerns["asm"] = NTRows
	} else {
		t.Log("no NT rows assembly kernel on this CPU: only the Go one is tested")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][3]int{{4, 5, 16}, {16, 144, 848}, {7, 11, 37}, {3, 2, 5}, {32, 288, 224}, {9, 6, 100}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda := k + 3
		b := randSlice(rng, 3*n+k)
		offs := make([]int, n)
		for j := range offs {
			offs[j] = rng.IntN(3*n + 1)
		}
		bt := make([]float32, n*k) // B's rows gathered, for the definition
		for j, o := range offs {
			copy(bt[j*k:], b[o:o+k])
		}
		for name, kern := range kerns {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, n, k), func(t *testing.T) {
				var acc NTAccum
				acc.Reset(m, n)
				want := make([]float32, m*n)
				for range 2 {
					a := randSlice(rng, m*lda)
					acc.AddRows(kern, k, a, lda, b, offs)
					naiveGemm(false, true, m, n, k, 1, a, lda, bt, k, 1, want, n)
				}
				got := make([]float32, m*n)
				acc.SumInto(got, n)
				for i := range got {
					if d := got[i] - want[i]; d > 1e-3 || d < -1e-3 {
						t.Fatalf("C[%d,%d] = %v, want %v", i/n, i%n, got[i], want[i])
					}
				}
			})
		}
	}
}
