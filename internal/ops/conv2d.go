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

// ConvGeom is the geometry of a square-kernel 2-D convolution
// (cross-correlation, as in every deep-learning framework).
type ConvGeom struct {
	Kernel, Stride, Pad int
}

// OutSize is the spatial output size: (in + 2·pad − kernel)/stride + 1.
func (g ConvGeom) OutSize(in int) int { return (in+2*g.Pad-g.Kernel)/g.Stride + 1 }

// Conv2D is y = x ⋆ w + b for x (B,C,H,W), w (O,C,K,K), b (O) → y (B,O,OH,OW).
// It lowers each image with im2col to a (C·K·K)×(OH·OW) matrix and multiplies
// by w viewed as O×(C·K·K), which writes NCHW directly.
type Conv2D struct {
	base
	Geom      ConvGeom
	HasBias   bool
	InputDiff bool // whether the gradient w.r.t. x is needed (false for the first layer)
	Frozen    bool // no weight or bias gradients (a frozen layer)
	// FixedParams says the filters do not change while the graph lives
	// (predict, serve): they are packed on the first pass only.
	FixedParams bool

	inShape  tensor.Shape  // x's shape, recorded when the node is built
	training bool          // gradients will be taken (a training graph)
	cols     []float32     // im2col matrices, one slab per worker
	pad      im2col.Padded // stride 1 and padding: each worker's image with its border
	packedW  packedFilters // the filters, packed once per batch for the GEMMs
	wino     winograd      // the F(2×2,3×3) path's transformed filters and scratch
	shift    shifted       // the shifted-GEMM path's filters and planes (convshift.go)
	out      buffer
	postSite // inference: a batch norm run on each image's output
}

// NewConv2D makes a conv op; training says whether gradients will be taken.
func NewConv2D(name string, geom ConvGeom, hasBias, inputDiff, training bool) *Conv2D {
	return &Conv2D{base: newBase("conv2d:" + name), Geom: geom, HasBias: hasBias, InputDiff: inputDiff, training: training}
}

// Apply adds the op to the graph: x, w and (if HasBias) b.
func (op *Conv2D) Apply(x, w, b *G.Node) (*G.Node, error) { return applyConv(op, op.HasBias, x, w, b) }
func (op *Conv2D) Arity() int                             { return op.arity(convArity(op.HasBias)) }
func (op *Conv2D) Type() hm.Type                          { return op.typ(op.HasBias) }

// ApplyPost adds the op with its PostBN (set Post first): x, w, b (if
// HasBias), and the batch norm's γ and β.
func (op *Conv2D) ApplyPost(x, w, b, gamma, beta *G.Node) (*G.Node, error) {
	return op.apply(op, op.HasBias, x, w, b, gamma, beta)
}

// A convolution op takes x (B,C,H,W), w and, with a bias, b (O).
func applyConv(op G.Op, hasBias bool, x, w, b *G.Node) (*G.Node, error) {
	if hasBias {
		return G.ApplyOp(op, x, w, b)
	}
	return G.ApplyOp(op, x, w)
}

func convArity(hasBias bool) int {
	if hasBias {
		return 3
	}
	return 2
}

func convType(hasBias bool) hm.Type {
	if hasBias {
		return fnType(4, 4, 4, 1)
	}
	return fnType(4, 4, 4)
}

func (op *Conv2D) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ws, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] {
		return nil, fmt.Errorf("%s: input %v and filter %v do not fit", op.name, xs, ws)
	}
	op.inShape = xs.Clone()
	return op.shape(tensor.Shape{xs[0], ws[0], op.Geom.OutSize(xs[2]), op.Geom.OutSize(xs[3])})
}

func (op *Conv2D) dims(xs, ws tensor.Shape) im2col.Dims {
	return im2col.Dims{B: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0],
		OH: op.Geom.OutSize(xs[2]), OW: op.Geom.OutSize(xs[3]),
		K: op.Geom.Kernel, S: op.Geom.Stride, P: op.Geom.Pad}
}

func (op *Conv2D) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, op.Arity(), vs)
	if err != nil {
		return nil, err
	}
	x, w := ds[0], ds[1]
	d := op.dims(ss[0], ss[1])
	var bias []float32
	if op.HasBias {
		bias = ds[2]
	}
	oshape, err := op.begin(ds, tensor.Shape{d.B, d.O, d.OH, d.OW}, parallel.NumWorkers(d.B))
	if err != nil {
		return nil, err
	}
	out := op.out.get(oshape...)
	y := out.Data().([]float32) // with a PostBN, its output: each image's convolution is in scratch
	switch {
	case useWinograd(d, op.training):
		op.winogradForward(x, w, bias, y, d)
	case useShift(d) && (d.B >= parallel.Workers || shiftSmallBatch(d)):
		op.shift.fixed = op.FixedParams && !op.training
		op.shift.forward(x, w, bias, y, d, op.postSite)
	default:
		op.im2colForward(x, w, bias, y, d)
	}
	return out, nil
}

// packedFilters are a convolution's filters (O × C·K, row-major) packed
// for the GEMM, with the bias its rows start from.
type packedFilters struct {
	gemm.PackedA
	of   []float32 // inference: the filter values packed
	once packOnce  // fixed filters: packed on the first pass
}

// pack packs w, unless at inference it holds the values packed last time:
// inference graphs usually see the same filters call after call, and
// comparing them (memcmp) is much cheaper than repacking — and with fixed
// filters not needed at all (batch-1 LeNet-BN on one core: 1.19× without
// it; it reads conv2's 100 KB of filters twice).
func (p *packedFilters) pack(training, fixed bool, o, ck int, w, bias []float32) {
	switch {
	case training:
		p.Pack(false, o, ck, 1, w, ck)
	case fixed:
		if p.once.due(true) {
			p.Pack(false, o, ck, 1, w, ck)
		}
	case !vec.SameFloats(p.of, w):
		p.Pack(false, o, ck, 1, w, ck)
		p.of = append(p.of[:0], w...)
	}
	p.SetBias(bias)
}

// im2colForward lowers each image with im2col and multiplies by the packed
// filters.
func (op *Conv2D) im2colForward(x, w, bias, y []float32, d im2col.Dims) {
	ckk, pix := d.CKK(), d.Pix()
	slab := ckk * pix
	op.cols = scratch.Grow(op.cols, parallel.NumWorkers(d.B)*slab)
	// The GEMM starts each output row at its bias: no pass to fill it in.
	op.packedW.pack(op.training, op.FixedParams, d.O, ckk, w, bias)
	if d.B < parallel.Workers {
		// Too few images to share out: lower each one, then split its
		// output pixels between the workers.
		op.pad.Size(d, 1)
		for b := range d.B {
			col := op.cols[:slab]
			xb, dl := op.pad.Of(0, x[b*d.C*d.H*d.W:(b+1)*d.C*d.H*d.W], d)
			// A float moved costs several flops' time: counted as one,
			// conv2's 32 k-float lowering stayed on one core.
			parallel.ForCost(d.C*d.K, 4*d.K*pix, func(_, lo, hi int) { im2col.Im2colPart(xb, col, dl, pix, lo, hi) })
			yb := op.image(y, 0, b, d.O*pix)
			parallelCols(pix, func(lo, hi int) {
				gemm.SgemmPacked(&op.packedW.PackedA, false, hi-lo, col[lo:], pix, 0, yb[lo:], pix)
			})
			op.done(0, b, yb, y)
		}
		return
	}
	op.pad.Size(d, parallel.NumWorkers(d.B))
	parallel.For(d.B, func(wk, lo, hi int) {
		for b := lo; b < hi; b++ {
			col := op.cols[wk*slab : (wk+1)*slab]
			xb, dl := op.pad.Of(wk, x[b*d.C*d.H*d.W:(b+1)*d.C*d.H*d.W], d)
			if im2col.Pointwise(d) {
				col = xb // a 1×1 convolution's im2col matrix is the image
			} else {
				im2col.Im2col(xb, col, dl)
			}
			yb := op.image(y, wk, b, d.O*pix)
			gemm.SgemmPacked(&op.packedW.PackedA, false, pix, col, pix, 0, yb, pix)
			op.done(wk, b, yb, y)
		}
	})
}

// winogradForward is the F(2×2,3×3) path of Do (see winograd.go).
func (op *Conv2D) winogradForward(x, w, bias, y []float32, d im2col.Dims) {
	wg := &op.wino
	wg.transformFilters(w, d.O, d.C)
	T := ((d.OH + 1) / 2) * ((d.OW + 1) / 2)
	nw := parallel.NumWorkers(d.B)
	wg.v = scratch.Grow(wg.v, nw*16*d.C*T)
	wg.m = scratch.Grow(wg.m, nw*16*d.O*T)
	img, out := d.C*d.H*d.W, d.O*d.OH*d.OW
	parallel.For(d.B, func(wk, lo, hi int) {
		v := wg.v[wk*16*d.C*T : (wk+1)*16*d.C*T]
		m := wg.m[wk*16*d.O*T : (wk+1)*16*d.O*T]
		for b := lo; b < hi; b++ {
			yb := op.image(y, wk, b, out)
			wg.conv(x[b*img:(b+1)*img], yb, bias, d, v, m)
			op.done(wk, b, yb, y)
		}
	})
}

func (op *Conv2D) DiffWRT(n int) []bool {
	r := []bool{op.InputDiff, !op.Frozen, !op.Frozen}
	return r[:n]
}

func (op *Conv2D) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("%s: built without gradient support", op.name)
	}
	res := make(G.Nodes, len(in))
	var err error
	if !op.Frozen {
		gw := &convGradFilter{gradBase: newGradBase(op.name + ".dW"), fwd: op}
		if err = weightGrads(res, op.name, &gw.db, in[1].Shape()[0], gw, in[0], grad); err != nil {
			return nil, err
		}
	}
	if op.InputDiff {
		gx := &convGradInput{gradBase: newGradBase(op.name + ".dX"), fwd: op}
		if res[0], err = G.ApplyOp(gx, in[1], grad); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// weightGrads sets res[1] to a convolution's weight gradient, computed by
// gw from its inputs, and res[2], where there is a bias, to the bias
// gradient of out values that gw computes on the side into db.
func weightGrads(res G.Nodes, name string, db *buffer, out int, gw G.Op, inputs ...*G.Node) error {
	dw, err := G.ApplyOp(gw, inputs...)
	if err != nil {
		return err
	}
	res[1] = dw
	if len(res) > 2 {
		res[2], err = G.ApplyOp(newSideOutput(name+".db", db, tensor.Shape{out}), dw)
	}
	return err
}

// convGradFilter computes dW = Σ_b dy_b · col_bᵀ (and db = Σ dy as a side
// output), lowering each image x_b to col_b with im2col again.
type convGradFilter struct {
	gradBase
	fwd     *Conv2D
	out, db buffer
	cols    []float32      // per worker: an image's im2col matrix, or a group's im2row ones
	dys     [][]float32    // per worker: the group's images' dy, side by side in the GEMM
	xpad    []float32      // per worker: the batch's last image, with room after it
	partial []float32      // per-worker dW and db accumulators
	nt      []gemm.NTAccum // per-worker lane sums of the NT path
	pad     im2col.Padded
	taps    tapsGrad // the path that reads the taps where they lie (convshift.go)
}

// useNT says whether the weight gradient should use the NT kernel, which
// needs no packing. It wins when each image's rows are long (conv1 of LeNet,
// 576 pixels: 3.7× the packed GEMM); for short ones (conv2, 64) reducing the
// lanes costs more than packing.
func useNT(d im2col.Dims) bool {
	return gemm.NT != nil && d.Pix() >= ntMinPix && d.Pix() >= ntRowRatio*d.CKK()
}

var ntMinPix, ntRowRatio = 128, 4

func growAccums(s []gemm.NTAccum, n int) []gemm.NTAccum {
	for len(s) < n {
		s = append(s, gemm.NTAccum{})
	}
	return s
}

func (op *convGradFilter) Arity() int    { return 2 }
func (op *convGradFilter) Type() hm.Type { return fnType(4, 4, 4) }

func (op *convGradFilter) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, gs, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	k := op.fwd.Geom.Kernel
	return tensor.Shape{gs[1], xs[1], k, k}, nil
}

func (op *convGradFilter) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	x, dy := ds[0], ds[1]
	xs, gs := ss[0], ss[1]
	d := im2col.Dims{B: xs[0], C: xs[1], H: xs[2], W: xs[3], O: gs[1], OH: gs[2], OW: gs[3],
		K: op.fwd.Geom.Kernel, S: op.fwd.Geom.Stride, P: op.fwd.Geom.Pad}
	ckk, pix, img := d.CKK(), d.Pix(), d.C*d.H*d.W
	nw := parallel.NumWorkers(d.B)
	per := d.O*ckk + d.O
	op.partial = scratch.Grow(op.partial, nw*per)
	if useTapsGrad(d) {
		op.nt = growAccums(op.nt, nw)
		op.taps.gradFilter(x, dy, op.partial, per, op.nt, op.fwd.HasBias, d)
		return op.reduce(d, nw, per)
	}
	nt := useNT(d)
	// The NT kernel reads each image's im2col matrix (ckk × pix) row by row.
	// Otherwise the GEMM takes a group of images at once (depth up to one
	// panel, kc): dy side by side (O × group·pix, packed where each image's
	// lies: gemm.SgemmSideBySideA) times the images'
	// transposed matrices stacked (group·pix × ckk, from im2row: no
	// transposes to pack it), so the weight gradient it accumulates into is
	// read and written once per group rather than per image.
	group := 1
	if !nt {
		group = max(1, min(gemm.PanelDepth/pix, d.B))
	}
	ld := group * pix
	// im2row's rows start on whole vectors: the GEMM reads them where they
	// lie, and a row that starts mid-line makes every load of it two.
	rowLD := ckk
	if !nt {
		rowLD = (ckk + 15) &^ 15
	}
	slab := rowLD*ld + 8 // im2row writes up to 8 floats past its last row
	op.cols = scratch.Grow(op.cols, nw*slab)
	op.pad.Size(d, nw)
	if nt {
		op.nt = growAccums(op.nt, nw)
	} else {
		if len(op.dys) < nw*group {
			op.dys = make([][]float32, nw*group)
		}
		op.xpad = scratch.Grow(op.xpad, nw*(img+8))
	}
	parallel.For(d.B, func(wk, lo, hi int) {
		acc := op.partial[wk*per : (wk+1)*per]
		dw, db := acc[:d.O*ckk], acc[d.O*ckk:]
		clear(acc)
		col := op.cols[wk*slab : (wk+1)*slab]
		var dys [][]float32
		if nt {
			op.nt[wk].Reset(d.O, ckk)
		} else {
			dys = op.dys[wk*group : (wk+1)*group]
		}
		for b0 := lo; b0 < hi; b0 += group {
			n := min(group, hi-b0)
			for i := range n {
				b := b0 + i
				// Lowering the image again costs less than keeping the
				// forward pass's matrices: they would have left the cache.
				xb := x[b*img:]
				dyb := dy[b*d.O*pix : (b+1)*d.O*pix]
				if op.fwd.HasBias { // a bias-free layer (before a batch norm) has no db to sum
					vec.AddRowSums(db, dyb, pix)
				}
				if im2col.IsPadded(d) {
					// With its border in place the image takes the
					// unpadded paths (the padded copy has room after it).
					xp, dl := op.pad.Of(wk, xb[:img], d)
					if nt {
						im2col.Im2col(xp, col, dl)
						op.nt[wk].Add(gemm.NT, pix, dyb, pix, col, pix)
						continue
					}
					im2col.Im2row(xp, col[i*pix*rowLD:], dl, rowLD)
					dys[i] = dyb
					continue
				}
				if nt {
					c := xb[:img] // a 1×1 convolution's im2col matrix is the image
					if !im2col.Pointwise(d) {
						im2col.Im2col(xb[:img], col, d)
						c = col
					}
					op.nt[wk].Add(gemm.NT, pix, dyb, pix, c, pix)
					continue
				}
				if len(xb) < img+8 {
					// The last image: give the fast im2row the room after it
					// that the others have.
					xb = op.xpad[wk*(img+8) : (wk+1)*(img+8)]
					copy(xb, x[b*img:(b+1)*img])
				}
				im2col.Im2row(xb, col[i*pix*rowLD:], d, rowLD)
				dys[i] = dyb
			}
			if !nt {
				gemm.SgemmSideBySideA(d.O, ckk, n*pix, dys[:n], pix, pix, false, col, rowLD, 1, dw, ckk)
			}
		}
		if nt {
			op.nt[wk].SumInto(dw, ckk)
		}
	})
	return op.reduce(d, nw, per)
}

// reduce sums the workers' partial dW and db.
func (op *convGradFilter) reduce(d im2col.Dims, nw, per int) (G.Value, error) {
	ckk := d.CKK()
	out := op.out.get(d.O, d.C, d.K, d.K)
	reduceInto(out.Data().([]float32), op.partial[:d.O*ckk], nw, per)
	reduceInto(op.db.get(d.O).Data().([]float32), op.partial[d.O*ckk:], nw, per)
	return out, nil
}

// convGradInput computes dx = col2im(wᵀ · dy_b) for each image.
type convGradInput struct {
	gradBase
	fwd     *Conv2D
	out     buffer
	dcol    []float32    // one slab per worker
	packedW gemm.PackedA // wᵀ, packed once per batch
	pad     im2col.Padded
	shift   shifted
	flipped []float32 // the filters turned for the input gradient as a convolution
}

func (op *convGradInput) Arity() int    { return 2 }
func (op *convGradInput) Type() hm.Type { return fnType(4, 4, 4) }

// InferShape recovers x's shape from dy and the forward op's last input shape.
func (op *convGradInput) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ws, gs, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	if op.fwd.inShape == nil {
		return nil, fmt.Errorf("%s: unknown input shape", op.name)
	}
	return tensor.Shape{gs[0], ws[1], op.fwd.inShape[2], op.fwd.inShape[3]}, nil
}

func (op *convGradInput) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	w, dy := ds[0], ds[1]
	xs := op.fwd.inShape
	d := op.fwd.dims(tensor.Shape{ss[1][0], xs[1], xs[2], xs[3]}, ss[0])
	out := op.out.get(d.B, d.C, d.H, d.W)
	dx := out.Data().([]float32)
	if useShift(d) && d.B >= parallel.Workers {
		if t, ok := gradAsConv(d); ok {
			op.flipped = flipFilters(op.flipped, w, d.O, d.C, d.K)
			op.shift.forward(dy, op.flipped, nil, dx, t, postSite{})
			return out, nil
		}
		op.shift.gradInput(w, dy, dx, d)
		return out, nil
	}
	ckk, pix := d.CKK(), d.Pix()
	op.dcol = scratch.Grow(op.dcol, parallel.NumWorkers(d.B)*ckk*pix)
	img := d.C * d.H * d.W
	op.packedW.Pack(true, ckk, d.O, 1, w, ckk)
	op.pad.Size(d, parallel.NumWorkers(d.B))
	parallel.For(d.B, func(wk, lo, hi int) {
		dcol := op.dcol[wk*ckk*pix : (wk+1)*ckk*pix]
		for b := lo; b < hi; b++ {
			if im2col.Pointwise(d) {
				// col2im of a 1×1 convolution is the identity.
				gemm.SgemmPacked(&op.packedW, false, pix, dy[b*d.O*pix:(b+1)*d.O*pix], pix, 0, dx[b*img:(b+1)*img], pix)
				continue
			}
			gemm.SgemmPacked(&op.packedW, false, pix, dy[b*d.O*pix:(b+1)*d.O*pix], pix, 0, dcol, pix)
			op.pad.Col2im(wk, dcol, dx[b*img:(b+1)*img], d)
		}
	})
	return out, nil
}
