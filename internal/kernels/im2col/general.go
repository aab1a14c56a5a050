package im2col

import "github.com/cnnctl/cnnctl/internal/kernels/vec"

// Geom is the geometry of a 2-D window along height (H) and width (W):
// kernel, stride, zero padding on both sides, and dilation (the spacing of
// the kernel's taps: 1 is a dense kernel).
type Geom struct {
	KH, KW, SH, SW, PH, PW, DH, DW int
}

// ConvOut is a convolution's output length along one axis:
// ⌊(in + 2p − d·(k−1) − 1)/s⌋ + 1.
func ConvOut(in, k, s, p, d int) int { return (in+2*p-d*(k-1)-1)/s + 1 }

// TransposedOut is a transposed convolution's output length along one axis:
// (in − 1)·s − 2p + d·(k−1) + outputPadding + 1.
func TransposedOut(in, k, s, p, d, outputPadding int) int {
	return (in-1)*s - 2*p + d*(k-1) + outputPadding + 1
}

// Out is the output size of a convolution with this geometry on h×w.
func (g Geom) Out(h, w int) (int, int) {
	return ConvOut(h, g.KH, g.SH, g.PH, g.DH), ConvOut(w, g.KW, g.SW, g.PW, g.DW)
}

// Square reports whether the geometry is a square kernel with one stride
// and padding for both axes and no dilation, and returns those.
func (g Geom) Square() (kernel, stride, pad int, ok bool) {
	ok = g.KH == g.KW && g.SH == g.SW && g.PH == g.PW && g.DH == 1 && g.DW == 1
	return g.KH, g.SH, g.PH, ok
}

// Plane is one lowering's sizes: C channels of H×W read through windows
// of geometry G that give OH×OW outputs.
type Plane struct {
	C, H, W, OH, OW int
	G               Geom
}

// Rows and Pix are the lowered matrix's size: C·KH·KW × OH·OW.
func (p Plane) Rows() int { return p.C * p.G.KH * p.G.KW }

func (p Plane) Pix() int { return p.OH * p.OW }

// General unrolls x (C,H,W) into col, a (C·KH·KW)×(OH·OW) matrix:
// row (c,ki,kj) holds, for every output position, the input under tap
// (ki,kj), or zero where the tap falls in the padding.
func General(x, col []float32, p Plane) {
	if p.IsRow() {
		rows(x, col, p)
		return
	}
	g, Pix := p.G, p.Pix()
	r := 0
	for c := range p.C {
		xc := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for ki := range g.KH {
			for kj := range g.KW {
				row := col[r*Pix : (r+1)*Pix]
				r++
				for oy := range p.OH {
					iy := oy*g.SH - g.PH + ki*g.DH
					out := row[oy*p.OW : (oy+1)*p.OW]
					if iy < 0 || iy >= p.H {
						clear(out)
						continue
					}
					xr := xc[iy*p.W : (iy+1)*p.W]
					for ox := range out {
						ix := ox*g.SW - g.PW + kj*g.DW
						if ix >= 0 && ix < p.W {
							out[ox] = xr[ix]
						} else {
							out[ox] = 0
						}
					}
				}
			}
		}
	}
}

// GeneralAdjoint is General's adjoint: it adds every entry of col onto
// the input pixel it was read from (x is not cleared first).
func GeneralAdjoint(col, x []float32, p Plane) {
	if p.IsRow() {
		rowsAdjoint(col, x, p)
		return
	}
	g, Pix := p.G, p.Pix()
	r := 0
	for c := range p.C {
		xc := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for ki := range g.KH {
			for kj := range g.KW {
				row := col[r*Pix : (r+1)*Pix]
				r++
				for oy := range p.OH {
					iy := oy*g.SH - g.PH + ki*g.DH
					if iy < 0 || iy >= p.H {
						continue
					}
					xr := xc[iy*p.W : (iy+1)*p.W]
					for ox, v := range row[oy*p.OW : (oy+1)*p.OW] {
						if ix := ox*g.SW - g.PW + kj*g.DW; ix >= 0 && ix < p.W {
							xr[ix] += v
						}
					}
				}
			}
		}
	}
}

// IsRow says whether the plane is one row read by a 1×k window (a 1-D
// convolution), which rows and rowsAdjoint lower without per-pixel tests.
func (p Plane) IsRow() bool { return p.H == 1 && p.G.KH == 1 && p.G.PH == 0 }

// inside is the range [lo, hi) of outputs whose tap at offset off = j·d − p
// falls inside a row of w inputs: 0 ≤ o·s + off < w.
func inside(off, s, w, outs int) (lo, hi int) {
	if off < 0 {
		lo = min(outs, (-off+s-1)/s)
	}
	if w-1-off >= 0 {
		hi = min(outs, (w-1-off)/s+1)
	}
	return lo, max(hi, lo)
}

// rows is General for one row: tap j of channel c reads x[c, o·s − p + j·d];
// at stride 1 that is one copy.
func rows(x, col []float32, p Plane) { RowsStrided(x, col, p.OW, p) }

// RowsStrided is General for a row plane (IsRow) with row r of the lowered
// matrix at col[r·ld:]: with ld = n·OW, n images' matrices lie side by
// side in one (C·KW) × n·OW matrix, image i's from column i·OW.
func RowsStrided(x, col []float32, ld int, p Plane) {
	g, OW := p.G, p.OW
	r := 0
	for c := range p.C {
		xc := x[c*p.W : (c+1)*p.W]
		for j := range g.KW {
			out := col[r*ld : r*ld+OW]
			r++
			off := j*g.DW - g.PW
			lo, hi := inside(off, g.SW, p.W, OW)
			clear(out[:lo])
			clear(out[hi:])
			if g.SW == 1 {
				copy(out[lo:hi], xc[lo+off:hi+off])
				continue
			}
			for o := lo; o < hi; o++ {
				out[o] = xc[o*g.SW+off]
			}
		}
	}
}

// rowsAdjoint is rows' adjoint: col's entries added back onto x.
func rowsAdjoint(col, x []float32, p Plane) {
	g, OW := p.G, p.OW
	r := 0
	for c := range p.C {
		xc := x[c*p.W : (c+1)*p.W]
		for j := range g.KW {
			in := col[r*OW : (r+1)*OW]
			r++
			off := j*g.DW - g.PW
			lo, hi := inside(off, g.SW, p.W, OW)
			if g.SW == 1 {
				vec.AddRows(xc[lo+off:], 0, in[lo:hi], 0, 1, hi-lo)
				continue
			}
			for o := lo; o < hi; o++ {
				xc[o*g.SW+off] += in[o]
			}
		}
	}
}

// WindowMajor says whether a plane is better lowered window by window
// (RowsT) than tap by tap (General): a row read by a long, undilated
// kernel, whose every window is one contiguous run of the input — a copy
// of k floats — where tap by tap is k strided gathers at a stride > 1.
func (p Plane) WindowMajor() bool { return p.IsRow() && p.G.DW == 1 && p.G.KW >= 16 }

// RowsT is General's matrix transposed, for a row plane: colT (OW ×
// C·KW) holds in row o the window of output o, channel after channel —
// colT[o, c·k + j] = x[c, o·s − p + j], zero in the padding.
func RowsT(x, colT []float32, p Plane) {
	g, K := p.G, p.G.KW
	ck := p.C * K
	for o := range p.OW {
		start := o*g.SW - g.PW
		row := colT[o*ck : (o+1)*ck]
		for c := range p.C {
			xc, dst := x[c*p.W:(c+1)*p.W], row[c*K:(c+1)*K]
			if start >= 0 && start+K <= p.W {
				copy(dst, xc[start:start+K])
				continue
			}
			lo, hi := max(0, -start), min(K, p.W-start)
			clear(dst)
			if lo < hi {
				copy(dst[lo:hi], xc[start+lo:start+hi])
			}
		}
	}
}
