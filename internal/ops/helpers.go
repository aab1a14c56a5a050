package ops

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// grow returns s resized to n elements, reallocating only when it must.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		TensorAllocs.Add(1)
		return make([]T, n)
	}
	return s[:n]
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

func sum(s []float32) float32 {
	t, _ := sumAndSquares(s, 0)
	return t
}

// reduceInto sets dst to the sum of nw per-worker partials laid out with
// stride apart in src (src[w*stride : w*stride+len(dst)]), in worker order.
func reduceInto(dst, src []float32, nw, stride int) {
	// Element by element, in worker order: the same sums however the
	// elements are shared out.
	parallelCost(len(dst), nw, func(_, lo, hi int) {
		copy(dst[lo:hi], src[lo:hi])
		for w := 1; w < nw; w++ {
			addSpan(dst[lo:hi], src[w*stride+lo:w*stride+hi])
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

// sumAndSquares returns Σ(x − k) and Σ(x − k)². With k near the mean,
// the variance computed from them does not suffer cancellation.
// sumAndSquares, sumAndDot, affine, axpby and reluGrad are element-wise
// kernels with portable Go versions (…Go) and AVX2 versions where the CPU has
// them (…Fast, selected at start-up).
var (
	sumAndSquares = sumAndSquaresGo
	sumAndDot     = sumAndDotGo
	affine        = affineGo
	axpby         = axpbyGo
	reluGrad      = reluGradGo
)

func sumAndSquaresGo(x []float32, k float32) (s, sq float32) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a, b, c, d := v[0]-k, v[1]-k, v[2]-k, v[3]-k
		s0, s1, s2, s3 = s0+a, s1+b, s2+c, s3+d
		q0, q1, q2, q3 = q0+a*a, q1+b*b, q2+c*c, q3+d*d
	}
	for ; i < len(x); i++ {
		a := x[i] - k
		s0 += a
		q0 += a * a
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// sumAndDot returns Σg and Σg·(h − c).
func sumAndDotGo(g, h []float32, c float32) (s, d float32) {
	h = h[:len(g)]
	var s0, s1, s2, s3, d0, d1, d2, d3 float32
	i := 0
	for ; i+4 <= len(g); i += 4 {
		a, b := g[i:i+4:i+4], h[i:i+4:i+4]
		s0, s1, s2, s3 = s0+a[0], s1+a[1], s2+a[2], s3+a[3]
		d0, d1, d2, d3 = d0+a[0]*(b[0]-c), d1+a[1]*(b[1]-c), d2+a[2]*(b[2]-c), d3+a[3]*(b[3]-c)
	}
	for ; i < len(g); i++ {
		s0 += g[i]
		d0 += g[i] * (h[i] - c)
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}

// sumAndDotRelu and axpbyRelu are sumAndDot and axpby with g masked by a
// ReLU that followed the batch norm: g counts where h·scale + shift > 0,
// the test the forward pass's affine made (the same arithmetic, so the same
// mask), and is 0 elsewhere. The backward pass then needs no masked copy of
// the gradient, and reads the ReLU's output not at all.
var (
	sumAndDotRelu = sumAndDotReluGo
	axpbyRelu     = axpbyReluGo
)

func sumAndDotReluGo(g, h []float32, c, scale, shift float32) (s, d float32) {
	h = h[:len(g)]
	var s0, d0 float32
	for i, v := range g {
		if h[i]*scale+shift > 0 {
			s0 += v
			d0 += v * (h[i] - c)
		}
	}
	return s0, d0
}

func axpbyReluGo(g, x, out []float32, a, b, c, scale, shift float32) {
	x, out = x[:len(g)], out[:len(g)]
	for i, v := range g {
		if !(x[i]*scale+shift > 0) {
			v = 0
		}
		out[i] = a*v + b*x[i] + c
	}
}

// axpbyGo sets out = a·g + b·x + c.
func axpbyGo(g, x, out []float32, a, b, c float32) {
	x, out = x[:len(g)], out[:len(g)]
	for i, v := range g {
		out[i] = a*v + b*x[i] + c
	}
}

// Momentum is SGD with momentum's update of one parameter tensor, as
// PyTorch does it: g' = g + wd·w; v = mu·v + g'; w −= lr·v, or lr·(g' + mu·v)
// with Nesterov. It lives here, with the other element-wise kernels, because
// the update reads and writes every parameter each step: vectorised, it costs
// a quarter of the scalar loop.
var Momentum = momentumGo

func momentumGo(w, g, v []float32, mu, lr, wd float32, nesterov bool) {
	g, v = g[:len(w)], v[:len(w)]
	for j := range w {
		gj := g[j] + wd*w[j]
		v[j] = mu*v[j] + gj
		if nesterov {
			w[j] -= lr * (gj + mu*v[j])
		} else {
			w[j] -= lr * v[j]
		}
	}
}

// sameFloats reports whether a and b hold the same bits, comparing memory
// the fast way.
func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	ab := unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a))
	bb := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b))
	return bytes.Equal(ab, bb)
}
