package ops

import (
	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
)

// Winograd's minimal filtering F(2×2, 3×3) computes each 2×2 block of a 3×3,
// stride-1 convolution's output from a 4×4 block of input with 16
// multiplications per input channel instead of 36 (Lavin & Gray, 2015):
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// Summed over input channels, the element-wise products become 16
// independent GEMMs, (O×C)·(C×tiles), one per position of the 4×4
// transformed block. The transforms add rounding (within float tolerance of
// the direct convolution, which the tests check).
//
// It does not win here yet: BenchmarkConv3x3 measures it at 0.4–0.5× the
// im2col path on an AVX-512 machine, because its transforms are scalar Go
// while the GEMM it saves is vectorised. So it is off unless Winograd is set
// (for 3×3 stride-1 inference with at least 16 channels in and out).

// Winograd turns the F(2×2,3×3) path on.
var Winograd = false

// useWinograd says whether a convolution of these dimensions takes the
// Winograd path.
func useWinograd(d im2col.Dims, training bool) bool {
	return Winograd && !training && d.K == 3 && d.S == 1 && d.C >= 16 && d.O >= 16
}

// winograd holds the transformed filters and per-worker scratch.
type winograd struct {
	u    [16]gemm.PackedA // G g Gᵀ, as 16 O×C matrices
	ubuf []float32        // 16 × O × C, before packing
	v, m []float32        // per worker: 16 × C × T inputs, 16 × O × T products
}

// transformFilters computes U = G g Gᵀ for every (o, c) and packs the 16
// O×C matrices for the GEMMs.
func (wg *winograd) transformFilters(w []float32, O, C int) {
	wg.ubuf = scratch.Grow(wg.ubuf, 16*O*C)
	for o := range O {
		for c := range C {
			g := w[(o*C+c)*9 : (o*C+c)*9+9]
			// t = G g (4×3), then U = t Gᵀ (4×4).
			var t [4][3]float32
			for j := range 3 {
				g0, g1, g2 := g[j], g[3+j], g[6+j]
				t[0][j] = g0
				t[1][j] = 0.5 * (g0 + g1 + g2)
				t[2][j] = 0.5 * (g0 - g1 + g2)
				t[3][j] = g2
			}
			for i := range 4 {
				r := t[i]
				u := [4]float32{r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]}
				for j := range 4 {
					wg.ubuf[((i*4+j)*O+o)*C+c] = u[j]
				}
			}
		}
	}
	for k := range 16 {
		wg.u[k].Pack(false, O, C, 1, wg.ubuf[k*O*C:(k+1)*O*C], C)
	}
}

// conv computes one image: x (C,H,W) → y (O,OH,OW), adding the bias.
func (wg *winograd) conv(x, y, bias []float32, d im2col.Dims, v, m []float32) {
	th, tw := (d.OH+1)/2, (d.OW+1)/2
	T := th * tw
	// V = Bᵀ d B for every channel and tile; d is the 4×4 input block at
	// (2ty − P, 2tx − P), zero outside the image.
	for c := range d.C {
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for ty := range th {
			for tx := range tw {
				var blk [4][4]float32
				y0, x0 := 2*ty-d.P, 2*tx-d.P
				for i := range 4 {
					iy := y0 + i
					if iy < 0 || iy >= d.H {
						continue
					}
					for j := range 4 {
						if ix := x0 + j; ix >= 0 && ix < d.W {
							blk[i][j] = xc[iy*d.W+ix]
						}
					}
				}
				// Bᵀ rows: (1,0,−1,0), (0,1,1,0), (0,−1,1,0), (0,1,0,−1).
				var t [4][4]float32
				for j := range 4 {
					t[0][j] = blk[0][j] - blk[2][j]
					t[1][j] = blk[1][j] + blk[2][j]
					t[2][j] = blk[2][j] - blk[1][j]
					t[3][j] = blk[1][j] - blk[3][j]
				}
				tile := ty*tw + tx
				for i := range 4 {
					r := t[i]
					vv := [4]float32{r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]}
					for j := range 4 {
						v[((i*4+j)*d.C+c)*T+tile] = vv[j]
					}
				}
			}
		}
	}
	// M_k = U_k · V_k for the 16 positions k of the transformed block.
	for k := range 16 {
		gemm.SgemmPacked(&wg.u[k], false, T, v[k*d.C*T:(k+1)*d.C*T], T, 0, m[k*d.O*T:(k+1)*d.O*T], T)
	}
	// Y = Aᵀ M A with Aᵀ rows (1,1,1,0) and (0,1,−1,−1), cropped at the edges.
	for o := range d.O {
		b := float32(0)
		if bias != nil {
			b = bias[o]
		}
		yo := y[o*d.OH*d.OW : (o+1)*d.OH*d.OW]
		for ty := range th {
			for tx := range tw {
				tile := ty*tw + tx
				var mm [4][4]float32
				for k := range 16 {
					mm[k/4][k%4] = m[(k*d.O+o)*T+tile]
				}
				var t [2][4]float32
				for j := range 4 {
					t[0][j] = mm[0][j] + mm[1][j] + mm[2][j]
					t[1][j] = mm[1][j] - mm[2][j] - mm[3][j]
				}
				for i := range 2 {
					oy := 2*ty + i
					if oy >= d.OH {
						break
					}
					out := [2]float32{t[i][0] + t[i][1] + t[i][2], t[i][1] - t[i][2] - t[i][3]}
					for j := range 2 {
						if ox := 2*tx + j; ox < d.OW {
							yo[oy*d.OW+ox] = out[j] + b
						}
					}
				}
			}
		}
	}
}
