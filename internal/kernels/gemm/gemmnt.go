package gemm

import "github.com/cnnctl/cnnctl/internal/kernels/scratch"

// The "NT" GEMM accumulates C += A·Bᵀ where A (m×k) and B (n×k) both have
// the summed index contiguous: a convolution's weight gradient, Σ_p dy[o][p]
// · col[q][p], is this shape for every image. The packed GEMM would have to
// transpose both operands first; here a micro-kernel reads the rows as they
// are and keeps 4×5 dot products per tile in vector lanes (16 partial sums
// each) across all the images of a batch, reducing them once at the end.
const (
	ntMR, ntNR = 4, 5
	ntLanes    = 16
	ntTile     = ntMR * ntNR * ntLanes
)

// NTKernel adds the lane-wise products of rows a[i*lda:] and b[j*ldb:]
// (i < 4, j < 5) over k (a multiple of 16) into acc[(j*4+i)*16+l].
type NTKernel func(k int, a []float32, lda int, b []float32, ldb int, acc []float32)

// NT is the CPU's NT micro-kernel, or nil where there is none that
// beats the packed GEMM (set in init).
var NT NTKernel

// NTRowsKernel is NTKernel with B's five rows at b[offs[j]:] (j < 5)
// rather than ldb apart.
type NTRowsKernel func(k int, a []float32, lda int, b []float32, offs []int, acc []float32)

// NTRows is the CPU's NTRowsKernel, or nil (set in init).
var NTRows NTRowsKernel

func NTRowsGo(k int, a []float32, lda int, b []float32, offs []int, acc []float32) {
	for j, o := range offs[:ntNR] {
		ntColGo(k, a, lda, b[o:o+k], acc[j*ntMR*ntLanes:])
	}
}

func NTGo(k int, a []float32, lda int, b []float32, ldb int, acc []float32) {
	for j := range ntNR {
		ntColGo(k, a, lda, b[j*ldb:j*ldb+k], acc[j*ntMR*ntLanes:])
	}
}

// ntColGo is one B row's part of the tile: the products of bj with the
// four rows of a, lane by lane.
func ntColGo(k int, a []float32, lda int, bj, acc []float32) {
	for i := range ntMR {
		ai := a[i*lda : i*lda+k]
		lanes := acc[i*ntLanes : (i+1)*ntLanes]
		for p := 0; p < k; p += ntLanes {
			for l, v := range ai[p : p+ntLanes] {
				lanes[l] += v * bj[p+l]
			}
		}
	}
}

// NTAccum holds lane-wise partial sums of an m×n product A·Bᵀ.
type NTAccum struct {
	m, n  int
	lanes []float32 // tile by tile, row-major over tiles, each as NT keeps it
}

func (s *NTAccum) tilesN() int { return (s.n + ntNR - 1) / ntNR }

// reset sizes the accumulator for an m×n product and zeroes it.
func (s *NTAccum) Reset(m, n int) {
	s.m, s.n = m, n
	s.lanes = scratch.Grow(s.lanes, (m+ntMR-1)/ntMR*s.tilesN()*ntTile)
	clear(s.lanes)
}

// add accumulates A·Bᵀ for A (m×k, row stride lda) and B (n×k, row stride
// ldb) using kern for whole tiles.
func (s *NTAccum) Add(kern NTKernel, k int, a []float32, lda int, b []float32, ldb int) {
	s.add(k, a, lda, func(j int) []float32 { return b[j*ldb:] }, func(tile []float32, ti, tj, k16 int) {
		kern(k16, a[ti*lda:], lda, b[tj*ldb:], ldb, tile)
	})
}

// AddRows is Add with B's row j at b[offs[j]:] rather than ldb apart,
// using kern for whole tiles: a convolution's taps, each a run of the
// image where it lies, with no im2col matrix written.
func (s *NTAccum) AddRows(kern NTRowsKernel, k int, a []float32, lda int, b []float32, offs []int) {
	s.add(k, a, lda, func(j int) []float32 { return b[offs[j]:] }, func(tile []float32, ti, tj, k16 int) {
		kern(k16, a[ti*lda:], lda, b, offs[tj:], tile)
	})
}

// add is Add and AddRows: B's row j is row(j); whole runs a kernel on a
// whole tile over the first k16 of k.
func (s *NTAccum) add(k int, a []float32, lda int, row func(j int) []float32, whole func(tile []float32, ti, tj, k16 int)) {
	k16 := k &^ (ntLanes - 1)
	for ti := 0; ti < s.m; ti += ntMR {
		for tj := 0; tj < s.n; tj += ntNR {
			tile := s.lanes[(ti/ntMR*s.tilesN()+tj/ntNR)*ntTile:][:ntTile]
			rows, cols := min(ntMR, s.m-ti), min(ntNR, s.n-tj)
			from := 0
			if rows == ntMR && cols == ntNR && k16 > 0 {
				whole(tile, ti, tj, k16)
				from = k16
			}
			if from == k {
				continue
			}
			// The remainder (the tail of k, or a whole edge tile) goes
			// into lane 0.
			for j := range cols {
				bj := row(tj + j)[from:k]
				for i := range rows {
					tile[(j*ntMR+i)*ntLanes] += Dot(a[(ti+i)*lda+from:(ti+i)*lda+k], bj)
				}
			}
		}
	}
}

// sumInto adds the reduced sums to dst (m×n, row stride ldd).
func (s *NTAccum) SumInto(dst []float32, ldd int) {
	for i := range s.m {
		for j := range s.n {
			tile := s.lanes[(i/ntMR*s.tilesN()+j/ntNR)*ntTile:]
			lanes := tile[((j%ntNR)*ntMR+i%ntMR)*ntLanes:][:ntLanes]
			var t float32
			for _, v := range lanes {
				t += v
			}
			dst[i*ldd+j] += t
		}
	}
}
