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
