package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Flatten views x (B,C,H,W) as (B,C·H·W) without copying; its gradient is
// the inverse view.
type Flatten struct {
	base
	inShape tensor.Shape
	view    view
}

func NewFlatten(name string) *Flatten { return &Flatten{base: newBase("flatten:" + name)} }

func (op *Flatten) Apply(x *G.Node) (*G.Node, error) { return G.ApplyOp(op, x) }
func (op *Flatten) Arity() int                       { return 1 }
func (op *Flatten) Type() hm.Type                    { return hm.NewFnType(hm.TypeVariable('a'), tt(2)) }

func (op *Flatten) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(xs) < 2 {
		return nil, fmt.Errorf("%s: input must have a batch dimension, got %v", op.name, xs)
	}
	op.inShape = xs.Clone()
	return tensor.Shape{xs[0], xs.TotalSize() / xs[0]}, nil
}

func (op *Flatten) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	return op.view.of(ds[0], ss[0][0], len(ds[0])/ss[0][0]), nil
}

func (op *Flatten) DiffWRT(int) []bool { return []bool{true} }

func (op *Flatten) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&unflatten{gradBase: newGradBase(op.name + ".dX"), fwd: op}, grad)
	return G.Nodes{dx}, err
}

type unflatten struct {
	gradBase
	fwd  *Flatten
	view view
}

func (op *unflatten) Arity() int    { return 1 }
func (op *unflatten) Type() hm.Type { return hm.NewFnType(tt(2), tt(len(op.fwd.inShape))) }
func (op *unflatten) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	s := op.fwd.inShape.Clone()
	s[0] = gs[0]
	return s, nil
}

func (op *unflatten) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	s := op.fwd.inShape.Clone()
	s[0] = ss[0][0]
	return op.view.of(ds[0], s...), nil
}

// view is a tensor header over another op's buffer, rebuilt only when that
// buffer or the shape changes.
type view struct {
	t *tensor.Dense
}

func (v *view) of(data []float32, shape ...int) *tensor.Dense {
	if v.t != nil && sameShape(v.t.Shape(), shape) {
		if d := v.t.Data().([]float32); len(d) == len(data) && &d[0] == &data[0] {
			return v.t
		}
	}
	v.t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	return v.t
}
