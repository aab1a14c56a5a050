package ops

import (
	"fmt"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// View sees x (B, …) as (B, Per…) without copying; its gradient is the
// inverse view. Flatten (Per nil) gives (B, size/B): C×H×W → C·H·W. A 1-D
// layer views its [B,C,L] input as [B,C,1,L] to run the 2-D op, whose fast
// paths then serve signals too.
type View struct {
	base
	Per     []int // the per-example shape; nil flattens
	inShape tensor.Shape
	view    view
}

// NewFlatten views (B,C,H,W) as (B,C·H·W).
func NewFlatten(name string) *View { return &View{base: newBase("flatten:" + name)} }

// NewView views (B, …) as (B, per…); per must hold as many values.
func NewView(name string, per ...int) *View {
	return &View{base: newBase("view:" + name), Per: slices.Clone(per)}
}

func (op *View) Apply(x *G.Node) (*G.Node, error) { return G.ApplyOp(op, x) }
func (op *View) Arity() int                       { return 1 }
func (op *View) Type() hm.Type {
	return hm.NewFnType(hm.TypeVariable('a'), tt(op.outDims()))
}

func (op *View) outDims() int {
	if op.Per == nil {
		return 2
	}
	return 1 + len(op.Per)
}

func (op *View) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(xs) < 2 {
		return nil, fmt.Errorf("%s: input must have a batch dimension, got %v", op.name, xs)
	}
	op.inShape = xs.Clone()
	return op.outShape(xs[0], xs.TotalSize()/xs[0])
}

func (op *View) outShape(batch, per int) (tensor.Shape, error) {
	if op.Per == nil {
		return tensor.Shape{batch, per}, nil
	}
	if n := tensor.Shape(op.Per).TotalSize(); n != per {
		return nil, fmt.Errorf("%s: cannot view %d values an example as %v", op.name, per, op.Per)
	}
	return append(tensor.Shape{batch}, op.Per...), nil
}

func (op *View) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	s, err := op.outShape(ss[0][0], len(ds[0])/ss[0][0])
	if err != nil {
		return nil, err
	}
	return op.view.of(ds[0], s...), nil
}

func (op *View) DiffWRT(int) []bool { return []bool{true} }

func (op *View) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	back := &View{base: newBase(op.name + ".dX"), Per: slices.Clone(op.inShape[1:])}
	dx, err := G.ApplyOp(&unview{back}, grad)
	return G.Nodes{dx}, err
}

// unview is a View that is a gradient (no second derivatives).
type unview struct{ *View }

func (op *unview) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *unview) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s: second derivatives are not supported", op.name)
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
