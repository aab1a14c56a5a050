package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// reduceInto sets dst to the sum of nw per-worker partials laid out with
// stride apart in src (src[w*stride : w*stride+len(dst)]), in worker order.
func reduceInto(dst, src []float32, nw, stride int) {
	// Element by element, in worker order: the same sums however the
	// elements are shared out.
	parallel.ForCost(len(dst), nw, func(_, lo, hi int) {
		copy(dst[lo:hi], src[lo:hi])
		for w := 1; w < nw; w++ {
			vec.AddSpan(dst[lo:hi], src[w*stride+lo:w*stride+hi])
		}
	})
}

// sideOutput exposes a buffer that another op filled as a by-product (for
// example the bias gradient computed along with the weight gradient). Its
// input is that op's node, which orders it after the producer.
type sideOutput struct {
	gradBase
	src   *buffer
	shape tensor.Shape
}

func newSideOutput(name string, src *buffer, shape tensor.Shape) *sideOutput {
	return &sideOutput{gradBase: newGradBase(name), src: src, shape: shape.Clone()}
}

func (op *sideOutput) Arity() int    { return 1 }
func (op *sideOutput) Type() hm.Type { return hm.NewFnType(hm.TypeVariable('a'), tt(len(op.shape))) }

func (op *sideOutput) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *sideOutput) Do(...G.Value) (G.Value, error) {
	if op.src.t == nil {
		return nil, fmt.Errorf("%s: producer has not run", op.name)
	}
	return op.src.t, nil
}

// The reductions below keep four independent partial sums: a single running
// sum is bound by the latency of floating-point addition, not its throughput.

// parallelCols splits n matrix columns between the workers in multiples of
// the GEMM tile width, so no tile straddles two workers.
func parallelCols(n int, fn func(lo, hi int)) {
	nr := gemm.TileCols()
	tiles := (n + nr - 1) / nr
	parallel.For(tiles, func(_, lo, hi int) {
		fn(lo*nr, min(hi*nr, n))
	})
}

// packOnce says whether an op packs its parameters on this pass: always,
// unless they are fixed (FixedParams at inference) and already packed.
type packOnce struct{ done bool }

func (p *packOnce) due(fixed bool) bool {
	if fixed && p.done {
		return false
	}
	p.done = true
	return true
}

// IsGradSum says whether op is Gorgonia's element-wise addition: what
// G.Grad sums a value's gradients with where the value has several
// consumers (a residual block's input, an Inception module's).
func IsGradSum(op G.Op) bool {
	_, binary := op.(G.BinaryOp)
	return binary && op.String() == "+ false"
}

// GradSumTerms returns the two gradients that n sums, if n is such a sum
// of float32 tensors, or nil.
func GradSumTerms(n *G.Node) []*G.Node {
	if n.Op() == nil || !IsGradSum(n.Op()) || n.Dtype() != tensor.Float32 || n.IsScalar() {
		return nil
	}
	var terms []*G.Node
	for it := n.Graph().From(n.ID()); it.Next(); {
		terms = append(terms, it.Node().(*G.Node))
	}
	if len(terms) != 2 || !terms[0].Shape().Eq(terms[1].Shape()) {
		return nil
	}
	return terms
}
