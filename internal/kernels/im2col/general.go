package im2col

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
