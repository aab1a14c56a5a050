package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

	inShape  tensor.Shape // x's shape, recorded when the node is built
	training bool         // gradients will be taken (a training graph)
	cols     []float32    // im2col matrices, one slab per worker
	pad      paddedImages // stride 1 and padding: each worker's image with its border
	packedW  PackedA      // the filters, packed once per batch for the GEMMs
	packedOf []float32    // inference: the filter values packedW holds
	wino     winograd     // the F(2×2,3×3) path's transformed filters and scratch
	out      buffer
}

// NewConv2D makes a conv op; training says whether gradients will be taken.
func NewConv2D(name string, geom ConvGeom, hasBias, inputDiff, training bool) *Conv2D {
	return &Conv2D{base: newBase("conv2d:" + name), Geom: geom, HasBias: hasBias, InputDiff: inputDiff, training: training}
}

// Apply adds the op to the graph: x, w and (if HasBias) b.
func (op *Conv2D) Apply(x, w, b *G.Node) (*G.Node, error) {
	if op.HasBias {
		return G.ApplyOp(op, x, w, b)
	}
	return G.ApplyOp(op, x, w)
}

func (op *Conv2D) Arity() int {
	if op.HasBias {
		return 3
	}
	return 2
}

func (op *Conv2D) Type() hm.Type {
	if op.HasBias {
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
	return tensor.Shape{xs[0], ws[0], op.Geom.OutSize(xs[2]), op.Geom.OutSize(xs[3])}, nil
}

// convDims gathers every size the kernels need.
type convDims struct {
	B, C, H, W, O, OH, OW, K, S, P int
}

func (d convDims) ckk() int { return d.C * d.K * d.K }
func (d convDims) pix() int { return d.OH * d.OW }

func (op *Conv2D) dims(xs, ws tensor.Shape) convDims {
	return convDims{B: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0],
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
	out := op.out.get(d.B, d.O, d.OH, d.OW)
	y := out.Data().([]float32)
	if useWinograd(d, op.training) {
		op.winogradForward(x, w, bias, y, d)
	} else {
		op.im2colForward(x, w, bias, y, d)
	}
	return out, nil
}

// im2colForward lowers each image with im2col and multiplies by the packed
// filters.
func (op *Conv2D) im2colForward(x, w, bias, y []float32, d convDims) {
	ckk, pix := d.ckk(), d.pix()
	slab := ckk * pix
	op.cols = grow(op.cols, numWorkers(d.B)*slab)
	if op.training || !sameFloats(op.packedOf, w) {
		op.packedW.pack(false, d.O, ckk, 1, w, ckk)
		if !op.training {
			// Inference graphs usually see the same filters call after
			// call: comparing them (memcmp) is much cheaper than repacking.
			op.packedOf = append(op.packedOf[:0], w...)
		}
	}
	// The GEMM starts each output row at its bias: no pass to fill it in.
	op.packedW.setBias(bias)
	if d.B < Workers {
		// Too few images to share out: lower each one, then split its
		// output pixels between the workers.
		op.pad.size(d, 1)
		for b := range d.B {
			col := op.cols[:slab]
			xb, dl := op.pad.of(0, x[b*d.C*d.H*d.W:(b+1)*d.C*d.H*d.W], d)
			parallelCost(d.C*d.K, d.K*pix, func(_, lo, hi int) { im2colPart(xb, col, dl, pix, lo, hi) })
			yb := y[b*d.O*pix : (b+1)*d.O*pix]
			parallelCols(pix, func(lo, hi int) {
				sgemmPacked(&op.packedW, false, hi-lo, col[lo:], pix, 0, yb[lo:], pix)
			})
		}
		return
	}
	op.pad.size(d, numWorkers(d.B))
	parallel(d.B, func(wk, lo, hi int) {
		for b := lo; b < hi; b++ {
			col := op.cols[wk*slab : (wk+1)*slab]
			xb, dl := op.pad.of(wk, x[b*d.C*d.H*d.W:(b+1)*d.C*d.H*d.W], d)
			if pointwise(d) {
				col = xb // a 1×1 convolution's im2col matrix is the image
			} else {
				im2col(xb, col, dl)
			}
			sgemmPacked(&op.packedW, false, pix, col, pix, 0, y[b*d.O*pix:(b+1)*d.O*pix], pix)
		}
	})
}

// winogradForward is the F(2×2,3×3) path of Do (see winograd.go).
func (op *Conv2D) winogradForward(x, w, bias, y []float32, d convDims) {
	wg := &op.wino
	wg.transformFilters(w, d.O, d.C)
	T := ((d.OH + 1) / 2) * ((d.OW + 1) / 2)
	nw := numWorkers(d.B)
	wg.v = grow(wg.v, nw*16*d.C*T)
	wg.m = grow(wg.m, nw*16*d.O*T)
	img, out := d.C*d.H*d.W, d.O*d.OH*d.OW
	parallel(d.B, func(wk, lo, hi int) {
		v := wg.v[wk*16*d.C*T : (wk+1)*16*d.C*T]
		m := wg.m[wk*16*d.O*T : (wk+1)*16*d.O*T]
		for b := lo; b < hi; b++ {
			wg.conv(x[b*img:(b+1)*img], y[b*out:(b+1)*out], bias, d, v, m)
		}
	})
}

func (op *Conv2D) DiffWRT(n int) []bool {
	r := []bool{op.InputDiff, true, true}
	return r[:n]
}

func (op *Conv2D) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("%s: built without gradient support", op.name)
	}
	gw := &convGradFilter{gradBase: newGradBase(op.name + ".dW"), fwd: op}
	dw, err := G.ApplyOp(gw, in[0], grad)
	if err != nil {
		return nil, err
	}
	res := G.Nodes{nil, dw}
	if op.InputDiff {
		gx := &convGradInput{gradBase: newGradBase(op.name + ".dX"), fwd: op}
		if res[0], err = G.ApplyOp(gx, in[1], grad); err != nil {
			return nil, err
		}
	}
	if op.HasBias {
		db, err := G.ApplyOp(newSideOutput(op.name+".db", &gw.db, tensor.Shape{in[1].Shape()[0]}), dw)
		if err != nil {
			return nil, err
		}
		res = append(res, db)
	}
	return res, nil
}

// convGradFilter computes dW = Σ_b dy_b · col_bᵀ (and db = Σ dy as a side
// output), lowering each image x_b to col_b with im2col again.
type convGradFilter struct {
	gradBase
	fwd     *Conv2D
	out, db buffer
	cols    []float32 // per worker: an image's im2col matrix, or a group's im2row ones
	dys     []float32 // per worker: the group's dy, side by side
	xpad    []float32 // per worker: the batch's last image, with room after it
	partial []float32 // per-worker dW and db accumulators
	nt      []ntAccum // per-worker lane sums of the NT path
	pad     paddedImages
}

// useNT says whether the weight gradient should use the NT kernel, which
// needs no packing. It wins when each image's rows are long (conv1 of LeNet,
// 576 pixels: 3.7× the packed GEMM); for short ones (conv2, 64) reducing the
// lanes costs more than packing.
func useNT(d convDims) bool { return ntKernel != nil && d.pix() >= ntMinPix && d.pix() >= 4*d.ckk() }

var ntMinPix = 128

func growAccums(s []ntAccum, n int) []ntAccum {
	for len(s) < n {
		s = append(s, ntAccum{})
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
	d := convDims{B: xs[0], C: xs[1], H: xs[2], W: xs[3], O: gs[1], OH: gs[2], OW: gs[3],
		K: op.fwd.Geom.Kernel, S: op.fwd.Geom.Stride, P: op.fwd.Geom.Pad}
	ckk, pix, img := d.ckk(), d.pix(), d.C*d.H*d.W
	nw := numWorkers(d.B)
	per := d.O*ckk + d.O
	op.partial = grow(op.partial, nw*per)
	nt := useNT(d)
	// The NT kernel reads each image's im2col matrix (ckk × pix) row by row.
	// Otherwise the GEMM takes a group of images at once (depth up to one
	// panel, kc): dy side by side (O × group·pix) times the images'
	// transposed matrices stacked (group·pix × ckk, from im2row: no
	// transposes to pack it), so the weight gradient it accumulates into is
	// read and written once per group rather than per image.
	group := 1
	if !nt {
		group = max(1, min(kc/pix, d.B))
	}
	ld := group * pix
	slab := ckk*ld + 8 // im2row writes up to 8 floats past its last row
	op.cols = grow(op.cols, nw*slab)
	op.pad.size(d, nw)
	if nt {
		op.nt = growAccums(op.nt, nw)
	} else {
		op.dys = grow(op.dys, nw*d.O*ld)
		op.xpad = grow(op.xpad, nw*(img+8))
	}
	parallel(d.B, func(wk, lo, hi int) {
		acc := op.partial[wk*per : (wk+1)*per]
		dw, db := acc[:d.O*ckk], acc[d.O*ckk:]
		clear(acc)
		col := op.cols[wk*slab : (wk+1)*slab]
		var dys []float32
		if nt {
			op.nt[wk].reset(d.O, ckk)
		} else {
			dys = op.dys[wk*d.O*ld : (wk+1)*d.O*ld]
		}
		for b0 := lo; b0 < hi; b0 += group {
			n := min(group, hi-b0)
			for i := range n {
				b := b0 + i
				// Lowering the image again costs less than keeping the
				// forward pass's matrices: they would have left the cache.
				xb := x[b*img:]
				dyb := dy[b*d.O*pix : (b+1)*d.O*pix]
				for o := range d.O {
					db[o] += sum(dyb[o*pix : (o+1)*pix])
				}
				if padded(d) {
					// With its border in place the image takes the
					// unpadded paths (the padded copy has room after it).
					xp, dl := op.pad.of(wk, xb[:img], d)
					if nt {
						im2col(xp, col, dl)
						op.nt[wk].add(ntKernel, pix, dyb, pix, col, pix)
						continue
					}
					im2row(xp, col[i*pix*ckk:], dl, ckk)
					copyRows(dys[i*pix:], ld, dyb, pix, d.O, pix)
					continue
				}
				if nt {
					c := xb[:img] // a 1×1 convolution's im2col matrix is the image
					if !pointwise(d) {
						im2col(xb[:img], col, d)
						c = col
					}
					op.nt[wk].add(ntKernel, pix, dyb, pix, c, pix)
					continue
				}
				if len(xb) < img+8 {
					// The last image: give the fast im2row the room after it
					// that the others have.
					xb = op.xpad[wk*(img+8) : (wk+1)*(img+8)]
					copy(xb, x[b*img:(b+1)*img])
				}
				im2row(xb, col[i*pix*ckk:], d, ckk)
				copyRows(dys[i*pix:], ld, dyb, pix, d.O, pix)
			}
			if !nt {
				sgemm(false, false, d.O, ckk, n*pix, 1, dys, ld, col, ckk, 1, dw, ckk)
			}
		}
		if nt {
			op.nt[wk].sumInto(dw, ckk)
		}
	})
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
	dcol    []float32 // one slab per worker
	packedW PackedA   // wᵀ, packed once per batch
	pad     paddedImages
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
	ckk, pix := d.ckk(), d.pix()
	op.dcol = grow(op.dcol, numWorkers(d.B)*ckk*pix)
	out := op.out.get(d.B, d.C, d.H, d.W)
	dx := out.Data().([]float32)
	img := d.C * d.H * d.W
	op.packedW.pack(true, ckk, d.O, 1, w, ckk)
	op.pad.size(d, numWorkers(d.B))
	parallel(d.B, func(wk, lo, hi int) {
		dcol := op.dcol[wk*ckk*pix : (wk+1)*ckk*pix]
		for b := lo; b < hi; b++ {
			if pointwise(d) {
				// col2im of a 1×1 convolution is the identity.
				sgemmPacked(&op.packedW, false, pix, dy[b*d.O*pix:(b+1)*d.O*pix], pix, 0, dx[b*img:(b+1)*img], pix)
				continue
			}
			sgemmPacked(&op.packedW, false, pix, dy[b*d.O*pix:(b+1)*d.O*pix], pix, 0, dcol, pix)
			op.pad.col2im(wk, dcol, dx[b*img:(b+1)*img], d)
		}
	})
	return out, nil
}

// pointwise reports a 1×1 convolution of stride 1 without padding: a plain
// matrix product of the filters and each image's C×(H·W) matrix.
func pointwise(d convDims) bool { return d.K == 1 && d.S == 1 && d.P == 0 }

// paddedImages holds, for convolutions with padding, one image per worker
// with its zero border: lowering that copy needs no clipping (the unpadded
// paths move whole rows, or gather without bounds tests), and the copy costs
// a ninth of the lowering's writes for a 3×3 kernel. The border is zeroed
// when the buffer is laid out and never written after.
type paddedImages struct {
	buf  []float32
	dims convDims // the geometry buf is laid out for
	n    int      // floats per worker
}

// padded reports whether d takes this path.
func padded(d convDims) bool { return d.P > 0 }

// unpadded is d for the padded copy of its image.
func unpadded(d convDims) convDims {
	d.H, d.W, d.P = d.H+2*d.P, d.W+2*d.P, 0
	return d
}

// size lays the buffer out for nw workers (8 spare floats each, which the
// AVX im2row reads past the image).
func (p *paddedImages) size(d convDims, nw int) {
	if !padded(d) {
		return
	}
	dp := unpadded(d)
	n := d.C*dp.H*dp.W + 8
	if p.dims != d || len(p.buf) < nw*n {
		p.buf = grow(p.buf, nw*n)
		clear(p.buf)
		p.dims, p.n = d, n
	}
}

// of returns the image to lower and its geometry: x itself, or for a padded
// convolution worker wk's copy of x with its border.
func (p *paddedImages) of(wk int, x []float32, d convDims) ([]float32, convDims) {
	if !padded(d) {
		return x, d
	}
	dp := unpadded(d)
	xp := p.buf[wk*p.n : (wk+1)*p.n]
	for c := range d.C {
		copyRows(xp[(c*dp.H+d.P)*dp.W+d.P:], dp.W, x[c*d.H*d.W:], d.W, d.H, d.W)
	}
	return xp, dp
}

// col2im sets x to col2im(col) as of would lower x: for a padded
// convolution it sums into worker wk's bordered image (col2im clears it
// first) and keeps the inside.
func (p *paddedImages) col2im(wk int, col, x []float32, d convDims) {
	if !padded(d) {
		col2im(col, x, d)
		return
	}
	dp := unpadded(d)
	xp := p.buf[wk*p.n : (wk+1)*p.n]
	col2im(col, xp[:d.C*dp.H*dp.W], dp)
	for c := range d.C {
		copyRows(x[c*d.H*d.W:], d.W, xp[(c*dp.H+d.P)*dp.W+d.P:], dp.W, d.H, d.W)
	}
}

// im2col unrolls one image (C,H,W) into col, a (C·K·K)×(OH·OW) matrix whose
// row (c,ki,kj) holds the input pixel under kernel tap (ki,kj) for every
// output position; taps that fall in the padding read zero.
func im2col(x, col []float32, d convDims) { im2colTo(x, col, d.pix(), d) }

// im2colTo is im2col into a matrix with rows ld floats apart, which lets
// several images' matrices sit side by side.
func im2colTo(x, col []float32, ld int, d convDims) {
	if d.S == 1 && d.P == 0 {
		im2colS1(x, col, d, ld)
		return
	}
	im2colPart(x, col, d, ld, 0, d.C*d.K)
}

// im2colS1 is im2col for stride 1 and no padding (assembly where the CPU
// has AVX2: one call per image rather than one per row).
var im2colS1 = im2colS1Go

func im2colS1Go(x, col []float32, d convDims, ld int) { s1Rows(x, col, d, ld, 0, d.C*d.K, 0, false) }

// s1Rows moves, for stride 1 and no padding, the output columns from ox0 on
// of kernel rows q in [qlo, qhi) (q = c·K + ki) between x and col (rows ld
// floats apart): col = im2col(x) if !add, x += col2im(col) if add. Every tap
// is inside the image, and row (c,ki,kj) of col is OH runs of OW
// consecutive input pixels.
func s1Rows(x, col []float32, d convDims, ld, qlo, qhi, ox0 int, add bool) {
	pix := d.pix()
	for q := qlo; q < qhi; q++ {
		c, ki := q/d.K, q%d.K
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kj := range d.K {
			row := col[((c*d.K+ki)*d.K+kj)*ld:][:pix]
			if add {
				addRows(xc[ki*d.W+kj+ox0:], d.W, row[ox0:], d.OW, d.OH, d.OW-ox0)
			} else {
				copyRows(row[ox0:], d.OW, xc[ki*d.W+kj+ox0:], d.W, d.OH, d.OW-ox0)
			}
		}
	}
}

// im2row is im2col transposed: row p of colT (rows ld floats apart) holds
// the C·K·K inputs under output pixel p, in im2col's order. A weight
// gradient that multiplies by colT needs no transposes to pack it.
var im2row = im2rowGo

func im2rowGo(x, colT []float32, d convDims, ld int) {
	if d.P == 0 {
		im2rowInside(x, colT, d, ld)
		return
	}
	for oy := range d.OH {
		for ox := range d.OW {
			row := colT[(oy*d.OW+ox)*ld:][:d.ckk()]
			q := 0
			for c := range d.C {
				xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
				for ki := range d.K {
					iy := oy*d.S - d.P + ki
					for kj := range d.K {
						ix := ox*d.S - d.P + kj
						if iy >= 0 && iy < d.H && ix >= 0 && ix < d.W {
							row[q] = xc[iy*d.W+ix]
						} else {
							row[q] = 0
						}
						q++
					}
				}
			}
		}
	}
}

// im2rowInside is im2row without padding: every tap is inside the image,
// and each kernel row is K consecutive inputs.
func im2rowInside(x, colT []float32, d convDims, ld int) {
	for oy := range d.OH {
		for ox := range d.OW {
			row := colT[(oy*d.OW+ox)*ld:][:d.ckk()]
			q := 0
			for c := range d.C {
				at := c*d.H*d.W + oy*d.S*d.W + ox*d.S
				for range d.K {
					copy(row[q:q+d.K], x[at:at+d.K])
					q += d.K
					at += d.W
				}
			}
		}
	}
}

// im2colPart fills the rows of kernel rows q in [qlo, qhi), q = c·K + ki,
// rows ld floats apart: parts can be filled concurrently.
func im2colPart(x, col []float32, d convDims, ld, qlo, qhi int) {
	if d.S == 1 && d.P == 0 {
		s1Rows(x, col, d, ld, qlo, qhi, 0, false)
		return
	}
	pix := d.pix()
	for q := qlo; q < qhi; q++ {
		c, ki := q/d.K, q%d.K
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for kj := range d.K {
			row := col[((c*d.K+ki)*d.K+kj)*ld:][:pix]
			for oy := range d.OH {
				iy := oy*d.S - d.P + ki
				r := row[oy*d.OW : (oy+1)*d.OW]
				if iy < 0 || iy >= d.H {
					clear(r)
					continue
				}
				xr := xc[iy*d.W : (iy+1)*d.W]
				if d.S == 1 {
					// A contiguous run: zero the taps in the padding on
					// either side and copy the span in between.
					lo := min(max(d.P-kj, 0), d.OW)
					hi := max(min(d.W+d.P-kj, d.OW), lo)
					clear(r[:lo])
					copySpan(r[lo:hi], xr[lo+kj-d.P:hi+kj-d.P])
					clear(r[hi:])
					continue
				}
				if d.P == 0 {
					// Every tap is inside: a plain strided gather.
					xr = xr[kj : kj+(d.OW-1)*d.S+1]
					for ox := range r {
						r[ox] = xr[ox*d.S]
					}
					continue
				}
				for ox := range r {
					ix := ox*d.S - d.P + kj
					if ix >= 0 && ix < d.W {
						r[ox] = xr[ix]
					} else {
						r[ox] = 0
					}
				}
			}
		}
	}
}

// col2im is im2col's adjoint: it sums every column entry back onto the input
// pixel it was read from.
func col2im(col, x []float32, d convDims) {
	clear(x)
	pix := d.pix()
	if d.S == 1 && d.P == 0 {
		col2imS1(col, x, d)
		return
	}
	for c := range d.C {
		xc := x[c*d.H*d.W : (c+1)*d.H*d.W]
		for ki := range d.K {
			for kj := range d.K {
				row := col[((c*d.K+ki)*d.K+kj)*pix:][:pix]
				for oy := range d.OH {
					iy := oy*d.S - d.P + ki
					if iy < 0 || iy >= d.H {
						continue
					}
					xr := xc[iy*d.W : (iy+1)*d.W]
					r := row[oy*d.OW : (oy+1)*d.OW]
					if d.S == 1 {
						lo := min(max(d.P-kj, 0), d.OW)
						hi := max(min(d.W+d.P-kj, d.OW), lo)
						addSpan(xr[lo+kj-d.P:hi+kj-d.P], r[lo:hi])
						continue
					}
					if d.P == 0 {
						xr := xr[kj : kj+(d.OW-1)*d.S+1]
						for ox, v := range r {
							xr[ox*d.S] += v
						}
						continue
					}
					for ox, v := range r {
						ix := ox*d.S - d.P + kj
						if ix >= 0 && ix < d.W {
							xr[ix] += v
						}
					}
				}
			}
		}
	}
}

// col2imS1 is col2im for stride 1 and no padding: every tap lands inside
// the image, and row (c,ki,kj) of col adds OH runs of OW floats to x.
// Assembly replaces it where the CPU has AVX2.
var col2imS1 = col2imS1Go

func col2imS1Go(col, x []float32, d convDims) { s1Rows(x, col, d, d.pix(), 0, d.C*d.K, 0, true) }

// copySpan and addSpan move the short runs im2col and col2im are made of
// (often 8 to 24 floats: a call to memmove costs more than the copy) in
// blocks of 8 through array values, which compile to vector moves.
func copySpan(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		*(*[8]float32)(dst[i:]) = *(*[8]float32)(src[i:])
	}
	for ; i < len(dst); i++ {
		dst[i] = src[i]
	}
}

// addSpan sets dst[:len(src)] += src.
func addSpan(dst, src []float32) {
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d, s := (*[8]float32)(dst[i:]), (*[8]float32)(src[i:])
		d[0], d[1], d[2], d[3] = d[0]+s[0], d[1]+s[1], d[2]+s[2], d[3]+s[3]
		d[4], d[5], d[6], d[7] = d[4]+s[4], d[5]+s[5], d[6]+s[6], d[7]+s[7]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// addRows sets dst[r*dstStride+j] += src[r*srcStride+j] for r < rows,
// j < cols, and copyRows copies likewise: the 2-D spans of col2im and
// im2col. Assembly versions replace them where the CPU has AVX2.
var (
	addRows  = addRowsGo
	copyRows = copyRowsGo
)

func addRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	for r := range rows {
		addSpan(dst[r*dstStride:], src[r*srcStride:r*srcStride+cols])
	}
}

func copyRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	for r := range rows {
		copySpan(dst[r*dstStride:r*dstStride+cols], src[r*srcStride:])
	}
}
