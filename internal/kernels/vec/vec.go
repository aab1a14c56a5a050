// Package vec holds the element-wise and row-moving kernels of the ops —
// batch norm's affine map and reductions (plain, and masked by a ReLU that
// follows), the ReLU gradient, the momentum update, runs of copies and adds,
// 2×2 max pooling and its gradient — each a function variable that starts as
// its portable Go version (…Go) and is set once, in init (vec_amd64.go), to
// the AVX2 version where the CPU has AVX2 and FMA. Tests compare the two on
// odd sizes.
package vec

import (
	"bytes"
	"math"
	"unsafe"
)

func Fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

func Sum(s []float32) float32 {
	t, _ := SumAndSquares(s, 0)
	return t
}

// addRowSumsGo adds to dst[r] the sum of row r of src (cols floats a row):
// a layer's bias gradient, its output gradient summed over each plane.
func addRowSumsGo(dst, src []float32, cols int) {
	for r := range dst {
		var t float32
		for _, v := range src[r*cols : (r+1)*cols] {
			t += v
		}
		dst[r] += t
	}
}

// The kernels in use: each starts as its portable Go version; init in
// vec_amd64.go swaps in the AVX2 ones.
var (
	// AddRowSums adds to dst[r] the sum of row r of src (cols floats a row),
	// for r < len(dst): a layer's bias gradient, a plane's gradient a row.
	AddRowSums = addRowSumsGo
	// SumAndSquares returns Σ(x − k) and Σ(x − k)². With k near the mean,
	// the variance computed from them does not suffer cancellation.
	SumAndSquares = sumAndSquaresGo
	// SumAndDot returns Σg and Σg·(h − c).
	SumAndDot = sumAndDotGo
	// Affine sets y = x·scale + shift, clamped at 0 if relu.
	Affine = affineGo
	// Axpby sets out = a·g + b·x + c.
	Axpby = axpbyGo
	// ReluGrad sets dx = dy where y > 0, else 0.
	ReluGrad = reluGradGo
	// SumAndDotRelu and AxpbyRelu are SumAndDot and Axpby with g masked by
	// a ReLU that followed the batch norm (see sumAndDotReluGo).
	SumAndDotRelu = sumAndDotReluGo
	AxpbyRelu     = axpbyReluGo
	// Momentum is SGD with momentum's update of one tensor (momentumGo).
	Momentum = momentumGo
	// Adam is Adam's update of one tensor (adamGo).
	Adam = adamGo
	// AddRows and CopyRows move 2-D spans (addRowsGo).
	AddRows  = addRowsGo
	CopyRows = copyRowsGo
	// GatherRows and ScatterAddRows are CopyRows and AddRows with a step
	// on the image's side: a strided convolution's im2col and col2im
	// (gatherRowsGo).
	GatherRows     = gatherRowsGo
	ScatterAddRows = scatterAddRowsGo
	// MaxPool2x2, MaxPool2x2Grad and MaxPool2x2Affine are 2×2 stride-2 max
	// pooling of planes, its gradient, and pooling of a batch norm's
	// output as it is computed (pool.go).
	MaxPool2x2       = maxPool2x2Go
	MaxPool2x2Grad   = maxPool2x2GradGo
	MaxPool2x2Affine = maxPool2x2AffineGo
	// MaxPool1x2Affine is MaxPool2x2Affine along a row: a 1-D batch norm,
	// ReLU and window-2 pooling (pool.go).
	MaxPool1x2Affine = maxPool1x2AffineGo
	// MaxPool1x2Relu is MaxPool1x2Affine (with the ReLU) without the
	// arg-maxima, for training, whose backward pass chooses again (pool.go).
	MaxPool1x2Relu = maxPool1x2ReluGo
	// MaxPool1x2Grad routes a window-2 pooling's gradient to the arg-maxima
	// MaxPool1x2Affine chose (pool.go).
	MaxPool1x2Grad = maxPool1x2GradGo
	// SumAndDotReluPool1x2 and AxpbyReluPool1x2 are SumAndDotRelu and
	// AxpbyRelu of a row whose ReLU output was pooled by MaxPool1x2Affine,
	// given the pooled gradient: the pooling's choice is made again from x
	// (pool.go).
	SumAndDotReluPool1x2 = sumAndDotReluPool1x2Go
	AxpbyReluPool1x2     = axpbyReluPool1x2Go
	// SumAndDotReluPool2x2 and AxpbyReluPool2x2 are the same for h×w
	// planes pooled 2×2 by MaxPool2x2Affine — a channel's, one per image,
	// in one call: the pooling's choice is made again from x, so training
	// keeps no arg-maxima (pool.go).
	SumAndDotReluPool2x2 = sumAndDotReluPool2x2Go
	AxpbyReluPool2x2     = axpbyReluPool2x2Go
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

// AdamStep holds what Adam's update of step t shares across elements:
// β₁, β₂, 1 − β₁ and 1 − β₂ (as PyTorch rounds them), lr/(1 − β₁ᵗ), the
// second moment's correction 1 − β₂ᵗ, ε and the weight decay.
type AdamStep struct {
	B1, B2, OB1, OB2, Step, BC2, Eps, WD float32
}

// adamGo is Adam's update as PyTorch defines it: g' = g + wd·w;
// m = β₁m + (1−β₁)g'; v = β₂v + (1−β₂)g'²; w −= step·m / (√(v/bc2) + ε).
// Vectorised (8 lanes, a hardware square root and division), it costs a
// tenth of this loop, which was 2–3 % of a small network's training step.
func adamGo(w, g, m, v []float32, s AdamStep) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j := range w {
		gj := g[j] + s.WD*w[j]
		m[j] = s.B1*m[j] + s.OB1*gj
		v[j] = s.B2*v[j] + s.OB2*gj*gj
		w[j] -= s.Step * m[j] / (float32(math.Sqrt(float64(v[j]/s.BC2))) + s.Eps)
	}
}

// sameFloats reports whether a and b hold the same bits, comparing memory
// the fast way.
func SameFloats(a, b []float32) bool {
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

// affineGo writes y = x·scale + shift, clamped at 0 when relu is set.
func affineGo(x, y []float32, scale, shift float32, relu bool) {
	y = y[:len(x)]
	if relu {
		for i, v := range x {
			y[i] = max(v*scale+shift, 0)
		}
		return
	}
	for i, v := range x {
		y[i] = v*scale + shift
	}
}

// reluGradGo sets dx = dy where y > 0 and 0 elsewhere, without branches.
// For y = max(x, 0) ≥ 0, y > 0 exactly when its bit pattern, as an int32,
// is positive.
func reluGradGo(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		mask := ^uint32((int32(math.Float32bits(v)) - 1) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & mask)
	}
}

// CopySpan and AddSpan move the short runs im2col and col2im are made of
// (often 8 to 24 floats: a call to memmove costs more than the copy) in
// blocks of 8 through array values, which compile to vector moves.
func CopySpan(dst, src []float32) {
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
func AddSpan(dst, src []float32) {
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

func addRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	for r := range rows {
		AddSpan(dst[r*dstStride:], src[r*srcStride:r*srcStride+cols])
	}
}

func copyRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	for r := range rows {
		CopySpan(dst[r*dstStride:r*dstStride+cols], src[r*srcStride:])
	}
}

// gatherRows sets dst[r*dstStride+j] = src[r*srcStride+j*step], and
// scatterAddRows dst[r*dstStride+j*step] += src[r*srcStride+j], for
// r < rows, j < cols.
func gatherRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols, step int) {
	for r := range rows {
		d, s := dst[r*dstStride:][:cols], src[r*srcStride:][:(cols-1)*step+1]
		for j := range d {
			d[j] = s[j*step]
		}
	}
}

func scatterAddRowsGo(dst []float32, dstStride int, src []float32, srcStride int, rows, cols, step int) {
	for r := range rows {
		d, s := dst[r*dstStride:][:(cols-1)*step+1], src[r*srcStride:][:cols]
		for j, v := range s {
			d[j*step] += v
		}
	}
}
