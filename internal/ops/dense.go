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

// Dense is y = x·wᵀ + b for x (B,In), w (Out,In) — PyTorch's Linear layout —
// and b (Out).
type Dense struct {
	base
	InputDiff bool
	Frozen    bool // no weight gradients (a frozen layer)
	// FixedParams says the weights do not change while the graph lives
	// (predict, serve): the GEMM's packed wᵀ is kept from the first pass.
	FixedParams bool
	out         buffer
	wt          gemm.PackedB
	wtOnce      packOnce
}

func NewDense(name string, inputDiff bool) *Dense {
	return &Dense{base: newBase("dense:" + name), InputDiff: inputDiff}
}

func (op *Dense) Apply(x, w, b *G.Node) (*G.Node, error) { return G.ApplyOp(op, x, w, b) }
func (op *Dense) Arity() int                             { return 3 }
func (op *Dense) Type() hm.Type                          { return fnType(2, 2, 2, 1) }

func (op *Dense) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ws, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		return nil, fmt.Errorf("%s: input %v and weight %v do not fit", op.name, xs, ws)
	}
	return tensor.Shape{xs[0], ws[0]}, nil
}

func (op *Dense) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	x, w, b := ds[0], ds[1], ds[2]
	B, In, Out := ss[0][0], ss[0][1], ss[1][0]
	out := op.out.get(B, Out)
	y := out.Data().([]float32)
	if B <= 4 {
		// A few rows: dot products straight off the weight rows, without
		// packing the (large) weight matrix for a GEMM.
		// A block of weight rows stays in L1 while each input row takes it.
		const block = 8
		parallel.ForCost(Out, B*In, func(_, lo, hi int) {
			for o0 := lo; o0 < hi; o0 += block {
				o1 := min(o0+block, hi)
				for i := range B {
					yi := y[i*Out+o0 : i*Out+o1]
					gemm.DotRows(yi, x[i*In:(i+1)*In], w[o0*In:], In)
					vec.AddSpan(yi, b[o0:o1])
				}
			}
		})
		return out, nil
	}
	if Out < gemm.TileCols() {
		// Fewer outputs than one GEMM tile is wide (the logits layer): dot
		// products too, the batch rows shared out (a tile would be mostly
		// padding, and one worker's).
		parallel.ForCost(B, Out*In, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				xi := x[i*In : (i+1)*In]
				for o := range Out {
					y[i*Out+o] = b[o] + gemm.Dot(xi, w[o*In:(o+1)*In])
				}
			}
		})
		return out, nil
	}
	for i := range B {
		copy(y[i*Out:(i+1)*Out], b)
	}
	if op.FixedParams {
		if op.wtOnce.due(true) {
			op.wt.Pack(true, In, Out, w, In)
		}
		parallelCols(Out, func(lo, hi int) {
			gemm.SgemmPackedB(B, x, In, &op.wt, lo, hi, 1, y[lo:], Out)
		})
		return out, nil
	}
	// Split the output columns, so each worker packs only its own rows of
	// the (large) weight matrix.
	parallelCols(Out, func(lo, hi int) {
		gemm.Sgemm(false, true, B, hi-lo, In, 1, x, In, w[lo*In:], In, 1, y[lo:], Out)
	})
	return out, nil
}

func (op *Dense) DiffWRT(int) []bool { return []bool{op.InputDiff, !op.Frozen, !op.Frozen} }

func (op *Dense) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, 3)
	var err error
	if !op.Frozen {
		gw := &denseGradWeight{gradBase: newGradBase(op.name + ".dW")}
		if err = weightGrads(res, op.name, &gw.db, in[1].Shape()[0], gw, in[0], grad); err != nil {
			return nil, err
		}
	}
	if op.InputDiff {
		if res[0], err = G.ApplyOp(&denseGradInput{gradBase: newGradBase(op.name + ".dX")}, in[1], grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// denseGradWeight computes dW = dyᵀ·x (Out×In) and db = Σ_b dy. The rows of
// dW are split across workers, so there is nothing to reduce.
type denseGradWeight struct {
	gradBase
	out, db buffer
}

func (op *denseGradWeight) Arity() int    { return 2 }
func (op *denseGradWeight) Type() hm.Type { return fnType(2, 2, 2) }
func (op *denseGradWeight) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, gs, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{gs[1], xs[1]}, nil
}

func (op *denseGradWeight) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	x, dy := ds[0], ds[1]
	B, In, Out := ss[0][0], ss[0][1], ss[1][1]
	out := op.out.get(Out, In)
	dw := out.Data().([]float32)
	db := op.db.get(Out).Data().([]float32)
	parallel.For(Out, func(_, lo, hi int) {
		// dW[lo:hi] = dy[:, lo:hi]ᵀ · x
		gemm.Sgemm(true, false, hi-lo, In, B, 1, dy[lo:], Out, x, In, 0, dw[lo*In:hi*In], In)
		for o := lo; o < hi; o++ {
			var s float32
			for b := range B {
				s += dy[b*Out+o]
			}
			db[o] = s
		}
	})
	return out, nil
}

// denseGradInput computes dx = dy·w (B×In).
type denseGradInput struct {
	gradBase
	out buffer
}

func (op *denseGradInput) Arity() int    { return 2 }
func (op *denseGradInput) Type() hm.Type { return fnType(2, 2, 2) }
func (op *denseGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ws, gs, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{gs[0], ws[1]}, nil
}

func (op *denseGradInput) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	w, dy := ds[0], ds[1]
	B, Out, In := ss[1][0], ss[1][1], ss[0][1]
	out := op.out.get(B, In)
	dx := out.Data().([]float32)
	parallelCols(In, func(lo, hi int) {
		gemm.Sgemm(false, false, B, hi-lo, Out, 1, dy, Out, w[lo:], In, 0, dx[lo:], In)
	})
	return out, nil
}
