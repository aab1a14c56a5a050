package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// naiveGemm is C = alpha·op(A)·op(B) + beta·C by the definition, in float64.
func naiveGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// testKernels lists the micro-kernels this CPU can run: the portable ones
// always, the assembly ones where it has AVX2/FMA or AVX-512.
func testKernels(t testing.TB) map[string]kernel {
	ks := map[string]kernel{"go16": kernelGo16, "go32": kernelGo32}
	if HasAVX2 {
		ks["avx2"] = kernelAVX2
	} else {
		t.Log("no AVX2/FMA on this CPU: its kernel is not tested here")
	}
	if HasAVX512 {
		ks["avx512"] = kernelAVX512
		ks["avx512x10"] = kernelAVX512x10
	} else {
		t.Log("no AVX-512 on this CPU: its kernel is not tested here")
	}
	return ks
}

// TestGemmKernels checks every micro-kernel this CPU runs (assembly and
// portable Go, 6×16 and 6×32 tiles) against the definition, for every transpose
// combination, sizes that are and are not multiples of the tile and block
// sizes, padded leading dimensions, and several alpha and beta.
func TestGemmKernels(t *testing.T) {
	kernels := testKernels(t)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {20, 576, 25}, {50, 64, 500}, {13, 1030, 260}, {73, 5, 300}, {64, 500, 800}}
	scales := [][2]float32{{1, 0}, {1, 1}, {0.5, -2}}
	if testing.Short() {
		// make test's race pass, where the naive reference crawls: every
		// size, only the general α, β; the plain passes run them all.
		scales = scales[2:]
	}
	for name, kern := range kernels {
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, ab := range scales {
						lda, ldb, ldc := k+3, n+1, n+2
						if tA {
							lda = m + 3
						}
						if tB {
							ldb = k + 1
						}
						rowsA, rowsB := m, k
						if tA {
							rowsA = k
						}
						if tB {
							rowsB = n
						}
						a, b := randSlice(rng, rowsA*lda), randSlice(rng, rowsB*ldb)
						c := randSlice(rng, m*ldc)
						want := append([]float32(nil), c...)
						naiveGemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
						sgemmWith(kern, tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						for i := range m {
							for j := range ldc {
								got, w := c[i*ldc+j], want[i*ldc+j]
								if math.Abs(float64(got-w)) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(w))) {
									t.Fatalf("%s %dx%dx%d tA=%v tB=%v alpha,beta=%v: C[%d,%d] = %v, want %v",
										name, m, n, k, tA, tB, ab, i, j, got, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestMicroKernelBiasRows checks each micro-kernel's starting bias and
// partial-row stores directly: rows past the given count stay untouched.
func TestMicroKernelBiasRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for name, kern := range testKernels(t) {
		mr, nr, k := kern.mr, kern.nr, 13
		ap, bp := randSlice(rng, mr*k), randSlice(rng, nr*k)
		for _, withBias := range []bool{false, true} {
			for _, add := range []bool{false, true} {
				for rows := 1; rows <= mr; rows++ {
					var bias []float32
					if withBias {
						bias = randSlice(rng, mr)
					}
					ldc := nr + 5
					c := randSlice(rng, (mr+1)*ldc)
					orig := append([]float32(nil), c...)
					kern.fn(k, ap, bp, nr, c, ldc, add, bias, rows)
					for r := range mr + 1 {
						for j := range ldc {
							want := orig[r*ldc+j]
							if r < rows && j < nr {
								var s float64
								if bias != nil {
									s = float64(bias[r])
								}
								for p := range k {
									s += float64(ap[p*mr+r]) * float64(bp[p*nr+j])
								}
								if add {
									s += float64(want)
								}
								want = float32(s)
							}
							if got := c[r*ldc+j]; math.Abs(float64(got-want)) > 1e-4*(1+math.Abs(float64(want))) {
								t.Fatalf("%s bias=%v add=%v rows=%d: C[%d,%d] = %v, want %v", name, withBias, add, rows, r, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestGemmPackedA(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][3]int{{20, 576, 25}, {50, 64, 500}, {500, 64, 50}, {7, 33, 300}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			lda := k
			if tA {
				lda = m
			}
			a, bias := randSlice(rng, m*k), randSlice(rng, m)
			var pa PackedA
			pa.Pack(tA, m, k, 1, a, lda)
			pa.SetBias(bias)
			for img := range 2 { // the packed A serves several products
				b, c := randSlice(rng, k*n), randSlice(rng, m*n)
				want := append([]float32(nil), c...)
				beta := float32(img) // 0 (the bias applies), then 1 (it does not)
				naiveGemm(tA, false, m, n, k, 1, a, lda, b, n, beta, want, n)
				if beta == 0 {
					for i := range want {
						want[i] += bias[i/n]
					}
				}
				SgemmPacked(&pa, false, n, b, n, beta, c, n)
				for i := range want {
					if math.Abs(float64(c[i]-want[i])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%v tA=%v: C[%d] = %v, want %v", sz, tA, i, c[i], want[i])
					}
				}
			}
		}
	}
}

// TestGemmPackedB: B packed once serves several products, over all its
// columns or a range of them starting at a panel (as a parallel column
// split takes it), with ranges that cross a column block (nc), depths
// past a panel (kc), rows past a block of A (mc), B stored either way.
func TestGemmPackedB(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	nr := TileCols()
	for _, sz := range [][3]int{{8, 500, 800}, {1, 10, 7}, {13, 1100, 300}, {80, 70, 40}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tB := range []bool{false, true} {
			ldb := n
			if tB {
				ldb = k
			}
			b := randSlice(rng, k*n)
			var pb PackedB
			pb.Pack(tB, k, n, b, ldb)
			ranges := [][2]int{{0, n}}
			if n > nr {
				ranges = append(ranges, [2]int{nr, n}, [2]int{0, nr}, [2]int{(n / nr / 2) * nr, n})
			}
			if n > nc {
				ranges = append(ranges, [2]int{nc - nr, nc + nr})
			}
			for i, r := range ranges {
				lo, hi := r[0], r[1]
				w := hi - lo
				a, c := randSlice(rng, m*k), randSlice(rng, m*w)
				want := append([]float32(nil), c...)
				beta := float32(i % 2)
				bsub := b[lo:] // columns lo… of B (rows lo… of Bᵀ)
				if tB {
					bsub = b[lo*ldb:]
				}
				naiveGemm(false, tB, m, w, k, 1, a, k, bsub, ldb, beta, want, w)
				SgemmPackedB(m, a, k, &pb, lo, hi, beta, c, w)
				for j := range want {
					if math.Abs(float64(c[j]-want[j])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("%v tB=%v cols %d–%d: C[%d] = %v, want %v", sz, tB, lo, hi, j, c[j], want[j])
					}
				}
			}
		}
	}
}

// TestGemmSideBySideA: A given as blocks side by side is the product with
// those blocks gathered into one matrix, for blocks narrower than a tile,
// blocks that straddle a panel's depth, and rows past whole tiles.
func TestGemmSideBySideA(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][4]int{{16, 48, 2, 128}, {64, 192, 8, 32}, {13, 20, 7, 100}, {8, 33, 3, 5}, {70, 40, 5, 64}} {
		m, n, blocks, seg := sz[0], sz[1], sz[2], sz[3]
		k, lda := blocks*seg, seg+3 // each block inside a wider array
		parts := make([][]float32, blocks)
		a := make([]float32, m*k) // the blocks gathered
		for i := range parts {
			parts[i] = randSlice(rng, m*lda)
			for r := range m {
				copy(a[r*k+i*seg:r*k+(i+1)*seg], parts[i][r*lda:r*lda+seg])
			}
		}
		for _, tB := range []bool{false, true} {
			ldb := n
			if tB {
				ldb = k
			}
			b, c := randSlice(rng, k*n), randSlice(rng, m*n)
			want := append([]float32(nil), c...)
			naiveGemm(false, tB, m, n, k, 1, a, k, b, ldb, 1, want, n)
			SgemmSideBySideA(m, n, k, parts, lda, seg, tB, b, ldb, 1, c, n)
			for i := range want {
				if math.Abs(float64(c[i]-want[i])) > 1e-4*math.Sqrt(float64(k))*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%v tB=%v: C[%d] = %v, want %v", sz, tB, i, c[i], want[i])
				}
			}
		}
	}
}

// The GEMM shapes of LeNet-BN at batch 64: per-image conv GEMMs and the
// dense layers' batch GEMMs, forward and backward.
var gemmShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"conv1-fwd", false, false, 20, 576, 25},
	{"conv2-fwd", false, false, 50, 64, 500},
	{"conv2-dW", false, true, 50, 500, 64},
	{"conv2-dX", true, false, 500, 64, 50},
	{"fc500-fwd", false, true, 64, 500, 800},
	{"fc500-dW", true, false, 500, 800, 64},
	{"square-512", false, false, 512, 512, 512},
}

func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range gemmShapes {
		a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), randSlice(rng, s.m*s.n)
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		flops := 2 * float64(s.m*s.n*s.k)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		for name, kern := range testKernels(b) {
			b.Run(fmt.Sprintf("%s/%s", s.name, name), func(b *testing.B) {
				for b.Loop() {
					sgemmWith(kern, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
				}
				report(b)
			})
		}
		// gonum's pure-Go BLAS as the reference beside ours.
		b.Run(fmt.Sprintf("%s/gonum", s.name), func(b *testing.B) {
			ta, tb := blas.NoTrans, blas.NoTrans
			if s.tA {
				ta = blas.Trans
			}
			if s.tB {
				tb = blas.Trans
			}
			for b.Loop() {
				gonum.Implementation{}.Sgemm(ta, tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			report(b)
		})
	}
}

func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, n := range []int{0, 1, 7, 31, 32, 33, 100, 800} {
		x, y := randSlice(rng, n), randSlice(rng, n+3)
		var want float64
		for i := range n {
			want += float64(x[i]) * float64(y[i])
		}
		for name, f := range map[string]func(x, y []float32) float32{"go": dotGo, "fast": dotFast} {
			if got := f(x, y); math.Abs(float64(got)-want) > 1e-4*(1+math.Sqrt(float64(n))) {
				t.Errorf("%s n=%d: %v, want %v", name, n, got, want)
			}
		}
	}
}

func TestTranspose8x8(t *testing.T) {
	src := make([]float32, 8*11)
	for i := range src {
		src[i] = float32(i)
	}
	for name, f := range map[string]func([]float32, int, []float32, int){"go": transpose8x8Go, "fast": transpose8x8Fast} {
		dst := make([]float32, 8*13)
		f(src, 11, dst, 13)
		for i := range 8 {
			for k := range 8 {
				if dst[k*13+i] != src[i*11+k] {
					t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, k, i, dst[k*13+i], src[i*11+k])
				}
			}
		}
	}
}

func TestDotRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	save := dot4
	defer func() { dot4 = save }()
	impls := map[string]func(*[4]float32, []float32, []float32, int){"go": dot4Go}
	if HasAVX512 {
		impls["avx512"] = dot4Fast
	}
	for name, f := range impls {
		dot4 = f
		for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 48, 100, 800} {
			for _, rows := range []int{1, 3, 4, 5, 9} {
				ldw := n + 3
				x := randSlice(rng, n)
				w := randSlice(rng, (rows-1)*ldw+n) // no room after the last row
				dst := make([]float32, rows+1)
				dst[rows] = 42 // a guard
				DotRows(dst[:rows], x, w, ldw)
				for r := range rows {
					var want float64
					for i := range n {
						want += float64(x[i]) * float64(w[r*ldw+i])
					}
					if math.Abs(float64(dst[r])-want) > 1e-4*(1+math.Sqrt(float64(n))) {
						t.Errorf("%s n=%d rows=%d: row %d = %v, want %v", name, n, rows, r, dst[r], want)
					}
				}
				if dst[rows] != 42 {
					t.Errorf("%s n=%d rows=%d: wrote past the rows", name, n, rows)
				}
			}
		}
	}
}

// BenchmarkGemmRows times products of m rows (LeNet's filter counts and
// their neighbours) by B read in place, 256 deep and 500 wide as conv2's
// weight gradient, with each kernel that could take them: what kernelFor's
// rule rests on.
func BenchmarkGemmRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	kernels := map[string]kernel{"usual": microKernel}
	if tallKernel.mr > 0 {
		kernels["tall"] = tallKernel
	}
	for _, m := range []int{20, 40, 48, 50, 60, 64} {
		n, k, ldb := 500, 256, 512
		a, bb, c := randSlice(rng, m*k), randSlice(rng, k*ldb), randSlice(rng, m*n)
		for name, kern := range kernels {
			b.Run(fmt.Sprintf("m%d/%s", m, name), func(b *testing.B) {
				for b.Loop() {
					sgemmWith(kern, false, false, m, n, k, 1, a, k, bb, ldb, 1, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestKernelFor: the tall tile where it alone covers the rows whole.
func TestKernelFor(t *testing.T) {
	if tallKernel.mr == 0 {
		t.Skip("no tall kernel on this CPU")
	}
	for m, want := range map[int]int{20: 10, 50: 10, 40: 8, 48: 8, 64: 8, 7: 8, 500: 10, 800: 8} {
		if got := kernelFor(m).mr; got != want {
			t.Errorf("kernelFor(%d) has %d rows, want %d", m, got, want)
		}
	}
}
