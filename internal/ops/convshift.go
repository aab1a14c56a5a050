package ops

import (
	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// A stride-1 convolution is also a sum of K shifted matrix products, one
// per kernel row ki:
//
//	y[o, oy, ox] = Σ_ki Σ_(c,kj) w[o, c, ki, kj] · xp[c, oy + ki, ox + kj]
//
// where xp is the image with its zero border. Keep, for every channel c
// and kernel column kj, a copy of the bordered plane shifted left by kj
// (row (c, kj) of a matrix X, a plane apart); laid out on the bordered
// width Wp, the inputs that kernel row ki reads for every output are then
// one run of OH·Wp floats of each row of X, starting at ki·Wp: a matrix of
// C·K rows the GEMM reads where it lies. So the forward pass is K GEMMs of
// depth C·K into an O × OH·Wp output — the columns past OW in each row are
// computed and dropped — and the image is copied K times, not K·K as
// im2col copies it. The input gradient is the same sum transposed:
// wₖᵢᵀ · dy, with dy laid on the bordered width (zero past OW), added into
// X's gradient at ki·Wp, whose K shifted copies are summed back. It pays
// where the dropped columns are few (wide images, small kernels): a
// ResNet's 3×3 layers. (The weight gradient was measured as shifted NT
// products too, per tap: 1.1–1.4× slower than im2row and the packed GEMM,
// which it keeps.)

// shiftMinC and shiftMaxWaste bound where the shifted GEMMs are used: at
// least that many input channels (shiftTapsMinC where one product takes all
// the taps: its depth is C·K·K, not C·K), and at most that fraction of
// computed columns dropped.
var (
	shiftMinC     = 8
	shiftTapsMinC = 1
	shiftMaxWaste = 0.3
)

// The input gradient of a stride-1 convolution is itself a stride-1
// convolution: of dy, bordered by K−1−P, with the filters turned by 180°
// and their input and output channels swapped. Run as the forward pass's
// shifted GEMMs it takes products O·K deep (O·K·K with the taps at
// offsets) — gradInput's below are O deep — and no sum of K shifted copies
// after them: 1.4–1.6× faster at a ResNet's 3×3 layers before the taps
// (BenchmarkOpConv/res*/dX). gradInput remains for what the forward path
// does not take (fewer output channels than useShift asks of its input, or
// a border wider than K−1).
var shiftGradAsConv = true

// gradAsConv returns the dimensions of d's input gradient as a
// convolution, and whether the shifted GEMMs take it.
func gradAsConv(d im2col.Dims) (im2col.Dims, bool) {
	if !shiftGradAsConv || d.S != 1 || d.P > d.K-1 {
		return im2col.Dims{}, false
	}
	t := im2col.Dims{B: d.B, C: d.O, H: d.OH, W: d.OW, O: d.C, OH: d.H, OW: d.W, K: d.K, S: 1, P: d.K - 1 - d.P}
	return t, useShift(t)
}

// flipFilters sets dst to w (O,C,K,K) as (C,O,K,K), each K×K kernel
// turned by 180°.
func flipFilters(dst, w []float32, o, c, k int) []float32 {
	dst = scratch.Grow(dst, len(w))
	kk := k * k
	for oi := range o {
		for ci := range c {
			src, out := w[(oi*c+ci)*kk:][:kk], dst[(ci*o+oi)*kk:][:kk]
			for i, v := range src {
				out[kk-1-i] = v
			}
		}
	}
	return dst
}

// shiftSmallBatch says whether a batch smaller than the crew (batch-1
// inference) takes the shifted path: only by the taps at offsets, whose
// product splits by columns, and only where the im2col it saves is large
// (LeNet's conv1, one channel, was slower so).
func shiftSmallBatch(d im2col.Dims) bool {
	return shiftRows && gemm.RowsDirect() && d.C >= shiftMinC
}

func useShift(d im2col.Dims) bool {
	wp := d.W + 2*d.P
	minC := shiftMinC
	if shiftRows && gemm.RowsDirect() {
		minC = shiftTapsMinC
	}
	return d.S == 1 && d.K > 1 && d.C >= minC && float64(wp-d.OW) <= shiftMaxWaste*float64(wp)
}

// shiftRows makes the forward pass one product over all K·K taps where the
// GEMM reads B's rows at offsets (gemm.RowsDirect: AVX-512): each tap's
// inputs are a run of the same bordered plane, ki·Wp + kj on, so x holds one
// bordered copy of each channel rather than K shifted ones, and C is written
// once rather than K times.
var shiftRows = true

// shifted holds the filters by kernel row and each worker's shifted planes.
type shifted struct {
	rows []gemm.PackedA // forward: wₖᵢ (O × C·K); input gradient: wₖᵢᵀ (C·K × O)
	all  gemm.PackedA   // forward by taps at offsets: w (O × C·K·K)
	offs []int          // where each tap (c, ki, kj) reads in x
	wt   []float32      // the filters regrouped by kernel row: [ki][o][c·K + kj]
	x    []float32      // per worker: C·K shifted bordered planes, plane apart (or C bordered ones)
	wide []float32      // per worker: O rows of OH·Wp
	dims im2col.Dims    // the geometry x and wide were laid out (and zeroed) for
	taps bool           // and whether x holds them for the taps at offsets
	n    int            // floats per worker in x
	// fixed: the forward pass's filters do not change (FixedParams at
	// inference), so once packed they stay.
	fixed bool
	once  packOnce
}

// shiftGeom is the layout: the bordered width, the distance between planes
// and the length of a run. A plane has Wp floats to spare after its
// Hp·Wp: the shifted copies end early, and the runs of the last kernel
// row read up to K−1 floats past the plane.
func shiftGeom(d im2col.Dims) (wp, plane, n int) {
	hp, wp := d.H+2*d.P, d.W+2*d.P
	return wp, hp*wp + wp, d.OH * wp
}

// layout sizes the buffers for nw workers and zeroes them when the
// geometry changes: borders and the dropped columns of dy are never
// written after.
func (s *shifted) layout(d im2col.Dims, nw int, taps bool) {
	_, plane, n := shiftGeom(d)
	per := d.C * d.K * plane
	if s.dims != d || s.taps != taps || len(s.x) < nw*per || len(s.wide) < nw*d.O*n {
		s.x = scratch.Grow(s.x, nw*per)
		s.wide = scratch.Grow(s.wide, nw*d.O*n)
		clear(s.x)
		clear(s.wide)
		s.dims, s.taps, s.n = d, taps, per
	}
}

// pack regroups w (O,C,K,K) by kernel row and packs each row's O × C·K
// matrix, or its transpose for the input gradient; bias (forward only)
// starts row 0.
func (s *shifted) pack(w []float32, d im2col.Dims, transposed bool, bias []float32) {
	k, ck := d.K, d.C*d.K
	s.wt = scratch.Grow(s.wt, k*d.O*ck)
	for o := range d.O {
		for c := range d.C {
			for ki := range k {
				copy(s.wt[(ki*d.O+o)*ck+c*k:][:k], w[((o*d.C+c)*k+ki)*k:][:k])
			}
		}
	}
	for len(s.rows) < k {
		s.rows = append(s.rows, gemm.PackedA{})
	}
	parallel.ForCost(k, d.O*ck, func(_, lo, hi int) {
		for ki := lo; ki < hi; ki++ {
			m := s.wt[ki*d.O*ck : (ki+1)*d.O*ck]
			if transposed {
				s.rows[ki].Pack(true, ck, d.O, 1, m, ck)
			} else {
				s.rows[ki].Pack(false, d.O, ck, 1, m, ck)
			}
			s.rows[ki].SetBias(nil)
		}
	})
	s.rows[0].SetBias(bias)
}

// shift fills x's rows (c, kj) with image xb's channels, bordered and
// shifted left by kj.
func (s *shifted) shift(x, xb []float32, d im2col.Dims) {
	wp, plane, _ := shiftGeom(d)
	for c := range d.C {
		src := xb[c*d.H*d.W:]
		for kj := range d.K {
			// Row (c, kj) holds the bordered plane from position kj on: the
			// image at row P, column P − kj (its first kj columns cut off
			// where P < kj, and then they fall in the padding anyway).
			row := x[(c*d.K+kj)*plane:]
			if kj <= d.P {
				vec.CopyRows(row[d.P*wp+d.P-kj:], wp, src, d.W, d.H, d.W)
				continue
			}
			cut := kj - d.P
			vec.CopyRows(row[d.P*wp:], wp, src[cut:], d.W, d.H, d.W-cut)
		}
	}
}

// forward sets y to the convolution of x, parallel over the batch.
func (s *shifted) forward(x, w, bias, y []float32, d im2col.Dims, post postSite) {
	if shiftRows && gemm.RowsDirect() {
		s.forwardTaps(x, w, bias, y, d, post)
		return
	}
	wp, plane, n := shiftGeom(d)
	nw := parallel.NumWorkers(d.B)
	s.layout(d, nw, false)
	if s.once.due(s.fixed) {
		s.pack(w, d, false, bias)
	}
	img, out := d.C*d.H*d.W, d.O*d.OH*d.OW
	parallel.For(d.B, func(wk, lo, hi int) {
		xs := s.x[wk*s.n : (wk+1)*s.n]
		wide := s.wide[wk*d.O*n : (wk+1)*d.O*n]
		for b := lo; b < hi; b++ {
			s.shift(xs, x[b*img:(b+1)*img], d)
			for ki := range d.K {
				beta := float32(1)
				if ki == 0 {
					beta = 0 // row 0 starts from the bias
				}
				gemm.SgemmPacked(&s.rows[ki], false, n, xs[ki*wp:], plane, beta, wide, n)
			}
			yb := post.image(y, wk, b, out)
			vec.CopyRows(yb, d.OW, wide, wp, d.O*d.OH, d.OW)
			post.done(wk, b, yb, y)
		}
	})
}

// forwardTaps is forward as one product over the K·K taps, each read at its
// offset in the image's bordered planes (see shiftRows).
func (s *shifted) forwardTaps(x, w, bias, y []float32, d im2col.Dims, post postSite) {
	wp, _, n := shiftGeom(d)
	nw := parallel.NumWorkers(d.B)
	s.layout(d, nw, true)
	if s.once.due(s.fixed) {
		s.all.Pack(false, d.O, d.CKK(), 1, w, d.CKK())
	}
	s.all.SetBias(bias)
	s.offs = tapOffsets(s.offs, d)
	img, out := d.C*d.H*d.W, d.O*d.OH*d.OW
	if d.B < parallel.Workers {
		// Too few images to share out (batch-1 inference): the workers
		// split each image's columns instead.
		xs, wide := s.x[:s.n], s.wide[:d.O*n]
		for b := range d.B {
			xb := x[b*img : (b+1)*img]
			border(xs, xb, d)
			parallelCols(n, func(lo, hi int) {
				gemm.SgemmPackedRows(&s.all, hi-lo, xs[lo:], s.offs, wide[lo:], n)
			})
			yb := post.image(y, 0, b, out)
			vec.CopyRows(yb, d.OW, wide, wp, d.O*d.OH, d.OW)
			post.done(0, b, yb, y)
		}
		return
	}
	parallel.For(d.B, func(wk, lo, hi int) {
		xs := s.x[wk*s.n : (wk+1)*s.n]
		wide := s.wide[wk*d.O*n : (wk+1)*d.O*n]
		for b := lo; b < hi; b++ {
			xb := x[b*img : (b+1)*img]
			border(xs, xb, d)
			gemm.SgemmPackedRows(&s.all, n, xs, s.offs, wide, n)
			yb := post.image(y, wk, b, out)
			vec.CopyRows(yb, d.OW, wide, wp, d.O*d.OH, d.OW)
			post.done(wk, b, yb, y)
		}
	})
}

// tapOffsets sets offs to where each tap (c, ki, kj) reads in an image's
// bordered planes, laid out as shiftGeom says.
func tapOffsets(offs []int, d im2col.Dims) []int {
	wp, plane, _ := shiftGeom(d)
	offs = scratch.Grow(offs, d.CKK())
	for c := range d.C {
		for ki := range d.K {
			for kj := range d.K {
				offs[(c*d.K+ki)*d.K+kj] = c*plane + ki*wp + kj
			}
		}
	}
	return offs
}

// border copies image xb's channels into the bordered planes xs (laid out
// as shiftGeom says), inside their borders, which stay zero.
func border(xs, xb []float32, d im2col.Dims) {
	wp, plane, _ := shiftGeom(d)
	for c := range d.C {
		vec.CopyRows(xs[c*plane+d.P*wp+d.P:], wp, xb[c*d.H*d.W:], d.W, d.H, d.W)
	}
}

// The weight gradient by taps where they lie: with dy laid on the
// bordered width (zero in the dropped columns, and up to the next 16
// floats), tap (c, ki, kj)'s inputs for every output are the run of the
// bordered plane c from ki·Wp + kj on, so
//
//	dW[o, (c,ki,kj)] = Σ_b dyʷ_b[o] · xp_b[c][ki·Wp + kj :]
//
// is one NT product per image whose B rows are read at the taps' offsets
// (gemm.NTRows): no im2col matrix is written and read back. It replaces
// the NT path (useNT) where the products over the dropped columns are few:
// a ResNet's 16-channel 3×3 layer at 28×28, 8 % more products, 1.4× (one
// core) to 1.6× (two) faster. Not the packed GEMM's layers: at 32 channels
// and 14×14 (14 % more) it was 1.08× slower than im2row and the GEMM; nor
// LeNet's conv1 (17 % more), 1.1× slower on one core
// (BenchmarkOpConv/*/dW).
type tapsGrad struct {
	shift shifted   // each worker's bordered planes (its x)
	dyw   []float32 // per worker: dy on the bordered width, O rows of ld
	dims  im2col.Dims
}

// tapsGradMaxWaste bounds the fraction of an image's products (over its
// outputs) that the dropped columns add.
var tapsGradMaxWaste = 0.1

// tapsLD is the row length of dyʷ: OH·Wp rounded up to whole vectors.
func tapsLD(d im2col.Dims) int {
	_, _, n := shiftGeom(d)
	return (n + 15) &^ 15
}

func useTapsGrad(d im2col.Dims) bool {
	wp := d.W + 2*d.P
	ld := tapsLD(d)
	// A run reads ld floats from ki·Wp + kj: past its plane's Hp·Wp by
	// (K−1) + ld − OH·Wp, which must stay within the Wp floats after it.
	return gemm.NTRows != nil && useNT(d) && d.S == 1 && d.K > 1 && d.K-1+ld-d.OH*wp <= wp &&
		float64(ld) <= (1+tapsGradMaxWaste)*float64(d.Pix())
}

// gradFilter accumulates each worker's dW (and, with bias, db) into its
// part of partial (per floats apart), parallel over the batch.
func (t *tapsGrad) gradFilter(x, dy, partial []float32, per int, nt []gemm.NTAccum, bias bool, d im2col.Dims) {
	wp, _, _ := shiftGeom(d)
	ld, ckk, pix, img := tapsLD(d), d.CKK(), d.Pix(), d.C*d.H*d.W
	nw := parallel.NumWorkers(d.B)
	t.shift.layout(d, nw, true)
	t.shift.offs = tapOffsets(t.shift.offs, d)
	if t.dims != d || len(t.dyw) < nw*d.O*ld {
		t.dyw = scratch.Grow(t.dyw, nw*d.O*ld)
		clear(t.dyw) // the dropped columns stay zero
		t.dims = d
	}
	parallel.For(d.B, func(wk, lo, hi int) {
		acc := partial[wk*per : (wk+1)*per]
		clear(acc)
		xs := t.shift.x[wk*t.shift.n : (wk+1)*t.shift.n]
		dyw := t.dyw[wk*d.O*ld : (wk+1)*d.O*ld]
		nt[wk].Reset(d.O, ckk)
		for b := lo; b < hi; b++ {
			xb, dyb := x[b*img:(b+1)*img], dy[b*d.O*pix:(b+1)*d.O*pix]
			if bias {
				vec.AddRowSums(acc[d.O*ckk:], dyb, pix)
			}
			border(xs, xb, d)
			for o := range d.O {
				vec.CopyRows(dyw[o*ld:], wp, dyb[o*pix:], d.OW, d.OH, d.OW)
			}
			nt[wk].AddRows(gemm.NTRows, ld, dyw, ld, xs, t.shift.offs)
		}
		nt[wk].SumInto(acc[:d.O*ckk], ckk)
	})
}

// gradInput sets dx to the input gradient of dy, parallel over the batch.
func (s *shifted) gradInput(w, dy, dx []float32, d im2col.Dims) {
	wp, plane, n := shiftGeom(d)
	nw := parallel.NumWorkers(d.B)
	s.layout(d, nw, false)
	s.pack(w, d, true, nil)
	img, out := d.C*d.H*d.W, d.O*d.OH*d.OW
	parallel.For(d.B, func(wk, lo, hi int) {
		dxs := s.x[wk*s.n : (wk+1)*s.n]
		wide := s.wide[wk*d.O*n : (wk+1)*d.O*n]
		for b := lo; b < hi; b++ {
			// dy on the bordered width; its dropped columns stay zero.
			vec.CopyRows(wide, wp, dy[b*out:(b+1)*out], d.OW, d.O*d.OH, d.OW)
			clear(dxs)
			for ki := range d.K {
				gemm.SgemmPacked(&s.rows[ki], false, n, wide, n, 1, dxs[ki*wp:], plane)
			}
			// Row (c, kj) is the gradient of the bordered plane shifted left
			// by kj: the inside pixel (y, x) gets row (c, kj) at
			// (P + y)·Wp + P + x − kj, summed over kj.
			dxb := dx[b*img : (b+1)*img]
			for c := range d.C {
				dst := dxb[c*d.H*d.W : (c+1)*d.H*d.W]
				for kj := range d.K {
					row := dxs[(c*d.K+kj)*plane:]
					if kj <= d.P {
						if kj == 0 {
							vec.CopyRows(dst, d.W, row[d.P*wp+d.P:], wp, d.H, d.W)
						} else {
							vec.AddRows(dst, d.W, row[d.P*wp+d.P-kj:], wp, d.H, d.W)
						}
						continue
					}
					cut := kj - d.P
					vec.AddRows(dst[cut:], d.W, row[d.P*wp:], wp, d.H, d.W-cut)
				}
			}
		}
	})
}
