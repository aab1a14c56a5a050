package ops

import (
	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// Depthwise convolution (groups = input channels): each output channel
// reads one input channel through its own small kernel, so there is no sum
// over channels to make a GEMM of — lowering would multiply a 1×9 matrix
// by a 9×pixels one per channel. It runs directly instead, plane by plane,
// on a copy of the input plane with its zero border. For stride 1 and no
// dilation each kernel tap is then one vector update over the whole plane:
// the output is computed on the bordered plane's width (a few extra
// columns, cropped after), so that tap (ki, kj) reads one contiguous run of
// the input, starting at ki·Wp + kj.

// dwPlanes are the sizes of one depthwise call; d is the forward op's.
type dwPlanes struct {
	d      convGeneralDims
	g      im2col.Geom
	m      int // output channels per input channel (the multiplier)
	hp, wp int // the bordered input plane
	fast   bool
}

func depthwise(op *ConvGeneral, d convGeneralDims) (dwPlanes, bool) {
	// One input channel into several outputs is an ordinary convolution
	// (the first layer of a signal network): its GEMM has a row per output.
	if op.Transposed || d.G != d.C || (d.C == 1 && d.O > 1) {
		return dwPlanes{}, false
	}
	g := op.Geom
	p := dwPlanes{d: d, g: g, m: d.O / d.C, hp: d.H + 2*g.PH, wp: d.W + 2*g.PW}
	p.fast = g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1
	return p, true
}

// scratch is what one worker needs: the bordered input plane (with
// kw floats to spare, which the last tap's run reads past its end) and an
// output plane on the bordered width.
func (p dwPlanes) scratch() int { return p.hp*p.wp + p.g.KW + p.d.OH*p.wp }

// border copies plane x (H×W) into xp, inside a zero border.
func (p dwPlanes) border(x, xp []float32) {
	clear(xp[:p.hp*p.wp+p.g.KW])
	vec.CopyRows(xp[p.g.PH*p.wp+p.g.PW:], p.wp, x, p.d.W, p.d.H, p.d.W)
}

// forward sets y (OH×OW) to the correlation of the bordered plane xp with
// kernel k, plus bias; wide is scratch of OH·wp floats.
func (p dwPlanes) forward(xp, k, y, wide []float32, bias float32) {
	d, g := p.d, p.g
	if p.fast {
		n := d.OH * p.wp
		wide = wide[:n]
		vec.Fill(wide, bias)
		for ki := range g.KH {
			for kj := range g.KW {
				at := ki*p.wp + kj
				vec.Axpby(xp[at:at+n], wide, wide, k[ki*g.KW+kj], 1, 0)
			}
		}
		vec.CopyRows(y, d.OW, wide, p.wp, d.OH, d.OW)
		return
	}
	vec.Fill(y[:d.OH*d.OW], bias)
	for ki := range g.KH {
		for kj := range g.KW {
			kv := k[ki*g.KW+kj]
			for oy := range d.OH {
				xr := p.run(xp, oy, ki, kj)
				yr := y[oy*d.OW : (oy+1)*d.OW]
				for ox := range yr {
					yr[ox] += kv * xr[ox*g.SW]
				}
			}
		}
	}
}

// run is the part of the bordered plane that tap (ki, kj) reads for output
// row oy, one input every SW floats: sliced to its length, so the loops
// over it need no bounds tests.
func (p dwPlanes) run(xp []float32, oy, ki, kj int) []float32 {
	g := p.g
	at := (oy*g.SH+ki*g.DH)*p.wp + kj*g.DW
	return xp[at : at+(p.d.OW-1)*g.SW+1]
}

// spread lays dy (OH×OW) on the bordered width, zero in the extra columns.
func (p dwPlanes) spread(dy, wide []float32) []float32 {
	d := p.d
	wide = wide[:d.OH*p.wp]
	clear(wide)
	vec.CopyRows(wide, p.wp, dy, d.OW, d.OH, d.OW)
	return wide
}

// gradKernel adds to dk the gradient of the kernel from one plane: the
// correlation of the bordered input xp with dy.
func (p dwPlanes) gradKernel(xp, dy, wide, dk []float32) {
	d, g := p.d, p.g
	if p.fast {
		w := p.spread(dy, wide)
		for ki := range g.KH {
			for kj := range g.KW {
				at := ki*p.wp + kj
				dk[ki*g.KW+kj] += gemm.Dot(w, xp[at:at+len(w)])
			}
		}
		return
	}
	for ki := range g.KH {
		for kj := range g.KW {
			var s float32
			for oy := range d.OH {
				xr := p.run(xp, oy, ki, kj)
				for ox, v := range dy[oy*d.OW : (oy+1)*d.OW] {
					s += v * xr[ox*g.SW]
				}
			}
			dk[ki*g.KW+kj] += s
		}
	}
}

// gradInput adds to the bordered plane dxp the gradient through kernel k
// of dy: every output's gradient spread back over the taps it read.
func (p dwPlanes) gradInput(k, dy, wide, dxp []float32) {
	d, g := p.d, p.g
	if p.fast {
		w := p.spread(dy, wide)
		for ki := range g.KH {
			for kj := range g.KW {
				at := ki*p.wp + kj
				vec.Axpby(w, dxp[at:at+len(w)], dxp[at:at+len(w)], k[ki*g.KW+kj], 1, 0)
			}
		}
		return
	}
	for ki := range g.KH {
		for kj := range g.KW {
			kv := k[ki*g.KW+kj]
			for oy := range d.OH {
				xr := p.run(dxp, oy, ki, kj)
				for ox, v := range dy[oy*d.OW : (oy+1)*d.OW] {
					xr[ox*g.SW] += kv * v
				}
			}
		}
	}
}

// dwForward is ConvGeneral's forward pass for a depthwise convolution:
// parallel over every (image, input channel) plane.
func (op *ConvGeneral) dwForward(p dwPlanes, x, w, bias, y []float32) {
	d, kk := p.d, p.g.KH*p.g.KW
	per := p.scratch()
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.B*d.C)*per)
	parallel.ForCost(d.B*d.C, p.m*kk*d.OH*d.OW, func(wk, lo, hi int) {
		s := op.cols[wk*per : (wk+1)*per]
		xp, wide := s[:p.hp*p.wp+p.g.KW], s[p.hp*p.wp+p.g.KW:]
		for i := lo; i < hi; i++ {
			b, c := i/d.C, i%d.C
			p.border(x[(b*d.C+c)*d.H*d.W:][:d.H*d.W], xp)
			for j := range p.m {
				o := c*p.m + j
				var bo float32
				if bias != nil {
					bo = bias[o]
				}
				p.forward(xp, w[o*kk:(o+1)*kk], y[(b*d.O+o)*d.OH*d.OW:][:d.OH*d.OW], wide, bo)
			}
		}
	})
}

// dwGradW computes dW and db, parallel over input channels (each sums its
// own kernels over the batch: no reduction between workers).
func (op *convGeneralGradW) dwGradW(p dwPlanes, x, dy, dw, db []float32) {
	d, kk := p.d, p.g.KH*p.g.KW
	per := p.scratch()
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.C)*per)
	clear(dw)
	clear(db)
	parallel.ForCost(d.C, d.B*p.m*kk*d.OH*d.OW, func(wk, lo, hi int) {
		s := op.cols[wk*per : (wk+1)*per]
		xp, wide := s[:p.hp*p.wp+p.g.KW], s[p.hp*p.wp+p.g.KW:]
		for c := lo; c < hi; c++ {
			for b := range d.B {
				p.border(x[(b*d.C+c)*d.H*d.W:][:d.H*d.W], xp)
				for j := range p.m {
					o := c*p.m + j
					dyo := dy[(b*d.O+o)*d.OH*d.OW:][:d.OH*d.OW]
					db[o] += vec.Sum(dyo)
					p.gradKernel(xp, dyo, wide, dw[o*kk:(o+1)*kk])
				}
			}
		}
	})
}

// dwGradX computes dx, parallel over (image, input channel) planes.
func (op *convGeneralGradX) dwGradX(p dwPlanes, w, dy, dx []float32) {
	d, kk := p.d, p.g.KH*p.g.KW
	per := p.scratch()
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.B*d.C)*per)
	parallel.ForCost(d.B*d.C, p.m*kk*d.OH*d.OW, func(wk, lo, hi int) {
		s := op.cols[wk*per : (wk+1)*per]
		dxp, wide := s[:p.hp*p.wp+p.g.KW], s[p.hp*p.wp+p.g.KW:]
		for i := lo; i < hi; i++ {
			b, c := i/d.C, i%d.C
			clear(dxp)
			for j := range p.m {
				o := c*p.m + j
				p.gradInput(w[o*kk:(o+1)*kk], dy[(b*d.O+o)*d.OH*d.OW:][:d.OH*d.OW], wide, dxp)
			}
			vec.CopyRows(dx[(b*d.C+c)*d.H*d.W:], d.W, dxp[p.g.PH*p.wp+p.g.PW:], p.wp, d.H, d.W)
		}
	})
}
