package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Pool2D is max or average pooling over square windows of x (B,C,H,W).
// Padding counts as −∞ for max pooling and as zeros for average pooling,
// whose divisor is always K·K (PyTorch's count_include_pad=True).
type Pool2D struct {
	base
	Geom ConvGeom
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

func NewMaxPool2D(name string, g ConvGeom) *Pool2D {
	return &Pool2D{base: newBase("maxpool:" + name), Geom: g, Max: true}
}

func NewAvgPool2D(name string, g ConvGeom) *Pool2D {
	return &Pool2D{base: newBase("avgpool:" + name), Geom: g}
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
	return tensor.Shape{xs[0], xs[1], op.Geom.OutSize(xs[2]), op.Geom.OutSize(xs[3])}, nil
}

func (op *Pool2D) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	B, C, H, W := ss[0][0], ss[0][1], ss[0][2], ss[0][3]
	K, S, P := op.Geom.Kernel, op.Geom.Stride, op.Geom.Pad
	OH, OW := op.Geom.OutSize(H), op.Geom.OutSize(W)
	out := op.out.get(B, C, OH, OW)
	y := out.Data().([]float32)
	if op.Max {
		op.argmax = grow(op.argmax, len(y))
	}
	inv := 1 / float32(K*K)
	if op.ReLU {
		if !op.Max || K != 2 || S != 2 || P != 0 {
			return nil, fmt.Errorf("%s: a ReLU inside pooling needs 2×2 stride-2 max pooling", op.name)
		}
		// max(relu(window)) = relu(max(window)): pool, then clamp the
		// (four times fewer) outputs. Where the arg-max is negative the
		// output is 0 and its gradient masked, so which one it is does not
		// matter.
		parallelCost(B*C, H*W, func(_, lo, hi int) {
			yc := y[lo*OH*OW : hi*OH*OW]
			maxPool2x2(x[lo*H*W:hi*H*W], yc, op.argmax[lo*OH*OW:hi*OH*OW], hi-lo, H, W, OH, OW)
			affine(yc, yc, 1, 0, true)
		})
		return out, nil
	}
	if op.Max && K == 2 && S == 2 && P == 0 {
		parallelCost(B*C, H*W, func(_, lo, hi int) {
			maxPool2x2(x[lo*H*W:hi*H*W], y[lo*OH*OW:hi*OH*OW], op.argmax[lo*OH*OW:hi*OH*OW], hi-lo, H, W, OH, OW)
		})
		return out, nil
	}
	parallelCost(B*C, H*W*K*K/max(1, S*S), func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*H*W : (p+1)*H*W]
			yp := y[p*OH*OW : (p+1)*OH*OW]
			for oy := range OH {
				y0, y1 := max(oy*S-P, 0), min(oy*S-P+K, H)
				for ox := range OW {
					x0, x1 := max(ox*S-P, 0), min(ox*S-P+K, W)
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
					yp[oy*OW+ox] = s * inv
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
	K, S, P := op.fwd.Geom.Kernel, op.fwd.Geom.Stride, op.fwd.Geom.Pad
	if op.fwd.Max && len(op.fwd.argmax) != len(dy) {
		return nil, fmt.Errorf("%s: forward pass has not run", op.name)
	}
	out := op.out.get(B, C, H, W)
	dx := out.Data().([]float32)
	inv := 1 / float32(K*K)
	if op.fwd.ReLU {
		// The ReLU's gradient first: zero where the pooled output is 0.
		op.masked = grow(op.masked, len(dy))
		y := op.fwd.out.t.Data().([]float32)
		parallelCost(len(dy), 1, func(_, lo, hi int) { reluGrad(y[lo:hi], dy[lo:hi], op.masked[lo:hi]) })
		dy = op.masked
	}
	if op.fwd.Max && K == 2 && S == 2 && P == 0 {
		parallelCost(B*C, H*W, func(_, lo, hi int) {
			maxPool2x2Grad(dy[lo*OH*OW:hi*OH*OW], op.fwd.argmax[lo*OH*OW:hi*OH*OW], dx[lo*H*W:hi*H*W], hi-lo, H, W, OH, OW)
		})
		return out, nil
	}
	parallelCost(B*C, H*W, func(_, lo, hi int) {
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
				y0, y1 := max(oy*S-P, 0), min(oy*S-P+K, H)
				for ox := range OW {
					x0, x1 := max(ox*S-P, 0), min(ox*S-P+K, W)
					g := dyp[oy*OW+ox] * inv
					for iy := y0; iy < y1; iy++ {
						row := dxp[iy*W+x0 : iy*W+x1]
						for i := range row {
							row[i] += g
						}
					}
				}
			}
		}
	})
	return out, nil
}

// maxPool2x2Grad routes the gradient dy of planes pooled by maxPool2x2
// back: dx (planes × h×w) is dy at each window's arg-max and zero elsewhere.
var maxPool2x2Grad = maxPool2x2GradGo

func maxPool2x2GradGo(dy []float32, argmax []int32, dx []float32, planes, h, w, oh, ow int) {
	for p := range planes {
		dxp := dx[p*h*w : (p+1)*h*w]
		clear(dxp)
		for i, g := range dy[p*oh*ow : (p+1)*oh*ow] {
			dxp[argmax[p*oh*ow+i]] += g
		}
	}
}

// maxPool2x2Affine is maxPool2x2 of one plane mapped first by
// max(x·scale + shift, 0), exactly as affine maps it: a batch norm and ReLU
// pooled without their output being written.
var maxPool2x2Affine = maxPool2x2AffineGo

func maxPool2x2AffineGo(x, y []float32, argmax []int32, h, w, oh, ow int, scale, shift float32) {
	f := func(i int) float32 { return max(x[i]*scale+shift, 0) }
	for oy := range oh {
		for ox := range ow {
			maxWindow(f, 2*oy*w+2*ox, w, &y[oy*ow+ox], &argmax[oy*ow+ox])
		}
	}
}

// maxWindow pools the 2×2 window whose top-left value is f(at), picking the
// first position of the maximum as maxPoolRowGo does.
func maxWindow(f func(int) float32, at, w int, y *float32, am *int32) {
	best, pos := f(at), at
	for _, i := range [3]int{at + 1, at + w, at + w + 1} {
		if v := f(i); v > best {
			best, pos = v, i
		}
	}
	*y, *am = best, int32(pos)
}

// maxPool2x2 is the common 2×2, stride-2, unpadded max pooling of planes
// (h×w each, pooled to oh×ow), with the arg-max of each window as an index
// into its plane.
var maxPool2x2 = maxPool2x2Go

func maxPool2x2Go(x, y []float32, argmax []int32, planes, h, w, oh, ow int) {
	for p := range planes {
		xp, yp, ap := x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], argmax[p*oh*ow:(p+1)*oh*ow]
		for oy := range oh {
			maxPoolRowGo(xp[2*oy*w:2*oy*w+2*ow], xp[(2*oy+1)*w:(2*oy+1)*w+2*ow], yp[oy*ow:(oy+1)*ow], ap[oy*ow:(oy+1)*ow], int32(2*oy*w), w)
		}
	}
}

// maxPoolRowGo pools one output row from input rows r0 and r1; base is the
// plane index of r0[0].
func maxPoolRowGo(r0, r1, yr []float32, ar []int32, base int32, w int) {
	for ox := range yr {
		i := 2 * ox
		// Conditional moves rather than branches: which input wins is
		// data-dependent and would mispredict.
		best, at := r0[i], int32(0)
		if v := r0[i+1]; v > best {
			at = 1
		}
		best = max(best, r0[i+1])
		if v := r1[i]; v > best {
			at = int32(w)
		}
		best = max(best, r1[i])
		if v := r1[i+1]; v > best {
			at = int32(w + 1)
		}
		best = max(best, r1[i+1])
		yr[ox], ar[ox] = best, base+int32(i)+at
	}
}
