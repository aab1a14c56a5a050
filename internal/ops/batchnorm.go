package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// BNState is what a batch-norm layer keeps between steps: the running mean
// and unbiased running variance used at inference, with PyTorch's update
// rule running = (1−momentum)·running + momentum·batch. The slices belong to
// the model and are shared by every graph built over it; nothing here resets
// them implicitly.
type BNState struct {
	RunningMean, RunningVar []float32
	Momentum, Eps           float64
	NumBatches              int64
}

// BatchNorm normalises x (B,C,H,W) or (B,C) per channel and applies the
// affine γ, β — followed by a ReLU when ReLU is set, since conv → BN → ReLU
// is the common block and one pass over memory is cheaper than two.
// Training uses the batch statistics (biased variance) and updates the
// running ones; inference uses the running statistics.
type BatchNorm struct {
	base
	State    *BNState
	Training bool
	ReLU     bool

	out    buffer
	mean   []float32 // batch mean per channel, for the backward pass
	invStd []float32 // 1/√(σ²+ε) per channel
	scale  []float32 // γ·invStd per channel: y = x·scale + shift
	shift  []float32
	dims   int
	pool   *Pool2D // set by WithMaxPool: the output is pooled 2×2 too
	// planeArg, in 2-D training: one plane of arg-maxima a worker, for
	// the forward kernel to write and the next plane to overwrite — the
	// backward pass chooses again from x, and none reach memory.
	planeArg []int32
}

// WithMaxPool makes the op a batch norm, ReLU and 2×2 stride-2 max pooling
// in one: the normalised values are pooled as they are computed, and never
// written (the largest tensor of a LeNet step, written and read back, is
// saved); in training the backward pass makes each window's choice again
// from x, which it reads anyway, rather than reading stored arg-maxima
// back. It needs ReLU and 4-D inputs.
func (op *BatchNorm) WithMaxPool() *BatchNorm {
	op.pool = NewMaxPool2D(op.name+".pool", ConvGeom{Kernel: 2, Stride: 2})
	op.name = "batchnorm_relu_maxpool:" + op.name[len("batchnorm_relu:"):]
	return op
}

// WithMaxPool1D is WithMaxPool for C×L signals: a window of 2, stride 2.
func (op *BatchNorm) WithMaxPool1D() *BatchNorm {
	op.pool = &Pool2D{base: newBase(op.name + ".pool"), Geom: PoolGeom{KH: 1, KW: 2, SH: 1, SW: 2}, Max: true}
	op.name = "batchnorm_relu_maxpool1d:" + op.name[len("batchnorm_relu:"):]
	return op
}

// planeHW is a (B,C,H,W) or (B,C,L) shape's plane, L as 1×L.
func planeHW(s tensor.Shape) (h, w int) {
	if len(s) == 3 {
		return 1, s[2]
	}
	return s[2], s[3]
}

// routeMax sets g (an H×W plane) to dy (OH×OW) at the maxima argmax
// points to, zero elsewhere: the gradient through a fused max pooling.
func routeMax(dy []float32, argmax []int32, g []float32, h, w, oh, ow int) {
	if h > 1 {
		vec.MaxPool2x2Grad(dy, argmax, g, 1, h, w, oh, ow)
		return
	}
	vec.MaxPool1x2Grad(dy[:ow], argmax[:ow], g[:w])
}

func NewBatchNorm(name string, st *BNState, training, relu bool) *BatchNorm {
	n := "batchnorm:"
	if relu {
		n = "batchnorm_relu:"
	}
	return &BatchNorm{base: newBase(n + name), State: st, Training: training, ReLU: relu}
}

func (op *BatchNorm) Apply(x, gamma, beta *G.Node) (*G.Node, error) {
	op.dims = x.Dims()
	return G.ApplyOp(op, x, gamma, beta)
}

func (op *BatchNorm) Arity() int    { return 3 }
func (op *BatchNorm) Type() hm.Type { return fnType(op.dims, op.dims, 1, 1) }

func (op *BatchNorm) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if len(xs) < 2 || len(xs) > 4 {
		return nil, fmt.Errorf("%s: input must be (B,C), (B,C,L) or (B,C,H,W), got %v", op.name, xs)
	}
	if xs[1] != len(op.State.RunningMean) {
		return nil, fmt.Errorf("%s: input has %d channels, layer %d", op.name, xs[1], len(op.State.RunningMean))
	}
	if op.pool != nil {
		if op.pool.Geom.KH == 1 && op.ReLU && len(xs) == 3 {
			op.pool.inShape = tensor.Shape{xs[0], xs[1], 1, xs[2]}
			return tensor.Shape{xs[0], xs[1], xs[2] / 2}, nil
		}
		if op.pool.Geom.KH == 1 && op.ReLU && len(xs) == 4 && xs[2] == 1 { // a signal viewed as C×1×L
			op.pool.inShape = xs.Clone()
			return tensor.Shape{xs[0], xs[1], 1, xs[3] / 2}, nil
		}
		if !op.ReLU || len(xs) != 4 || op.pool.Geom.KH == 1 {
			return nil, fmt.Errorf("%s: pooling inside a batch norm needs a ReLU and (B,C,H,W) input, or (B,C,L) for 1-D", op.name)
		}
		return op.pool.InferShape(xs)
	}
	return xs.Clone(), nil
}

// emit writes plane (b, c) of the output: max(x·scale + shift, 0) (or
// without the max), or its window-2 max pooling with the arg-maxima a
// probe's backward pass routes through (training's makes the choice
// again). os is an output plane's size (planeOut). 2×2 pooling goes
// through emitChannel.
func (op *BatchNorm) emit(x, y []float32, b, c, C, S, os int, scale, shift float32) {
	off := (b*C + c) * S
	var arg []int32
	if op.pool != nil && len(op.pool.argmax) > 0 {
		arg = op.pool.argmax[(b*C+c)*os : (b*C+c+1)*os]
	}
	op.emitPlane(x[off:off+S], y[(b*C+c)*os:(b*C+c+1)*os], arg, scale, shift)
}

// planeOut is the size of an output plane for input planes of S values.
func (op *BatchNorm) planeOut(S int) int {
	if op.pool == nil {
		return S
	}
	OH, OW := op.pool.Geom.Out(op.pool.inShape[2], op.pool.inShape[3])
	return OH * OW
}

// emitPlane maps one input plane xp to its output plane yp (and, pooled,
// its arg-maxima arg, unless 1-D training, which keeps none).
func (op *BatchNorm) emitPlane(xp, yp []float32, arg []int32, scale, shift float32) {
	if op.pool == nil {
		vec.Affine(xp, yp, scale, shift, op.ReLU)
		return
	}
	H, W := op.pool.inShape[2], op.pool.inShape[3]
	if H == 1 { // 1-D: relu(max(a·s + t, b·s + t)) of each pair
		if op.Training { // the backward pass chooses again, from x
			vec.MaxPool1x2Relu(xp, yp, scale, shift)
			return
		}
		vec.MaxPool1x2Affine(xp, yp, arg, scale, shift, true)
		return
	}
	// 2×2, stride 2, unpadded (WithMaxPool): ⌊H/2⌋ × ⌊W/2⌋.
	vec.MaxPool2x2Affine(xp, yp, arg, 1, 0, 0, 0, H, W, H/2, W/2, scale, shift)
}

// emitChannel writes channel c's output planes, one per image, as emit
// does; a 2×2 pooling takes them all in one call (an 8×8 plane's work is
// not much more than a call's).
func (op *BatchNorm) emitChannel(x, y []float32, wk, c, B, C, S, os int, scale, shift float32) {
	if op.pool == nil || op.pool.inShape[2] == 1 {
		for b := range B {
			op.emit(x, y, b, c, C, S, os, scale, shift)
		}
		return
	}
	H, W := op.pool.inShape[2], op.pool.inShape[3]
	arg, as := op.planeArg, 0 // training: one plane of them a worker, each written over the last's
	if len(arg) > 0 {
		arg = arg[wk*os : (wk+1)*os]
	} else {
		arg, as = op.pool.argmax[c*os:], C*os
	}
	vec.MaxPool2x2Affine(x[c*S:], y[c*os:], arg, B, C*S, C*os, as, H, W, H/2, W/2, scale, shift)
}

// inferenceAffine sets scale and shift from γ, β and the running
// statistics: y = x·scale + shift per channel.
func (op *BatchNorm) inferenceAffine(gamma, beta []float32) {
	st, C := op.State, len(op.State.RunningMean)
	op.scale, op.shift = scratch.Grow(op.scale, C), scratch.Grow(op.shift, C)
	for c := range C {
		inv := float32(1 / math.Sqrt(float64(st.RunningVar[c])+st.Eps))
		op.scale[c] = gamma[c] * inv
		op.shift[c] = beta[c] - st.RunningMean[c]*op.scale[c]
	}
}

// bnDims views a (B,C,…) shape as B × C × S.
func bnDims(s tensor.Shape) (B, C, S int) {
	B, C, S = s[0], s[1], 1
	for _, d := range s[2:] {
		S *= d
	}
	return
}

func (op *BatchNorm) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	x, gamma, beta := ds[0], ds[1], ds[2]
	B, C, S := bnDims(ss[0])
	oshape := []int(ss[0])
	if op.pool != nil {
		xs := ss[0]
		h, w := planeHW(xs)
		oh, ow := op.pool.Geom.Out(h, w)
		oshape = []int{xs[0], xs[1], oh, ow}
		if len(xs) == 3 {
			oshape = []int{xs[0], xs[1], ow}
		}
		switch {
		case !op.Training:
			op.pool.argmax = scratch.Grow(op.pool.argmax, B*C*oh*ow)
		case h > 1:
			op.planeArg = scratch.Grow(op.planeArg, parallel.Workers*oh*ow)
		}
	}
	out := op.out.get(oshape...)
	y := out.Data().([]float32)
	st := op.State
	os := op.planeOut(S)
	if !op.Training {
		op.inferenceAffine(gamma, beta)
		parallel.ForCost(C, B*S, func(wk, lo, hi int) {
			for c := lo; c < hi; c++ {
				op.emitChannel(x, y, wk, c, B, C, S, os, op.scale[c], op.shift[c])
			}
		})
		return out, nil
	}
	n := B * S
	if n < 2 {
		return nil, fmt.Errorf("%s: training needs more than one value per channel (got batch %d × %d)", op.name, B, S)
	}
	op.mean = scratch.Grow(op.mean, C)
	op.invStd = scratch.Grow(op.invStd, C)
	op.scale, op.shift = scratch.Grow(op.scale, C), scratch.Grow(op.shift, C)
	m := float32(st.Momentum)
	parallel.ForCost(C, 2*B*S, func(wk, lo, hi int) {
		for c := lo; c < hi; c++ {
			// One pass for both moments of x − k (k, the channel's first
			// value, is near the mean: no cancellation), with float32
			// partial sums over a plane and float64 across planes.
			k := x[c*S]
			var s, sq float64
			for b := range B {
				off := (b*C + c) * S
				rowSum, rowSq := vec.SumAndSquares(x[off:off+S], k)
				s += float64(rowSum)
				sq += float64(rowSq)
			}
			shifted := s / float64(n)
			mean := shifted + float64(k)
			variance := max(sq/float64(n)-shifted*shifted, 0)
			inv := 1 / math.Sqrt(variance+st.Eps)
			op.mean[c], op.invStd[c] = float32(mean), float32(inv)
			scale := gamma[c] * float32(inv)
			shift := beta[c] - float32(mean)*scale
			op.scale[c], op.shift[c] = scale, shift
			op.emitChannel(x, y, wk, c, B, C, S, os, scale, shift)
			st.RunningMean[c] = (1-m)*st.RunningMean[c] + m*float32(mean)
			st.RunningVar[c] = (1-m)*st.RunningVar[c] + m*float32(variance*float64(n)/float64(n-1))
		}
	})
	st.NumBatches++
	return out, nil
}

// DiffWRT: at inference only the input's gradient is defined (what a
// saliency map needs); γ and β learn in training.
func (op *BatchNorm) DiffWRT(int) []bool { return []bool{true, op.Training, op.Training} }

func (op *BatchNorm) SymDiff(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.Training {
		dx, err := G.ApplyOp(&bnEvalBackward{gradBase: newGradBase(op.name + ".dX(eval)"), fwd: op, dims: op.dims}, grad, in[1], in[2], in[0])
		return G.Nodes{dx, nil, nil}, err
	}
	bw := &bnBackward{gradBase: newGradBase(op.name + ".dX"), fwd: op, dims: op.dims}
	dx, err := G.ApplyOp(bw, grad, in[1], in[0])
	if err != nil {
		return nil, err
	}
	c := tensor.Shape{len(op.State.RunningMean)}
	dg, err := G.ApplyOp(newSideOutput(op.name+".dγ", &bw.dgamma, c), dx)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(newSideOutput(op.name+".dβ", &bw.dbeta, c), dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dg, db}, nil
}

// bnBackward computes, per channel over the N = B·S values, with
// x̂ = (x − μ)/σ recomputed rather than stored and g = dy (after a fused
// ReLU, zero where x·scale + shift ≤ 0, the forward pass's own test),
//
//	dβ = Σ g,  dγ = Σ g·x̂,  dx = γ/(σ·N) · (N·g − dβ − x̂·dγ)
//
// and leaves dγ, dβ for the side-output nodes. Inputs: dy, γ, x.
type bnBackward struct {
	gradBase
	fwd                *BatchNorm
	dims               int
	out, dgamma, dbeta buffer
}

func (op *bnBackward) Arity() int { return 3 }
func (op *bnBackward) Type() hm.Type {
	return fnType(op.dims, op.dims, 1, op.dims)
}

// InferShape gives x's shape (dy's too, unless the op pooled).
func (op *bnBackward) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[2])
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

func (op *bnBackward) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 3, vs)
	if err != nil {
		return nil, err
	}
	dy, gamma, x := ds[0], ds[1], ds[2]
	B, C, S := bnDims(ss[2])
	if len(op.fwd.mean) != C {
		return nil, fmt.Errorf("%s: forward pass has not run", op.name)
	}
	out := op.out.get(ss[2]...)
	dx := out.Data().([]float32)
	dg := op.dgamma.get(C).Data().([]float32)
	db := op.dbeta.get(C).Data().([]float32)
	f := op.fwd
	// Per plane (b, c), two passes: Σg and Σg·(x − μ) of its gradient g, then
	// dx = a·g + b·x + c; g is dy masked by the fused ReLU, and, when the op
	// pooled, routed through the pooling first — by kernels that take the
	// pooled gradient and choose again, from x, where each window's maximum
	// was (for 2×2 pooling, a channel's planes in one call each pass: an
	// 8×8 plane's work is not much more than a call's). A switch per plane,
	// not a function value: planes can be 32 floats, and a call through a
	// closure then costs a tenth of the work.
	const (
		plain = iota
		relu
		pooled1D
		pooled2D
	)
	mode := plain
	if f.ReLU {
		mode = relu
	}
	pool := f.pool
	var H, W, OH, OW int
	if pool != nil {
		H, W = planeHW(ss[2])
		OH, OW = planeHW(ss[0])
		mode = pooled1D
		if H > 1 {
			mode = pooled2D
		}
	}
	n := float32(B * S)
	parallel.ForCost(C, 2*B*S, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, inv, scale, shift := f.mean[c], f.invStd[c], f.scale[c], f.shift[c]
			var sdy, sdyx float32
			if mode == pooled2D { // the channel's planes, one per image, in one call
				sdy, sdyx = vec.SumAndDotReluPool2x2(dy[c*OH*OW:], x[c*S:], B, C*S, C*OH*OW, H, W, OH, OW, mean, scale, shift)
			} else {
				for b := range B {
					p, q := (b*C+c)*S, (b*C+c)*OH*OW
					xp := x[p : p+S]
					var s, d float32
					switch mode {
					case plain:
						s, d = vec.SumAndDot(dy[p:p+S], xp, mean)
					case relu:
						s, d = vec.SumAndDotRelu(dy[p:p+S], xp, mean, scale, shift)
					case pooled1D:
						s, d = vec.SumAndDotReluPool1x2(dy[q:q+OW], xp, mean, scale, shift)
					}
					sdy += s
					sdyx += d
				}
			}
			sdyx *= inv // Σ g·x̂
			dg[c], db[c] = sdyx, sdy
			// dx = k·(n·g − Σg − x̂·Σgx̂) with x̂ = (x − μ)·inv and k = γ·inv/n,
			// as a·g + b·x + c.
			k := gamma[c] * inv / n
			a, bx, c0 := k*n, -k*inv*sdyx, -k*sdy+k*mean*inv*sdyx
			if mode == pooled2D {
				vec.AxpbyReluPool2x2(dy[c*OH*OW:], x[c*S:], dx[c*S:], B, C*S, C*OH*OW, H, W, OH, OW, a, bx, c0, scale, shift)
				continue
			}
			for b := range B {
				p, q := (b*C+c)*S, (b*C+c)*OH*OW
				xp, dxp := x[p:p+S], dx[p:p+S]
				switch mode {
				case plain:
					vec.Axpby(dy[p:p+S], xp, dxp, a, bx, c0)
				case relu:
					vec.AxpbyRelu(dy[p:p+S], xp, dxp, a, bx, c0, scale, shift)
				case pooled1D:
					vec.AxpbyReluPool1x2(dy[q:q+OW], xp, dxp, a, bx, c0, scale, shift)
				}
			}
		}
	})
	return out, nil
}

// bnEvalBackward is the input gradient of a batch norm at inference, where
// the statistics are constants: y = x·scale + shift per channel, so
// dx = dy·scale (zero where a fused ReLU cut the output; routed through
// the maxima first where a pooling is fused in). Inputs: dy, γ, β, x.
type bnEvalBackward struct {
	gradBase
	fwd   *BatchNorm
	dims  int
	out   buffer
	plane []float32
}

func (op *bnEvalBackward) Arity() int    { return 4 }
func (op *bnEvalBackward) Type() hm.Type { return fnType(op.dims, op.dims, 1, 1, op.dims) }
func (op *bnEvalBackward) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[3])
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

func (op *bnEvalBackward) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 4, vs)
	if err != nil {
		return nil, err
	}
	dy, gamma, beta, x := ds[0], ds[1], ds[2], ds[3]
	B, C, S := bnDims(ss[3])
	out := op.out.get(ss[3]...)
	dx := out.Data().([]float32)
	st := op.fwd.State
	pool := op.fwd.pool
	if pool != nil {
		op.plane = scratch.Grow(op.plane, S)
	}
	for c := range C {
		scale := gamma[c] * float32(1/math.Sqrt(float64(st.RunningVar[c])+st.Eps))
		shift := beta[c] - st.RunningMean[c]*scale
		for b := range B {
			off := (b*C + c) * S
			var g []float32
			if pool != nil { // dy is pooled: route it to the plane's maxima first
				H, W := planeHW(ss[3])
				OH, OW := planeHW(ss[0])
				p := (b*C + c) * OH * OW
				routeMax(dy[p:p+OH*OW], pool.argmax[p:p+OH*OW], op.plane, H, W, OH, OW)
				g = op.plane
			} else {
				g = dy[off : off+S]
			}
			if op.fwd.ReLU {
				vec.AxpbyRelu(g, x[off:off+S], dx[off:off+S], scale, 0, 0, scale, shift)
			} else {
				vec.Axpby(g, x[off:off+S], dx[off:off+S], scale, 0, 0)
			}
		}
	}
	return out, nil
}
