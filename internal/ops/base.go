package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
)

// opSeq numbers op instances. Gorgonia merges nodes whose ops hash equal and
// whose inputs are the same, so every instance gets a distinct identity.
var opSeq atomic.Uint64

// base holds the methods that are the same for every op in this package.
type base struct {
	name string
	id   uint64
}

func newBase(name string) base { return base{name: name, id: opSeq.Add(1)} }

func (b *base) ReturnsPtr() bool      { return false }
func (b *base) CallsExtern() bool     { return false }
func (b *base) OverwritesInput() int  { return -1 }
func (b *base) String() string        { return b.name }
func (b *base) WriteHash(h hash.Hash) { fmt.Fprintf(h, "cnnctl.%s#%d", b.name, b.id) }
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

// gradBase is the base of the gradient ops: they are not differentiated
// again (no second derivatives).
type gradBase struct{ base }

func newGradBase(name string) gradBase { return gradBase{newBase(name)} }

func (g *gradBase) DiffWRT(n int) []bool { return make([]bool, n) }
func (g *gradBase) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s: second derivatives are not supported", g.name)
}

// twoShapes reads the shapes of a two-input op's inputs.
func twoShapes(in []G.DimSizer) (a, b tensor.Shape, err error) {
	if a, err = shapeOf(in[0]); err != nil {
		return nil, nil, err
	}
	b, err = shapeOf(in[1])
	return a, b, err
}

// tt is the Gorgonia type of a float32 tensor with the given number of dims.
func tt(dims int) hm.Type { return G.TensorType{Dims: dims, Of: tensor.Float32} }

// fnType builds an op type from the input and output dimensionalities.
func fnType(out int, in ...int) hm.Type {
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, tt(d))
	}
	ts = append(ts, tt(out))
	return hm.NewFnType(ts...)
}

// buffer is a float32 tensor an op owns and hands out as its result each step.
type buffer struct{ t *tensor.Dense }

// get returns the buffer with the given shape, reallocating only when the
// shape changes (so steady-state steps allocate nothing).
func (b *buffer) get(shape ...int) *tensor.Dense {
	if b.t != nil && sameShape(b.t.Shape(), shape) {
		return b.t
	}
	b.t = tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	scratch.Allocs.Add(1)
	return b.t
}

func sameShape(s tensor.Shape, want []int) bool {
	if len(s) != len(want) {
		return false
	}
	for i := range s {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

// f32 returns the float32 data and shape of an op input.
func f32(v G.Value) ([]float32, tensor.Shape, error) {
	if d, ok := v.(*tensor.Dense); ok && d.Dtype() == tensor.Float32 && !d.IsScalar() {
		// The typed slice directly: Data() builds it through reflection,
		// with an allocation (~0.2 µs an input), on the serial path of
		// every op.
		return d.Float32s(), d.Shape(), nil
	}
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("expected float32 data, got %T", t.Data())
	}
	return d, t.Shape(), nil
}

// inputs extracts the float32 data of all op inputs, checking arity.
func inputs(name string, want int, vs []G.Value) ([][]float32, []tensor.Shape, error) {
	if len(vs) != want {
		return nil, nil, fmt.Errorf("%s: expected %d inputs, got %d", name, want, len(vs))
	}
	ds := make([][]float32, len(vs))
	ss := make([]tensor.Shape, len(vs))
	for i, v := range vs {
		d, s, err := f32(v)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: input %d: %w", name, i, err)
		}
		ds[i], ss[i] = d, s
	}
	return ds, ss, nil
}

// scalarF32 reads a float32 scalar value (a *G.F32 or a 0-d tensor).
func scalarF32(v G.Value) (float32, error) {
	switch s := v.(type) {
	case *G.F32:
		return float32(*s), nil
	case tensor.Tensor:
		if d, ok := s.Data().(float32); ok {
			return d, nil
		}
		if d, ok := s.Data().([]float32); ok && len(d) == 1 {
			return d[0], nil
		}
	}
	return 0, fmt.Errorf("expected a float32 scalar, got %T", v)
}

// shapeOf returns the shape of a graph input for InferShape.
func shapeOf(ds G.DimSizer) (tensor.Shape, error) {
	s, ok := ds.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("expected a shape, got %T", ds)
	}
	return s, nil
}
