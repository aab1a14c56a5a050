package ops

import (
	"fmt"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
)

// Dropout zeroes each element with probability Rate and scales the rest by
// 1/(1−Rate) (inverted dropout), so inference graphs simply omit it. The mask
// comes from Rand, which the caller seeds and checkpoints, so runs repeat.
type Dropout struct {
	base
	Rate float32
	Rand *rand.Rand

	dims int
	mask []float32 // 0 or 1/(1−Rate) per element
	out  buffer
}

func NewDropout(name string, rate float32, rng *rand.Rand) *Dropout {
	return &Dropout{base: newBase("dropout:" + name), Rate: rate, Rand: rng}
}

func (op *Dropout) Apply(x *G.Node) (*G.Node, error) {
	op.dims = x.Dims()
	return G.ApplyOp(op, x)
}

func (op *Dropout) Arity() int    { return 1 }
func (op *Dropout) Type() hm.Type { return fnType(op.dims, op.dims) }
func (op *Dropout) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	return s.Clone(), err
}

func (op *Dropout) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	op.mask = scratch.Grow(op.mask, len(x))
	keep := 1 / (1 - op.Rate)
	// The mask is drawn serially: one stream, independent of worker count.
	for i := range op.mask {
		if op.Rand.Float32() < op.Rate {
			op.mask[i] = 0
		} else {
			op.mask[i] = keep
		}
	}
	out := op.out.get(ss[0]...)
	y := out.Data().([]float32)
	for i, v := range x {
		y[i] = v * op.mask[i]
	}
	return out, nil
}

func (op *Dropout) DiffWRT(int) []bool { return []bool{true} }

func (op *Dropout) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&dropoutGrad{gradBase: newGradBase(op.name + ".dX"), fwd: op}, grad)
	return G.Nodes{dx}, err
}

type dropoutGrad struct {
	gradBase
	fwd *Dropout
	out buffer
}

func (op *dropoutGrad) Arity() int    { return 1 }
func (op *dropoutGrad) Type() hm.Type { return fnType(op.fwd.dims, op.fwd.dims) }
func (op *dropoutGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	return s.Clone(), err
}

func (op *dropoutGrad) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	dy := ds[0]
	if len(op.fwd.mask) != len(dy) {
		return nil, fmt.Errorf("%s: forward pass has not run", op.name)
	}
	out := op.out.get(ss[0]...)
	dx := out.Data().([]float32)
	for i, g := range dy {
		dx[i] = g * op.fwd.mask[i]
	}
	return out, nil
}
