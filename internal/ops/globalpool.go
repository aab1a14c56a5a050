package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// GlobalPool reduces each channel of x (B,C,H,W) to one value, its mean or
// its maximum, giving (B,C): Network-in-Network's replacement for dense
// layers, and ResNet's last pooling.
type GlobalPool struct {
	base
	Max bool

	inShape tensor.Shape
	argmax  []int32 // per output: index into its plane (max only)
	out     buffer
}

func NewGlobalPool(name string, isMax bool) *GlobalPool {
	kind := "global_avgpool:"
	if isMax {
		kind = "global_maxpool:"
	}
	return &GlobalPool{base: newBase(kind + name), Max: isMax}
}

func (op *GlobalPool) Apply(x *G.Node) (*G.Node, error) { return G.ApplyOp(op, x) }
func (op *GlobalPool) Arity() int                       { return 1 }
func (op *GlobalPool) Type() hm.Type                    { return fnType(2, 4) }

func (op *GlobalPool) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 {
		return nil, fmt.Errorf("%s: input must be (B,C,H,W), got %v", op.name, xs)
	}
	op.inShape = xs.Clone()
	return tensor.Shape{xs[0], xs[1]}, nil
}

func (op *GlobalPool) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	B, C, P := ss[0][0], ss[0][1], ss[0][2]*ss[0][3]
	out := op.out.get(B, C)
	y := out.Data().([]float32)
	if op.Max {
		op.argmax = scratch.Grow(op.argmax, B*C)
	}
	inv := 1 / float32(P)
	parallel.ForCost(B*C, P, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			xp := x[i*P : (i+1)*P]
			if !op.Max {
				y[i] = vec.Sum(xp) * inv
				continue
			}
			best, at := xp[0], 0
			for j, v := range xp {
				if v > best {
					best, at = v, j
				}
			}
			y[i], op.argmax[i] = best, int32(at)
		}
	})
	return out, nil
}

func (op *GlobalPool) DiffWRT(int) []bool { return []bool{true} }

func (op *GlobalPool) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&globalPoolGrad{gradBase: newGradBase(op.name + ".dX"), fwd: op}, grad)
	return G.Nodes{dx}, err
}

// globalPoolGrad spreads each channel's gradient evenly over its plane
// (average) or puts it on the arg-max (max).
type globalPoolGrad struct {
	gradBase
	fwd *GlobalPool
	out buffer
}

func (op *globalPoolGrad) Arity() int    { return 1 }
func (op *globalPoolGrad) Type() hm.Type { return fnType(4, 2) }

func (op *globalPoolGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	s := op.fwd.inShape.Clone()
	s[0] = gs[0]
	return s, nil
}

func (op *globalPoolGrad) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	dy := ds[0]
	s := op.fwd.inShape.Clone()
	s[0] = ss[0][0]
	P := s[2] * s[3]
	out := op.out.get(s...)
	dx := out.Data().([]float32)
	inv := 1 / float32(P)
	parallel.ForCost(len(dy), P, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			dxp := dx[i*P : (i+1)*P]
			if op.fwd.Max {
				clear(dxp)
				dxp[op.fwd.argmax[i]] = dy[i]
				continue
			}
			vec.Fill(dxp, dy[i]*inv)
		}
	})
	return out, nil
}
