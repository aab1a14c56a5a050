package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// ActKind names an element-wise activation.
type ActKind int

const (
	ReLU ActKind = iota
	LeakyReLU
	Sigmoid
	Tanh
)

func (k ActKind) String() string {
	return [...]string{"relu", "leaky_relu", "sigmoid", "tanh"}[k]
}

// Activation applies an element-wise nonlinearity. Each of these has a
// derivative that is a function of the output alone, so the backward op
// needs only y and dy (and x can be freed early).
type Activation struct {
	base
	Kind  ActKind
	Alpha float32 // negative slope of leaky_relu, > 0
	dims  int
	out   buffer
}

func NewActivation(name string, kind ActKind, alpha float32) *Activation {
	return &Activation{base: newBase(kind.String() + ":" + name), Kind: kind, Alpha: alpha}
}

func (op *Activation) Apply(x *G.Node) (*G.Node, error) {
	op.dims = x.Dims()
	return G.ApplyOp(op, x)
}

func (op *Activation) Arity() int    { return 1 }
func (op *Activation) Type() hm.Type { return fnType(op.dims, op.dims) }
func (op *Activation) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	return s.Clone(), err
}

func (op *Activation) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	out := op.out.get(ss[0]...)
	y := out.Data().([]float32)
	parallel.ForCost(len(x), 1, func(_, lo, hi int) { op.forward(x[lo:hi], y[lo:hi]) })
	return out, nil
}

func (op *Activation) forward(x, y []float32) {
	switch op.Kind {
	case ReLU:
		vec.Affine(x, y, 1, 0, true) // max(x·1 + 0, 0): vectorised where the CPU can
	case LeakyReLU:
		for i, v := range x {
			if v < 0 {
				v *= op.Alpha
			}
			y[i] = v
		}
	case Sigmoid:
		for i, v := range x {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case Tanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	}
}

func (op *Activation) DiffWRT(int) []bool { return []bool{true} }

func (op *Activation) SymDiff(_ G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := &activationGrad{gradBase: newGradBase(op.name + ".dX"), fwd: op, n: 2}
	args := []*G.Node{output, grad}
	if terms := GradSumTerms(grad); op.Kind == ReLU && terms != nil {
		// y has two consumers (a ResNet block's output): sum their
		// gradients inside the mask's pass rather than in a pass of their
		// own (the sum G.Grad made is then left unused).
		g.n = 3
		args = append(args[:1], terms...)
	}
	dx, err := G.ApplyOp(g, args...)
	return G.Nodes{dx}, err
}

// activationGrad computes dx = f'(x)·dy from y = f(x), with dy given as
// one tensor or (ReLU) as the sum of two.
type activationGrad struct {
	gradBase
	fwd *Activation
	n   int // inputs: y and dy, or y and dy's two terms
	out buffer
}

func (op *activationGrad) Arity() int { return op.n }
func (op *activationGrad) Type() hm.Type {
	d := op.fwd.dims
	if op.n == 3 {
		return fnType(d, d, d, d)
	}
	return fnType(d, d, d)
}
func (op *activationGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	return s.Clone(), err
}

func (op *activationGrad) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, op.n, vs)
	if err != nil {
		return nil, err
	}
	y, dy := ds[0], ds[1]
	out := op.out.get(ss[0]...)
	dx := out.Data().([]float32)
	if op.n == 3 {
		if !ss[1].Eq(ss[0]) || !ss[2].Eq(ss[0]) {
			return nil, fmt.Errorf("%s: gradients of shapes %v and %v for an output of %v", op.name, ss[1], ss[2], ss[0])
		}
		parallel.ForCost(len(y), 3, func(_, lo, hi int) {
			for b := lo; b < hi; b += addBlock { // the mask reads the sum from L1
				e := min(b+addBlock, hi)
				vec.Axpby(dy[b:e], ds[2][b:e], dx[b:e], 1, 1, 0)
				vec.ReluGrad(y[b:e], dx[b:e], dx[b:e])
			}
		})
		return out, nil
	}
	alpha := op.fwd.Alpha
	parallel.ForCost(len(y), 1, func(_, lo, hi int) {
		switch op.fwd.Kind {
		case ReLU:
			vec.ReluGrad(y[lo:hi], dy[lo:hi], dx[lo:hi])
		case LeakyReLU:
			for i := lo; i < hi; i++ {
				if y[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = alpha * dy[i]
				}
			}
		case Sigmoid:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * y[i] * (1 - y[i])
			}
		case Tanh:
			for i := lo; i < hi; i++ {
				dx[i] = dy[i] * (1 - y[i]*y[i])
			}
		}
	})
	return out, nil
}
