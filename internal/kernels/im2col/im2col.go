// Package im2col lowers images to matrices for convolution by GEMM —
// im2col (one row per input channel and kernel tap, one column per output
// pixel), its transpose im2row, and the adjoint col2im — and back. The
// stride-1 unpadded moves have AVX2 versions (one call per image), chosen
// once in init (asm_amd64.go); padded convolutions lower a copy of the image
// with its border (Padded) to use them; General lowers any geometry
// (rectangular, strided, dilated), a group of channels at a time.
package im2col

import (
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
)

// Dims are a square convolution's sizes: batch B, input C×H×W, O filters
// of K×K, stride S, padding P, output OH×OW.
type Dims struct {
	B, C, H, W, O, OH, OW, K, S, P int
}

func (d Dims) CKK() int { return d.C * d.K * d.K }

func (d Dims) Pix() int { return d.OH * d.OW }

// Pointwise reports a 1×1 convolution of stride 1 without padding: a plain
// matrix product of the filters and each image's C×(H·W) matrix.
func Pointwise(d Dims) bool { return d.K == 1 && d.S == 1 && d.P == 0 }

// Padded holds, for convolutions with padding, one image per worker
// with its zero border: lowering that copy needs no clipping (the unpadded
// paths move whole rows, or gather without bounds tests), and the copy costs
// a ninth of the lowering's writes for a 3×3 kernel. The border is zeroed
// when the buffer is laid out and never written after.
type Padded struct {
	buf  []float32
	dims Dims // the geometry buf is laid out for
	n    int  // floats per worker
}

// IsPadded reports whether d takes this path.
func IsPadded(d Dims) bool { return d.P > 0 }

// Unpadded is d for the padded copy of its image.
func Unpadded(d Dims) Dims {
	d.H, d.W, d.P = d.H+2*d.P, d.W+2*d.P, 0
	return d
}

// Size lays the buffer out for nw workers (8 spare floats each, which the
// AVX im2row reads past the image).
func (p *Padded) Size(d Dims, nw int) {
	if !IsPadded(d) {
		return
	}
	dp := Unpadded(d)
	n := d.C*dp.H*dp.W + 8
	if p.dims != d || len(p.buf) < nw*n {
		p.buf = scratch.Grow(p.buf, nw*n)
		clear(p.buf)
		p.dims, p.n = d, n
	}
}

// Of returns the image to lower and its geometry: x itself, or for a padded
// convolution worker wk's copy of x with its border.
func (p *Padded) Of(wk int, x []float32, d Dims) ([]float32, Dims) {
	if !IsPadded(d) {
		return x, d
	}
	dp := Unpadded(d)
	xp := p.buf[wk*p.n : (wk+1)*p.n]
	for c := range d.C {
		vec.CopyRows(xp[(c*dp.H+d.P)*dp.W+d.P:], dp.W, x[c*d.H*d.W:], d.W, d.H, d.W)
	}
	return xp, dp
}

// Col2im sets x to col2im(col) as Of would lower x: for a padded
// convolution it sums into worker wk's bordered image (col2im clears it
// first) and keeps the inside.
func (p *Padded) Col2im(wk int, col, x []float32, d Dims) {
	if !IsPadded(d) {
		Col2im(col, x, d)
		return
	}
	dp := Unpadded(d)
	xp := p.buf[wk*p.n : (wk+1)*p.n]
	Col2im(col, xp[:d.C*dp.H*dp.W], dp)
	for c := range d.C {
		vec.CopyRows(x[c*d.H*d.W:], d.W, xp[(c*dp.H+d.P)*dp.W+d.P:], dp.W, d.H, d.W)
	}
}

// Im2col unrolls one image (C,H,W) into col, a (C·K·K)×(OH·OW) matrix whose
// row (c,ki,kj) holds the input pixel under kernel tap (ki,kj) for every
// output position; taps that fall in the padding read zero.
func Im2col(x, col []float32, d Dims) { Im2colTo(x, col, d.Pix(), d) }

// Im2colTo is Im2col into a matrix with rows ld floats apart, which lets
// several images' matrices sit side by side.
func Im2colTo(x, col []float32, ld int, d Dims) {
	if d.S == 1 && d.P == 0 {
		im2colS1(x, col, d, ld)
		return
	}
	Im2colPart(x, col, d, ld, 0, d.C*d.K)
}

// im2colS1 is im2col for stride 1 and no padding (assembly where the CPU
// has AVX2: one call per image rather than one per row).
var im2colS1 = im2colS1Go

func im2colS1Go(x, col []float32, d Dims, ld int) { s1Rows(x, col, d, ld, 0, d.C*d.K, 0, false) }

// s1Rows moves, for stride 1 and no padding, the output columns from ox0 on
// of kernel rows q in [qlo, qhi) (q = c·K + ki) between x and col (rows ld
// floats apart): col = im2col(x) if !add, x += col2im(col) if add. Every tap
// is inside the image, and row (c,ki,kj) of col is OH runs of OW
// consecutive input pixels.
func s1Rows(x, col []float32, d Dims, ld, qlo, qhi, ox0 int, add bool) {
	Pix := d.Pix()
	for q := qlo; q < qhi; q++ {
		c, ki := q/d.K, q%d.K
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kj := range d.K {
			row := col[((c*d.K+ki)*d.K+kj)*ld:][:Pix]
			if add {
				vec.AddRows(xc[ki*d.W+kj+ox0:], d.W, row[ox0:], d.OW, d.OH, d.OW-ox0)
			} else {
				vec.CopyRows(row[ox0:], d.OW, xc[ki*d.W+kj+ox0:], d.W, d.OH, d.OW-ox0)
			}
		}
	}
}

// Im2row is Im2col transposed: row p of colT (rows ld floats apart) holds
// the C·K·K inputs under output pixel p, in im2col's order. A weight
// gradient that multiplies by colT needs no transposes to pack it.
var Im2row = im2rowGo

func im2rowGo(x, colT []float32, d Dims, ld int) {
	if d.P == 0 {
		im2rowInside(x, colT, d, ld)
		return
	}
	for oy := range d.OH {
		for ox := range d.OW {
			row := colT[(oy*d.OW+ox)*ld:][:d.CKK()]
			q := 0
			for c := range d.C {
				xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
				for ki := range d.K {
					iy := oy*d.S - d.P + ki
					for kj := range d.K {
						ix := ox*d.S - d.P + kj
						if iy >= 0 && iy < d.H && ix >= 0 && ix < d.W {
							row[q] = xc[iy*d.W+ix]
						} else {
							row[q] = 0
						}
						q++
					}
				}
			}
		}
	}
}

// im2rowInside is im2row without padding: every tap is inside the image,
// and each kernel row is K consecutive inputs.
func im2rowInside(x, colT []float32, d Dims, ld int) {
	for oy := range d.OH {
		for ox := range d.OW {
			row := colT[(oy*d.OW+ox)*ld:][:d.CKK()]
			q := 0
			for c := range d.C {
				at := c*d.H*d.W + oy*d.S*d.W + ox*d.S
				for range d.K {
					copy(row[q:q+d.K], x[at:at+d.K])
					q += d.K
					at += d.W
				}
			}
		}
	}
}

// Im2colPart fills the rows of kernel rows q in [qlo, qhi), q = c·K + ki,
// rows ld floats apart: parts can be filled concurrently.
func Im2colPart(x, col []float32, d Dims, ld, qlo, qhi int) {
	if d.S == 1 && d.P == 0 {
		s1Rows(x, col, d, ld, qlo, qhi, 0, false)
		return
	}
	Pix := d.Pix()
	for q := qlo; q < qhi; q++ {
		c, ki := q/d.K, q%d.K
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kj := range d.K {
			row := col[((c*d.K+ki)*d.K+kj)*ld:][:Pix]
			if d.P == 0 {
				// Every tap is inside: a strided gather (S > 1 here).
				vec.GatherRows(row, d.OW, xc[ki*d.W+kj:], d.S*d.W, d.OH, d.OW, d.S)
				continue
			}
			for oy := range d.OH {
				iy := oy*d.S - d.P + ki
				r := row[oy*d.OW : (oy+1)*d.OW]
				if iy < 0 || iy >= d.H {
					clear(r)
					continue
				}
				xr := xc[iy*d.W : (iy+1)*d.W]
				if d.S == 1 {
					// A contiguous run: zero the taps in the padding on
					// either side and copy the span in between.
					lo := min(max(d.P-kj, 0), d.OW)
					hi := max(min(d.W+d.P-kj, d.OW), lo)
					clear(r[:lo])
					vec.CopySpan(r[lo:hi], xr[lo+kj-d.P:hi+kj-d.P])
					clear(r[hi:])
					continue
				}
				for ox := range r {
					ix := ox*d.S - d.P + kj
					if ix >= 0 && ix < d.W {
						r[ox] = xr[ix]
					} else {
						r[ox] = 0
					}
				}
			}
		}
	}
}

// Col2im is Im2col's adjoint: it sums every column entry back onto the input
// pixel it was read from.
func Col2im(col, x []float32, d Dims) {
	clear(x)
	Pix := d.Pix()
	if d.S == 1 && d.P == 0 {
		col2imS1(col, x, d)
		return
	}
	for c := range d.C {
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for ki := range d.K {
			for kj := range d.K {
				row := col[((c*d.K+ki)*d.K+kj)*Pix:][:Pix]
				if d.P == 0 {
					// Every tap is inside: a strided scatter (S > 1 here).
					vec.ScatterAddRows(xc[ki*d.W+kj:], d.S*d.W, row, d.OW, d.OH, d.OW, d.S)
					continue
				}
				for oy := range d.OH {
					iy := oy*d.S - d.P + ki
					if iy < 0 || iy >= d.H {
						continue
					}
					xr := xc[iy*d.W : (iy+1)*d.W]
					r := row[oy*d.OW : (oy+1)*d.OW]
					if d.S == 1 {
						lo := min(max(d.P-kj, 0), d.OW)
						hi := max(min(d.W+d.P-kj, d.OW), lo)
						vec.AddSpan(xr[lo+kj-d.P:hi+kj-d.P], r[lo:hi])
						continue
					}
					for ox, v := range r {
						ix := ox*d.S - d.P + kj
						if ix >= 0 && ix < d.W {
							xr[ix] += v
						}
					}
				}
			}
		}
	}
}

// col2imS1 is col2im for stride 1 and no padding: every tap lands inside
// the image, and row (c,ki,kj) of col adds OH runs of OW floats to x.
// Assembly replaces it where the CPU has AVX2.
var col2imS1 = col2imS1Go

func col2imS1Go(col, x []float32, d Dims) { s1Rows(x, col, d, d.Pix(), 0, d.C*d.K, 0, true) }
