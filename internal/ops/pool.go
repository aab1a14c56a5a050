package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// PoolGeom is a pooling window: kernel, stride and padding along height
// and width, and Ceil to round the output size up (PyTorch's ceil_mode: a
// last, partial window is kept when it starts inside the input or its left
// padding).
type PoolGeom struct {
	KH, KW, SH, SW, PH, PW int
	Ceil                   bool
}

// PoolOut is a pooling's output length along one axis:
// ⌊(in + 2p − k)/s⌋ + 1, or with ceil rounding up, less one if the last
// window would start in the right padding.
func PoolOut(in, k, s, p int, ceil bool) int {
	n := in + 2*p - k
	if n < 0 {
		return 0
	}
	if !ceil {
		return n/s + 1
	}
	o := (n+s-1)/s + 1
	if (o-1)*s >= in+p {
		o--
	}
	return o
}

// Out is the output size of the pooling on h×w.
func (g PoolGeom) Out(h, w int) (int, int) {
	return PoolOut(h, g.KH, g.SH, g.PH, g.Ceil), PoolOut(w, g.KW, g.SW, g.PW, g.Ceil)
}

// Pool returns the square geometry as a pooling window.
func (g ConvGeom) Pool() PoolGeom {
	return PoolGeom{KH: g.Kernel, KW: g.Kernel, SH: g.Stride, SW: g.Stride, PH: g.Pad, PW: g.Pad}
}

func (g PoolGeom) is2x2() bool { return g == ConvGeom{Kernel: 2, Stride: 2}.Pool() }

// Pool2D is max or average pooling over windows of x (B,C,H,W). Padding
// counts as −∞ for max pooling and as zeros for average pooling, whose
// divisor is the window's size within the padded input (PyTorch's
// count_include_pad=True: K·K except for ceil mode's last windows).
type Pool2D struct {
	base
	Geom PoolGeom
	Max  bool
	ReLU bool // a ReLU before the pooling, inside it (see WithReLU)

	inShape tensor.Shape
	argmax  []int32 // per output: flat index into the input plane (max only)
	out     buffer
}

// WithReLU makes a 2×2 stride-2 max pooling also apply the ReLU before it:
// max(x, 0) is computed as the windows are read, and never written. Its
// gradient passes where the pooled output is positive (the ReLU let the
// window's maximum through).
func (op *Pool2D) WithReLU() *Pool2D {
	op.ReLU = true
	op.name = "relu_" + op.name
	return op
}

func NewMaxPool2D(name string, g ConvGeom) *Pool2D { return NewPool2D(name, g.Pool(), true) }

func NewAvgPool2D(name string, g ConvGeom) *Pool2D { return NewPool2D(name, g.Pool(), false) }

// NewPool2D makes a max (or else average) pooling with any window.
func NewPool2D(name string, g PoolGeom, isMax bool) *Pool2D {
	kind := "avgpool:"
	if isMax {
		kind = "maxpool:"
	}
	return &Pool2D{base: newBase(kind + name), Geom: g, Max: isMax}
}

func (op *Pool2D) Apply(x *G.Node) (*G.Node, error) { return G.ApplyOp(op, x) }
func (op *Pool2D) Arity() int                       { return 1 }
func (op *Pool2D) Type() hm.Type                    { return fnType(4, 4) }

func (op *Pool2D) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 {
		return nil, fmt.Errorf("%s: input must be (B,C,H,W), got %v", op.name, xs)
	}
	op.inShape = xs.Clone()
	oh, ow := op.Geom.Out(xs[2], xs[3])
	return tensor.Shape{xs[0], xs[1], oh, ow}, nil
}

func (op *Pool2D) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	B, C, H, W := ss[0][0], ss[0][1], ss[0][2], ss[0][3]
	g := op.Geom
	OH, OW := g.Out(H, W)
	out := op.out.get(B, C, OH, OW)
	y := out.Data().([]float32)
	if op.Max {
		op.argmax = scratch.Grow(op.argmax, len(y))
	}
	if op.ReLU {
		if !op.Max || !g.is2x2() {
			return nil, fmt.Errorf("%s: a ReLU inside pooling needs 2×2 stride-2 max pooling", op.name)
		}
		// max(relu(window)) = relu(max(window)): pool, then clamp the
		// (four times fewer) outputs. Where the arg-max is negative the
		// output is 0 and its gradient masked, so which one it is does not
		// matter.
		parallel.ForCost(B*C, H*W, func(_, lo, hi int) {
			yc := y[lo*OH*OW : hi*OH*OW]
			vec.MaxPool2x2(x[lo*H*W:hi*H*W], yc, op.argmax[lo*OH*OW:hi*OH*OW], hi-lo, H, W, OH, OW)
			vec.Affine(yc, yc, 1, 0, true)
		})
		return out, nil
	}
	if op.Max && g.is2x2() {
		parallel.ForCost(B*C, H*W, func(_, lo, hi int) {
			vec.MaxPool2x2(x[lo*H*W:hi*H*W], y[lo*OH*OW:hi*OH*OW], op.argmax[lo*OH*OW:hi*OH*OW], hi-lo, H, W, OH, OW)
		})
		return out, nil
	}
	if H == 1 && g.KH == 1 && g.PH == 0 { // a 1-D pooling: rows of W
		parallel.ForCost(B*C, W*g.KW/g.SW, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				var arg []int32
				if op.Max {
					arg = op.argmax[p*OW : (p+1)*OW]
				}
				g.poolRow(x[p*W:(p+1)*W], y[p*OW:(p+1)*OW], arg)
			}
		})
		return out, nil
	}
	parallel.ForCost(B*C, H*W*g.KH*g.KW/max(1, g.SH*g.SW), func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*H*W : (p+1)*H*W]
			yp := y[p*OH*OW : (p+1)*OH*OW]
			for oy := range OH {
				y0, y1, ny := g.rows(oy, H)
				for ox := range OW {
					x0, x1, nx := g.cols(ox, W)
					if op.Max {
						best, at := float32(math.Inf(-1)), int32(-1)
						for iy := y0; iy < y1; iy++ {
							for ix := x0; ix < x1; ix++ {
								if v := xp[iy*W+ix]; v > best || at < 0 {
									best, at = v, int32(iy*W+ix)
								}
							}
						}
						yp[oy*OW+ox] = best
						op.argmax[p*OH*OW+oy*OW+ox] = at
						continue
					}
					var s float32
					for iy := y0; iy < y1; iy++ {
						for _, v := range xp[iy*W+x0 : iy*W+x1] {
							s += v
						}
					}
					yp[oy*OW+ox] = s / float32(ny*nx)
				}
			}
		}
	})
	return out, nil
}

func (op *Pool2D) DiffWRT(int) []bool { return []bool{true} }

func (op *Pool2D) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&poolGrad{gradBase: newGradBase(op.name + ".dX"), fwd: op}, grad)
	return G.Nodes{dx}, err
}

// poolGrad routes dy back: to the arg-max of each window for max pooling,
// spread evenly over the window for average pooling.
type poolGrad struct {
	gradBase
	fwd    *Pool2D
	out    buffer
	masked []float32 // after a ReLU inside: dy where the output is positive
}

func (op *poolGrad) Arity() int    { return 1 }
func (op *poolGrad) Type() hm.Type { return fnType(4, 4) }
func (op *poolGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	xs := op.fwd.inShape
	return tensor.Shape{gs[0], xs[1], xs[2], xs[3]}, nil
}

func (op *poolGrad) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	dy := ds[0]
	B, C, OH, OW := ss[0][0], ss[0][1], ss[0][2], ss[0][3]
	H, W := op.fwd.inShape[2], op.fwd.inShape[3]
	g := op.fwd.Geom
	if op.fwd.Max && len(op.fwd.argmax) != len(dy) {
		return nil, fmt.Errorf("%s: forward pass has not run", op.name)
	}
	out := op.out.get(B, C, H, W)
	dx := out.Data().([]float32)
	if op.fwd.ReLU {
		// The ReLU's gradient first: zero where the pooled output is 0.
		op.masked = scratch.Grow(op.masked, len(dy))
		y := op.fwd.out.t.Data().([]float32)
		parallel.ForCost(len(dy), 1, func(_, lo, hi int) { vec.ReluGrad(y[lo:hi], dy[lo:hi], op.masked[lo:hi]) })
		dy = op.masked
	}
	if op.fwd.Max && g.is2x2() {
		parallel.ForCost(B*C, H*W, func(_, lo, hi int) {
			vec.MaxPool2x2Grad(dy[lo*OH*OW:hi*OH*OW], op.fwd.argmax[lo*OH*OW:hi*OH*OW], dx[lo*H*W:hi*H*W], hi-lo, H, W, OH, OW)
		})
		return out, nil
	}
	parallel.ForCost(B*C, H*W, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			dxp := dx[p*H*W : (p+1)*H*W]
			clear(dxp)
			dyp := dy[p*OH*OW : (p+1)*OH*OW]
			if op.fwd.Max {
				am := op.fwd.argmax[p*OH*OW : (p+1)*OH*OW]
				for i, g := range dyp {
					dxp[am[i]] += g
				}
				continue
			}
			for oy := range OH {
				y0, y1, ny := g.rows(oy, H)
				for ox := range OW {
					x0, x1, nx := g.cols(ox, W)
					v := dyp[oy*OW+ox] / float32(ny*nx)
					for iy := y0; iy < y1; iy++ {
						row := dxp[iy*W+x0 : iy*W+x1]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
	})
	return out, nil
}

// rows returns the input rows [y0, y1) that output row oy's window covers,
// and how many rows it counts for averaging: the window within the padded
// input, padding included.
func (g PoolGeom) rows(oy, h int) (y0, y1, n int) { return window(oy, g.KH, g.SH, g.PH, h) }

func (g PoolGeom) cols(ox, w int) (x0, x1, n int) { return window(ox, g.KW, g.SW, g.PW, w) }

// poolRow pools one row x into y: the max of each window (and where it
// is, in argmax) if argmax is given, else the mean (padding counted).
func (g PoolGeom) poolRow(x, y []float32, argmax []int32) {
	if argmax != nil && g.KW == 2 && g.SW == 2 && g.PW == 0 && 2*len(y) <= len(x) {
		vec.MaxPool1x2Affine(x, y, argmax, 1, 0, false)
		return
	}
	for o := range y {
		x0, x1, n := g.cols(o, len(x))
		if argmax == nil {
			var s float32
			for _, v := range x[x0:x1] {
				s += v
			}
			y[o] = s / float32(n)
			continue
		}
		best, at := x[x0], x0
		for i := x0 + 1; i < x1; i++ {
			if x[i] > best {
				best, at = x[i], i
			}
		}
		y[o], argmax[o] = best, int32(at)
	}
}

func window(o, k, s, p, in int) (lo, hi, n int) {
	start := o*s - p
	end := min(start+k, in+p)
	return max(start, 0), min(start+k, in), end - start
}
