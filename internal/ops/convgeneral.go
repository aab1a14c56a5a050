package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// ConvGeneral is the convolution of any geometry — rectangular kernels,
// strides and padding, dilation, groups (depthwise when groups = channels)
// — and, Transposed, its adjoint, the transposed convolution.
//
// Forward, x (B,C,H,W) and w (O, C/G, KH, KW) give y (B,O,OH,OW): for each
// image and group g, y_g = w_g · im2col(x_g) (+ b).
//
// Transposed, x (B,C,H,W) and w (C, O/G, KH, KW) — PyTorch's layout — give
// y (B,O,OH,OW) with OH = (H−1)·s − 2p + d·(KH−1) + output_padding + 1:
// y_g = col2im(w_gᵀ · x_g) (+ b), the gradient of a convolution with
// respect to its input. Both directions share the lowering below, with the
// roles of x and y swapped.
type ConvGeneral struct {
	base
	Geom        im2col.Geom
	Groups      int
	Transposed  bool
	OutPad      [2]int // transposed only: extra rows and columns at the bottom and right
	HasBias     bool
	InputDiff   bool
	Frozen      bool // no weight or bias gradients (a frozen layer)
	FixedParams bool // the filters do not change while the graph lives: packed once

	inShape  tensor.Shape
	training bool
	cols     []float32 // one lowered matrix per worker
	out      buffer
	packedW  packedFilters // ungrouped forward: the filters, packed once a call
	full     []float32     // with a PostBN, the depthwise path's whole output
	postSite               // inference: a batch norm run on each image's output
}

// NewConvGeneral makes the op; training says whether gradients will be taken.
func NewConvGeneral(name string, g im2col.Geom, groups int, transposed bool, outPad [2]int, hasBias, inputDiff, training bool) *ConvGeneral {
	kind := "conv2d:"
	if transposed {
		kind = "conv_transpose2d:"
	}
	return &ConvGeneral{base: newBase(kind + name), Geom: g, Groups: groups, Transposed: transposed, OutPad: outPad,
		HasBias: hasBias, InputDiff: inputDiff, training: training}
}

// Apply adds the op to the graph: x, w and (if HasBias) b.
func (op *ConvGeneral) Apply(x, w, b *G.Node) (*G.Node, error) {
	return applyConv(op, op.HasBias, x, w, b)
}
func (op *ConvGeneral) Arity() int    { return op.arity(convArity(op.HasBias)) }
func (op *ConvGeneral) Type() hm.Type { return op.typ(op.HasBias) }

// ApplyPost adds the op with its PostBN (set Post first): x, w, b (if
// HasBias), and the batch norm's γ and β.
func (op *ConvGeneral) ApplyPost(x, w, b, gamma, beta *G.Node) (*G.Node, error) {
	return op.apply(op, op.HasBias, x, w, b, gamma, beta)
}

// convGeneralDims are the sizes of one call: x is (B,C,H,W), y (B,O,OH,OW).
type convGeneralDims struct {
	B, C, H, W, O, OH, OW, G int
}

// lowering is the plane that is unrolled: x's for a convolution, y's for a
// transposed one (whose forward pass is a convolution's input gradient).
func (op *ConvGeneral) lowering(d convGeneralDims) im2col.Plane {
	if op.Transposed {
		return im2col.Plane{C: d.O, H: d.OH, W: d.OW, OH: d.H, OW: d.W, G: op.Geom}
	}
	return im2col.Plane{C: d.C, H: d.H, W: d.W, OH: d.OH, OW: d.OW, G: op.Geom}
}

func (op *ConvGeneral) dims(xs, ws tensor.Shape) (convGeneralDims, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return convGeneralDims{}, fmt.Errorf("%s: input %v and filter %v must be 4-D", op.name, xs, ws)
	}
	g := op.Geom
	d := convGeneralDims{B: xs[0], C: xs[1], H: xs[2], W: xs[3], G: op.Groups}
	if op.Transposed {
		if ws[0] != d.C || d.C%d.G != 0 {
			return d, fmt.Errorf("%s: input %v and filter %v do not fit (groups %d)", op.name, xs, ws, d.G)
		}
		d.O = ws[1] * d.G
		d.OH = im2col.TransposedOut(d.H, g.KH, g.SH, g.PH, g.DH, op.OutPad[0])
		d.OW = im2col.TransposedOut(d.W, g.KW, g.SW, g.PW, g.DW, op.OutPad[1])
	} else {
		if ws[1]*d.G != d.C || ws[0]%d.G != 0 {
			return d, fmt.Errorf("%s: input %v and filter %v do not fit (groups %d)", op.name, xs, ws, d.G)
		}
		d.O = ws[0]
		d.OH, d.OW = g.Out(d.H, d.W)
	}
	if d.OH < 1 || d.OW < 1 {
		return d, fmt.Errorf("%s: output of %v would be empty", op.name, xs)
	}
	return d, nil
}

func (op *ConvGeneral) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ws, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	d, err := op.dims(xs, ws)
	if err != nil {
		return nil, err
	}
	op.inShape = xs.Clone()
	return op.shape(tensor.Shape{d.B, d.O, d.OH, d.OW})
}

func (op *ConvGeneral) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	x, w := ds[0], ds[1]
	d, err := op.dims(ss[0], ss[1])
	if err != nil {
		return nil, err
	}
	oshape, err := op.begin(ds, tensor.Shape{d.B, d.O, d.OH, d.OW}, parallel.NumWorkers(d.B))
	if err != nil {
		return nil, err
	}
	out := op.out.get(oshape...)
	y := out.Data().([]float32) // with a PostBN, its output: each image's convolution is in scratch
	inImg, outImg, pix := d.C*d.H*d.W, d.O*d.OH*d.OW, d.OH*d.OW
	if dw, ok := depthwise(op, d); ok {
		var bias []float32
		if op.HasBias {
			bias = ds[2]
		}
		if op.Post == nil {
			op.dwForward(dw, x, w, bias, y)
			return out, nil
		}
		op.full = scratch.Grow(op.full, d.B*outImg)
		op.dwForward(dw, x, w, bias, op.full)
		op.finishAll(op.full, y, d.B)
		return out, nil
	}
	p := op.lowering(d)
	slab := p.Rows() * p.Pix()
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.B)*slab)
	cg, og := d.C/d.G, d.O/d.G
	// Ungrouped, the filters are packed once for every image, and each
	// output row starts at its bias (no pass to add it).
	packed := d.G == 1 && !op.Transposed
	windowMajor := packed && p.WindowMajor()
	if packed {
		var bias []float32
		if op.HasBias {
			bias = ds[2]
		}
		op.packedW.pack(op.training, op.FixedParams, d.O, cg*op.Geom.KH*op.Geom.KW, w, bias)
	}
	parallel.For(d.B, func(wk, lo, hi int) {
		col := op.cols[wk*slab : (wk+1)*slab]
		for b := lo; b < hi; b++ {
			xb, yb := x[b*inImg:(b+1)*inImg], op.image(y, wk, b, outImg)
			if packed && windowMajor {
				im2col.RowsT(xb, col, p)
				gemm.SgemmPacked(&op.packedW.PackedA, true, pix, col, p.Rows(), 0, yb, pix)
				op.done(wk, b, yb, y)
				continue
			}
			if packed {
				im2col.General(xb, col, p)
				gemm.SgemmPacked(&op.packedW.PackedA, false, pix, col, pix, 0, yb, pix)
				op.done(wk, b, yb, y)
				continue
			}
			if op.Transposed {
				// col_g = w_gᵀ · x_g, then scattered onto y.
				kk := og * op.Geom.KH * op.Geom.KW
				hw := d.H * d.W
				for g := range d.G {
					gemm.Sgemm(true, false, kk, hw, cg, 1, w[g*cg*kk:], kk, xb[g*cg*hw:], hw, 0, col[g*kk*hw:], hw)
				}
				clear(yb)
				im2col.GeneralAdjoint(col, yb, p)
			} else {
				kk := cg * op.Geom.KH * op.Geom.KW
				im2col.General(xb, col, p)
				for g := range d.G {
					gemm.Sgemm(false, false, og, pix, kk, 1, w[g*og*kk:], kk, col[g*kk*pix:], pix, 0, yb[g*og*pix:], pix)
				}
			}
			if op.HasBias {
				bias := ds[2]
				for o := range d.O {
					vec.Affine(yb[o*pix:(o+1)*pix], yb[o*pix:(o+1)*pix], 1, bias[o], false)
				}
			}
			op.done(wk, b, yb, y)
		}
	})
	return out, nil
}

func (op *ConvGeneral) DiffWRT(n int) []bool {
	r := []bool{op.InputDiff, !op.Frozen, !op.Frozen}
	return r[:n]
}

func (op *ConvGeneral) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("%s: built without gradient support", op.name)
	}
	res := make(G.Nodes, len(in))
	var err error
	if !op.Frozen {
		gw := &convGeneralGradW{gradBase: newGradBase(op.name + ".dW"), fwd: op}
		if err = weightGrads(res, op.name, &gw.db, output.Shape()[1], gw, in[0], in[1], grad); err != nil {
			return nil, err
		}
	}
	if op.InputDiff {
		gx := &convGeneralGradX{gradBase: newGradBase(op.name + ".dX"), fwd: op}
		if res[0], err = G.ApplyOp(gx, in[1], grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// convGeneralGradW computes dW (and db as a side output) from x, w (for
// its shape) and dy, one partial sum per worker.
type convGeneralGradW struct {
	gradBase
	fwd      *ConvGeneral
	out, db  buffer
	cols     []float32
	dyBlocks [][]float32 // 1-D: the images whose dy go side by side, per worker
	partial  []float32
}

func (op *convGeneralGradW) Arity() int    { return 3 }
func (op *convGeneralGradW) Type() hm.Type { return fnType(4, 4, 4, 4) }

func (op *convGeneralGradW) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ws, err := shapeOf(in[1])
	if err != nil {
		return nil, err
	}
	return ws.Clone(), nil
}

func (op *convGeneralGradW) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	x, dy := ds[0], ds[2]
	f := op.fwd
	d, err := f.dims(ss[0], ss[1])
	if err != nil {
		return nil, err
	}
	if dp, ok := depthwise(f, d); ok {
		out := op.out.get(ss[1]...)
		op.dwGradW(dp, x, dy, out.Data().([]float32), op.db.get(d.O).Data().([]float32))
		return out, nil
	}
	p := f.lowering(d)
	slab := p.Rows() * p.Pix()
	nw := parallel.NumWorkers(d.B)
	nW := len(ds[1])
	per := nW + d.O
	inImg, outImg, pix, hw := d.C*d.H*d.W, d.O*d.OH*d.OW, d.OH*d.OW, d.H*d.W
	// A 1-D convolution lowered tap by tap has a short product per image
	// (pix = its output length, 32–128 in the shipped configs) over the
	// same dW: q images side by side make one product a panel deep.
	q := 1
	rowsSideBySide := d.G == 1 && !f.Transposed && p.IsRow() && !p.WindowMajor()
	if rowsSideBySide {
		q = max(1, min(gemm.PanelDepth/pix, (d.B+nw-1)/nw))
		if len(op.dyBlocks) < nw*q {
			op.dyBlocks = make([][]float32, nw*q)
		}
	}
	op.cols = scratch.Grow(op.cols, nw*q*slab)
	op.partial = scratch.Grow(op.partial, nw*per)
	cg, og := d.C/d.G, d.O/d.G
	kh, kw := f.Geom.KH, f.Geom.KW
	parallel.For(d.B, func(wk, lo, hi int) {
		acc := op.partial[wk*per : (wk+1)*per]
		clear(acc)
		dw, db := acc[:nW], acc[nW:]
		col := op.cols[wk*q*slab : (wk+1)*q*slab]
		if rowsSideBySide {
			// dW += [dy_b …] · [col_b …]ᵀ over n ≤ q images at a time: the
			// GEMM packs dy's images where they lie; the lowered matrices
			// are written side by side, at stride n·pix.
			kk := d.C * kw
			dys := op.dyBlocks[wk*q : (wk+1)*q]
			for b0 := lo; b0 < hi; b0 += q {
				n := min(q, hi-b0)
				ld := n * pix
				for i := range n {
					b := b0 + i
					im2col.RowsStrided(x[b*inImg:(b+1)*inImg], col[i*pix:], ld, p)
					dys[i] = dy[b*outImg : (b+1)*outImg]
					vec.AddRowSums(db, dys[i], pix)
				}
				gemm.SgemmSideBySideA(d.O, kk, ld, dys[:n], pix, pix, true, col, ld, 1, dw, kk)
			}
			return
		}
		for b := lo; b < hi; b++ {
			xb, dyb := x[b*inImg:(b+1)*inImg], dy[b*outImg:(b+1)*outImg]
			vec.AddRowSums(db, dyb, pix)
			if f.Transposed {
				// w_g (cg × og·K) gets x_g · im2col(dy_g)ᵀ.
				kk := og * kh * kw
				im2col.General(dyb, col, p)
				for g := range d.G {
					gemm.Sgemm(false, true, cg, kk, hw, 1, xb[g*cg*hw:], hw, col[g*kk*hw:], hw, 1, dw[g*cg*kk:], kk)
				}
				continue
			}
			kk := cg * kh * kw
			if d.G == 1 && p.WindowMajor() {
				// dW += dy · (colᵀ), with colᵀ lowered window by window.
				im2col.RowsT(xb, col, p)
				gemm.Sgemm(false, false, og, kk, pix, 1, dyb, pix, col, kk, 1, dw, kk)
				continue
			}
			im2col.General(xb, col, p)
			for g := range d.G {
				gemm.Sgemm(false, true, og, kk, pix, 1, dyb[g*og*pix:], pix, col[g*kk*pix:], pix, 1, dw[g*og*kk:], kk)
			}
		}
	})
	out := op.out.get(ss[1]...)
	reduceInto(out.Data().([]float32), op.partial[:nW], nw, per)
	reduceInto(op.db.get(d.O).Data().([]float32), op.partial[nW:], nw, per)
	return out, nil
}

// convGeneralGradX computes dx from w and dy.
type convGeneralGradX struct {
	gradBase
	fwd     *ConvGeneral
	out     buffer
	cols    []float32
	packedT gemm.PackedA // ungrouped: the filters transposed, packed once a call
}

func (op *convGeneralGradX) Arity() int    { return 2 }
func (op *convGeneralGradX) Type() hm.Type { return fnType(4, 4, 4) }

func (op *convGeneralGradX) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.fwd.inShape == nil {
		return nil, fmt.Errorf("%s: unknown input shape", op.name)
	}
	return op.fwd.inShape.Clone(), nil
}

func (op *convGeneralGradX) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	w, dy := ds[0], ds[1]
	f := op.fwd
	xs := tensor.Shape{ss[1][0], f.inShape[1], f.inShape[2], f.inShape[3]}
	d, err := f.dims(xs, ss[0])
	if err != nil {
		return nil, err
	}
	out := op.out.get(xs...)
	dx := out.Data().([]float32)
	if dp, ok := depthwise(f, d); ok {
		op.dwGradX(dp, w, dy, dx)
		return out, nil
	}
	p := f.lowering(d)
	slab := p.Rows() * p.Pix()
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.B)*slab)
	inImg, outImg, pix, hw := d.C*d.H*d.W, d.O*d.OH*d.OW, d.OH*d.OW, d.H*d.W
	cg, og := d.C/d.G, d.O/d.G
	kh, kw := f.Geom.KH, f.Geom.KW
	packed := d.G == 1 && !f.Transposed
	if packed {
		op.packedT.Pack(true, cg*kh*kw, og, 1, w, cg*kh*kw)
	}
	parallel.For(d.B, func(wk, lo, hi int) {
		col := op.cols[wk*slab : (wk+1)*slab]
		for b := lo; b < hi; b++ {
			dxb, dyb := dx[b*inImg:(b+1)*inImg], dy[b*outImg:(b+1)*outImg]
			if packed {
				gemm.SgemmPacked(&op.packedT, false, pix, dyb, pix, 0, col, pix)
				clear(dxb)
				im2col.GeneralAdjoint(col, dxb, p)
				continue
			}
			if f.Transposed {
				// The input gradient of a transposed convolution is a
				// convolution of dy: dx_g = w_g · im2col(dy_g).
				kk := og * kh * kw
				im2col.General(dyb, col, p)
				for g := range d.G {
					gemm.Sgemm(false, false, cg, hw, kk, 1, w[g*cg*kk:], kk, col[g*kk*hw:], hw, 0, dxb[g*cg*hw:], hw)
				}
				continue
			}
			kk := cg * kh * kw
			for g := range d.G {
				gemm.Sgemm(true, false, kk, pix, og, 1, w[g*og*kk:], kk, dyb[g*og*pix:], pix, 0, col[g*kk*pix:], pix)
			}
			clear(dxb)
			im2col.GeneralAdjoint(col, dxb, p)
		}
	})
	return out, nil
}
