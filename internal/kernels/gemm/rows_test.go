package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPackedRows: B given as rows at offsets is the product with those
// rows gathered into one matrix — rows in any order, repeated and
// overlapping, depths past a panel, widths past a block and between tiles,
// with and without a bias, edge tiles of up to four rows and of more —
// read in place where the CPU has the kernel for
// it and packed otherwise.
func TestGemmPackedRows(t *testing.T) {
	paths := map[string]bool{"packed": false}
	if microKernel.rows != nil {
		paths["in place"] = true
	} else {
		t.Log("no AVX-512 here: only the packing path is tested")
	}
	defer func() { rowsInPlace = true }()
	rng := rand.New(rand.NewPCG(9, 10))
	for name, inPlace := range paths {
		rowsInPlace = inPlace
		for _, sz := range [][3]int{{16, 840, 144}, {64, 63, 576}, {13, 100, 300}, {8, 32, 5}, {70, 1100, 20}, {3, 7, 1}, {20, 96, 25}, {50, 64, 37}} {
			m, n, k := sz[0], sz[1], sz[2]
			src := randSlice(rng, 3*n+k)
			offs := make([]int, k)
			for p := range offs {
				offs[p] = rng.IntN(len(src) - n + 1) // rows overlap and repeat
			}
			b := make([]float32, k*n) // the rows gathered
			for p, o := range offs {
				copy(b[p*n:(p+1)*n], src[o:o+n])
			}
			a, bias := randSlice(rng, m*k), randSlice(rng, m)
			for _, withBias := range []bool{false, true} {
				var pa PackedA
				pa.Pack(false, m, k, 1, a, k)
				want := make([]float32, m*n)
				naiveGemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
				if withBias {
					pa.SetBias(bias)
					for i := range want {
						want[i] += bias[i/n]
					}
				}
				c := randSlice(rng, m*n) // overwritten
				SgemmPackedRows(&pa, n, src, offs, c, n)
				for i := range want {
					if math.Abs(float64(c[i]-want[i])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%s %v bias=%v: C[%d] = %v, want %v", name, sz, withBias, i, c[i], want[i])
					}
				}
			}
		}
	}
}
