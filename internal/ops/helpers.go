package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// grow returns s resized to n elements, reallocating only when it must.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

func sum(s []float32) float32 {
	var t float32
	for _, v := range s {
		t += v
	}
	return t
}

// reduceInto sets dst to the sum of nw per-worker partials laid out with
// stride apart in src (src[w*stride : w*stride+len(dst)]), in worker order.
func reduceInto(dst, src []float32, nw, stride int) {
	copy(dst, src[:len(dst)])
	for w := 1; w < nw; w++ {
		p := src[w*stride : w*stride+len(dst)]
		for i, v := range p {
			dst[i] += v
		}
	}
}

// sideOutput exposes a buffer that another op filled as a by-product (for
// example the bias gradient computed along with the weight gradient). Its
// input is that op's node, which orders it after the producer.
type sideOutput struct {
	base
	src   *buffer
	shape tensor.Shape
}

func newSideOutput(name string, src *buffer, shape tensor.Shape) *sideOutput {
	return &sideOutput{base: newBase(name), src: src, shape: shape.Clone()}
}

func (op *sideOutput) Arity() int         { return 1 }
func (op *sideOutput) Type() hm.Type      { return hm.NewFnType(hm.TypeVariable('a'), tt(len(op.shape))) }
func (op *sideOutput) DiffWRT(int) []bool { return []bool{false} }
func (op *sideOutput) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s: not differentiable", op.name)
}

func (op *sideOutput) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *sideOutput) Do(...G.Value) (G.Value, error) {
	if op.src.t == nil {
		return nil, fmt.Errorf("%s: producer has not run", op.name)
	}
	return op.src.t, nil
}
