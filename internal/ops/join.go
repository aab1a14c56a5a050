package ops

import (
	"fmt"
	"strings"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// Add is y = x₁ + x₂ + …, the join of a residual connection: every input
// has the same shape, and each receives the output's gradient unchanged.
// With ReLU set it is y = max(x₁ + x₂ + …, 0), a ResNet block's last two
// steps, and each input receives dy where y > 0.
type Add struct {
	base
	n, dims int
	ReLU    bool // the ReLU after the sum runs inside it (see WithReLU)
	out     buffer
}

func NewAdd(name string) *Add { return &Add{base: newBase("add:" + name)} }

// NewSum is an Add of n inputs outside any graph's layers: the model's
// runner sums a value's gradients with it where G.Grad would use
// Gorgonia's element-wise addition (scalar, on one core).
func NewSum(name string, n int) *Add { return &Add{base: newBase("sum:" + name), n: n} }

// WithReLU makes the op apply a ReLU to the sum, in the same pass: the
// activation never reads the sum back from memory, and the op's one
// gradient is the ReLU's.
func (op *Add) WithReLU() *Add {
	op.ReLU = true
	op.name = "add_relu:" + strings.TrimPrefix(op.name, "add:")
	return op
}

// Apply adds the op to the graph over two or more inputs.
func (op *Add) Apply(xs ...*G.Node) (*G.Node, error) {
	if len(xs) < 2 {
		return nil, fmt.Errorf("%s: needs two or more inputs", op.name)
	}
	op.n, op.dims = len(xs), xs[0].Dims()
	return G.ApplyOp(op, xs...)
}

func (op *Add) Arity() int { return op.n }

func (op *Add) Type() hm.Type {
	ds := make([]int, op.n)
	for i := range ds {
		ds[i] = op.dims
	}
	return fnType(op.dims, ds...)
}

func (op *Add) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	first, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(in); i++ {
		s, err := shapeOf(in[i])
		if err != nil {
			return nil, err
		}
		if !s.Eq(first) {
			return nil, fmt.Errorf("%s: input %d has shape %v, input 0 has %v", op.name, i, s, first)
		}
	}
	return first.Clone(), nil
}

func (op *Add) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, op.n, vs)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ss); i++ {
		if !ss[i].Eq(ss[0]) {
			return nil, fmt.Errorf("%s: input %d has shape %v, input 0 has %v", op.name, i, ss[i], ss[0])
		}
	}
	out := op.out.get(ss[0]...)
	y := out.Data().([]float32)
	parallel.ForCost(len(y), op.n+1, func(_, lo, hi int) {
		// In blocks that stay in L1, so that the ReLU (and a third
		// input's sum) reads what the first sum has just written.
		for b := lo; b < hi; b += addBlock {
			e := min(b+addBlock, hi)
			vec.Axpby(ds[0][b:e], ds[1][b:e], y[b:e], 1, 1, 0) // x₀ + x₁, rounded once
			for _, x := range ds[2:] {
				vec.Axpby(y[b:e], x[b:e], y[b:e], 1, 1, 0)
			}
			if op.ReLU {
				vec.Affine(y[b:e], y[b:e], 1, 0, true)
			}
		}
	})
	return out, nil
}

// addBlock is the floats of a block of Add's outputs: 8 KB, a sixth of L1.
const addBlock = 2048

func (op *Add) DiffWRT(n int) []bool {
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	return r
}

func (op *Add) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.ReLU {
		relu := &Activation{base: op.base, Kind: ReLU, dims: op.dims}
		dz, err := relu.SymDiff(nil, output, grad)
		if err != nil {
			return nil, err
		}
		grad = dz[0]
	}
	gs := make(G.Nodes, len(in))
	for i := range gs {
		gs[i] = grad
	}
	return gs, nil
}

// Concat joins (B,Cᵢ,H,W) inputs — or (B,Cᵢ) ones — along the channels,
// as Inception's branches are joined; input i's gradient is its slice of
// the output's.
type Concat struct {
	base
	n, dims int
	chans   []int // Cᵢ, recorded by InferShape
	out     buffer
}

func NewConcat(name string) *Concat { return &Concat{base: newBase("concat:" + name)} }

// Apply adds the op to the graph over two or more inputs.
func (op *Concat) Apply(xs ...*G.Node) (*G.Node, error) {
	if len(xs) < 2 {
		return nil, fmt.Errorf("%s: needs two or more inputs", op.name)
	}
	op.n, op.dims = len(xs), xs[0].Dims()
	return G.ApplyOp(op, xs...)
}

func (op *Concat) Arity() int    { return op.n }
func (op *Concat) Type() hm.Type { return (&Add{n: op.n, dims: op.dims}).Type() }

func (op *Concat) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	op.chans = op.chans[:0]
	var out tensor.Shape
	for i := range in {
		s, err := shapeOf(in[i])
		if err != nil {
			return nil, err
		}
		if len(s) < 2 {
			return nil, fmt.Errorf("%s: input %d has shape %v", op.name, i, s)
		}
		if i == 0 {
			out = s.Clone()
		} else {
			rest, want := s.Clone(), out.Clone()
			rest[1], want[1] = 0, 0
			if !rest.Eq(want) {
				return nil, fmt.Errorf("%s: input %d has shape %v, input 0 has %v: only the channels may differ", op.name, i, s, in[0])
			}
			out[1] += s[1]
		}
		op.chans = append(op.chans, s[1])
	}
	return out, nil
}

// planeSize is the size of one channel: H·W, or 1 for (B,C) inputs.
func planeSize(s tensor.Shape) int { return s.TotalSize() / (s[0] * s[1]) }

func (op *Concat) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, op.n, vs)
	if err != nil {
		return nil, err
	}
	B, P := ss[0][0], planeSize(ss[0])
	total := 0
	for _, s := range ss {
		total += s[1]
	}
	shape := ss[0].Clone()
	shape[1] = total
	out := op.out.get(shape...)
	y := out.Data().([]float32)
	parallel.ForCost(B, total*P, func(_, lo, hi int) {
		for b := lo; b < hi; b++ {
			off := b * total * P
			for i, x := range ds {
				n := ss[i][1] * P
				vec.CopySpan(y[off:off+n], x[b*n:(b+1)*n])
				off += n
			}
		}
	})
	return out, nil
}

func (op *Concat) DiffWRT(n int) []bool { return (&Add{}).DiffWRT(n) }

func (op *Concat) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	gs := make(G.Nodes, len(in))
	for i := range in {
		g := &concatGrad{gradBase: newGradBase(fmt.Sprintf("%s.d%d", op.name, i)), fwd: op, i: i, dims: op.dims}
		var err error
		if gs[i], err = G.ApplyOp(g, grad); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// concatGrad cuts input i's channels out of the output's gradient.
type concatGrad struct {
	gradBase
	fwd     *Concat
	i, dims int
	out     buffer
}

func (op *concatGrad) Arity() int    { return 1 }
func (op *concatGrad) Type() hm.Type { return fnType(op.dims, op.dims) }

func (op *concatGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	s := gs.Clone()
	s[1] = op.fwd.chans[op.i]
	return s, nil
}

func (op *concatGrad) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 1, vs)
	if err != nil {
		return nil, err
	}
	dy := ds[0]
	B, total, P := ss[0][0], ss[0][1], planeSize(ss[0])
	before := 0
	for _, c := range op.fwd.chans[:op.i] {
		before += c
	}
	s := ss[0].Clone()
	s[1] = op.fwd.chans[op.i]
	out := op.out.get(s...)
	dx := out.Data().([]float32)
	n := s[1] * P
	parallel.ForCost(B, n, func(_, lo, hi int) {
		for b := lo; b < hi; b++ {
			vec.CopySpan(dx[b*n:(b+1)*n], dy[(b*total+before)*P:])
		}
	})
	return out, nil
}
