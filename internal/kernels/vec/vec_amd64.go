package vec

import "golang.org/x/sys/cpu"

//go:noescape
func affineAVX2(n int, x, y *float32, scale, shift float32, relu bool)

//go:noescape
func sumSqAVX2(n int, x *float32, k float32) (s, sq float32)

//go:noescape
func sumDotAVX2(n int, gs, h *float32, c float32) (s, d float32)

//go:noescape
func axpbyAVX2(n int, gs, x, out *float32, a, b, c float32)

//go:noescape
func reluGradAVX2(n int, y, dy, dx *float32)

//go:noescape
func addRowsAVX(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)

//go:noescape
func copyRowsAVX(dst *float32, dstStride int, src *float32, srcStride int, rows, cols int)

//go:noescape
func maxPool2x2AVX(x, y *float32, am *int32, rows, ow, w, hw int, scale, shift float32, affine bool, planes, xstep, ystep, amstep int)

//go:noescape
func maxPool2x2GradAVX(dy *float32, am *int32, dx *float32, rows, ow, w, hw int)

// maxPool2x2Fast is maxPool2x2 with 8 and 4 outputs at a time in AVX2, in
// one call for all the planes when their heights are even.
func maxPool2x2Fast(x, y []float32, argmax []int32, planes, h, w, oh, ow int) {
	q := ow &^ 3
	if q == 0 || oh == 0 || planes == 0 {
		maxPool2x2Go(x, y, argmax, planes, h, w, oh, ow)
		return
	}
	_ = x[(planes-1)*h*w+(2*oh-1)*w+2*ow-1] // bounds the assembly relies on
	_, _ = y[planes*oh*ow-1], argmax[planes*oh*ow-1]
	forPlaneRuns(planes, h, oh, func(p, n int) {
		maxPool2x2AVX(&x[p*h*w], &y[p*oh*ow], &argmax[p*oh*ow], n*oh, ow, w, h*w, 0, 0, false, 1, 0, 0, 0)
	})
	if q == ow {
		return
	}
	for p := range planes { // the rows' tails: the scalar loop on views
		xp, yp, ap := x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], argmax[p*oh*ow:(p+1)*oh*ow]
		for oy := range oh {
			r0, r1 := xp[2*oy*w+2*q:2*oy*w+2*ow], xp[(2*oy+1)*w+2*q:(2*oy+1)*w+2*ow]
			maxPoolRowGo(r0, r1, yp[oy*ow+q:(oy+1)*ow], ap[oy*ow+q:(oy+1)*ow], int32(2*oy*w+2*q), w)
		}
	}
}

// maxPool2x2AffineFast is maxPool2x2Affine in AVX2 for the whole groups of
// four outputs, all the planes in one call; the rest map their inputs as
// affineFast would at that place in the plane (fused below its last
// multiple of 8, as the assembly does).
func maxPool2x2AffineFast(x, y []float32, argmax []int32, planes, xs, ys, as, h, w, oh, ow int, scale, shift float32) {
	if oh == 0 || ow == 0 || planes == 0 {
		return
	}
	q := ow &^ 3
	if q > 0 {
		// Bounds the assembly relies on.
		_ = x[(planes-1)*xs+(2*oh-1)*w+2*ow-1]
		_, _ = y[(planes-1)*ys+oh*ow-1], argmax[(planes-1)*as+oh*ow-1]
		maxPool2x2AVX(&x[0], &y[0], &argmax[0], oh, ow, w, h*w, scale, shift, true,
			planes, 4*(xs-2*oh*w), 4*(ys-oh*ow), 4*(as-oh*ow))
		if q == ow {
			return
		}
	}
	for p := range planes {
		f := fusedMap(x[p*xs:p*xs+h*w], scale, shift)
		yp, ap := y[p*ys:p*ys+oh*ow], argmax[p*as:p*as+oh*ow]
		for oy := range oh {
			for ox := q; ox < ow; ox++ {
				maxWindow(f, 2*oy*w+2*ox, w, &yp[oy*ow+ox], &ap[oy*ow+ox])
			}
		}
	}
}

// maxPool2x2GradFast is maxPool2x2Grad in AVX2, as maxPool2x2Fast.
func maxPool2x2GradFast(dy []float32, argmax []int32, dx []float32, planes, h, w, oh, ow int) {
	q := ow &^ 3
	if q == 0 || oh == 0 || planes == 0 {
		maxPool2x2GradGo(dy, argmax, dx, planes, h, w, oh, ow)
		return
	}
	_ = dx[(planes-1)*h*w+(2*oh-1)*w+2*q-1] // bounds the assembly relies on
	_, _ = dy[planes*oh*ow-1], argmax[planes*oh*ow-1]
	if q < ow || 2*ow < w || 2*oh < h {
		// Positions the assembly does not write: clear them, then route the
		// tails' gradients.
		for p := range planes {
			dxp, dyp, ap := dx[p*h*w:(p+1)*h*w], dy[p*oh*ow:(p+1)*oh*ow], argmax[p*oh*ow:(p+1)*oh*ow]
			clear(dxp[2*oh*w:])
			for r := range 2 * oh {
				clear(dxp[r*w+2*q : (r+1)*w])
			}
			for oy := range oh {
				for i := oy*ow + q; i < (oy+1)*ow; i++ {
					dxp[ap[i]] += dyp[i]
				}
			}
		}
	}
	forPlaneRuns(planes, h, oh, func(p, n int) {
		maxPool2x2GradAVX(&dy[p*oh*ow], &argmax[p*oh*ow], &dx[p*h*w], n*oh, ow, w, h*w)
	})
}

// forPlaneRuns calls f(first, count) for runs of planes the assembly can
// take in one call: all of them when each plane is exactly 2·oh rows (the
// next plane starts where the last window row ends), else one at a time.
func forPlaneRuns(planes, h, oh int, f func(p, n int)) {
	if h == 2*oh {
		f(0, planes)
		return
	}
	for p := range planes {
		f(p, 1)
	}
}

func addRowsFast(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	c8 := cols &^ 7
	if c8 > 0 {
		_ = dst[(rows-1)*dstStride+cols-1] // bounds the assembly relies on
		_ = src[(rows-1)*srcStride+cols-1]
		addRowsAVX(&dst[0], dstStride, &src[0], srcStride, rows, c8)
	}
	if c8 < cols {
		addRowsGo(dst[c8:], dstStride, src[c8:], srcStride, rows, cols-c8)
	}
}

func copyRowsFast(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	c8 := cols &^ 7
	if c8 > 0 {
		_ = dst[(rows-1)*dstStride+cols-1]
		_ = src[(rows-1)*srcStride+cols-1]
		copyRowsAVX(&dst[0], dstStride, &src[0], srcStride, rows, c8)
	}
	if c8 < cols {
		copyRowsGo(dst[c8:], dstStride, src[c8:], srcStride, rows, cols-c8)
	}
}

//go:noescape
func maxPool1x2AffineAVX2(n int, x, y *float32, argmax *int32, scale, shift float32, base *int32, relu bool)

// pairBase is the arg-max of the first eight pairs when the first wins.
var pairBase = [8]int32{0, 2, 4, 6, 8, 10, 12, 14}

func maxPool1x2AffineFast(x, y []float32, argmax []int32, scale, shift float32, relu bool) {
	n := len(y) &^ 7
	if n > 0 {
		_, _ = x[2*n-1], argmax[n-1]
		maxPool1x2AffineAVX2(n, &x[0], &y[0], &argmax[0], scale, shift, &pairBase[0], relu)
	}
	maxPool1x2AffineGo(x[2*n:], y[n:], argmax[n:], scale, shift, relu)
	for o := n; o < len(y); o++ {
		argmax[o] += int32(2 * n)
	}
}

//go:noescape
func maxPool1x2ReluAVX2(n int, x, y *float32, scale, shift float32)

func maxPool1x2ReluFast(x, y []float32, scale, shift float32) {
	n := len(y) &^ 7
	if n > 0 {
		_ = x[2*n-1]
		maxPool1x2ReluAVX2(n, &x[0], &y[0], scale, shift)
	}
	maxPool1x2ReluGo(x[2*n:], y[n:], scale, shift)
}

//go:noescape
func maxPool1x2GradAVX2(n int, dy *float32, argmax *int32, grad *float32, base *int32)

func maxPool1x2GradFast(dy []float32, argmax []int32, g []float32) {
	n := len(dy) &^ 7
	if n > 0 {
		_, _ = argmax[n-1], g[2*n-1]
		maxPool1x2GradAVX2(n, &dy[0], &argmax[0], &g[0], &pairBase[0])
	}
	tail := argmax[n:len(dy)]
	for o, d := range dy[n:] {
		k := 2*(n+o) + int(tail[o]-int32(2*(n+o)))&1
		g[2*(n+o)], g[2*(n+o)+1] = 0, 0
		g[k] = d
	}
	clear(g[2*len(dy):])
}

//go:noescape
func sumDotReluPool1x2AVX2(n int, dy, x *float32, c, scale, shift float32) (s, d float32)

//go:noescape
func axpbyReluPool1x2AVX2(n int, dy, x, out *float32, a, b, c, scale, shift float32)

// The pooled row is split as maxPool1x2AffineFast splits it (eight outputs
// at a time, then the portable tail), so each pair is judged by the kernel
// that pooled it.

func sumAndDotReluPool1x2Fast(dy, x []float32, c, scale, shift float32) (float32, float32) {
	n := len(dy) &^ 7
	var s, d float32
	if n > 0 {
		_ = x[2*n-1]
		s, d = sumDotReluPool1x2AVX2(n, &dy[0], &x[0], c, scale, shift)
	}
	s2, d2 := sumAndDotReluPool1x2Go(dy[n:], x[2*n:], c, scale, shift)
	return s + s2, d + d2
}

func axpbyReluPool1x2Fast(dy, x, out []float32, a, b, c, scale, shift float32) {
	n := len(dy) &^ 7
	if n > 0 {
		_, _ = x[2*n-1], out[2*n-1]
		axpbyReluPool1x2AVX2(n, &dy[0], &x[0], &out[0], a, b, c, scale, shift)
	}
	axpbyReluPool1x2Go(dy[n:], x[2*n:], out[2*n:], a, b, c, scale, shift)
}

func affineFast(x, y []float32, scale, shift float32, relu bool) {
	n := len(x) &^ 7
	if n > 0 {
		_ = y[n-1]
		affineAVX2(n, &x[0], &y[0], scale, shift, relu)
	}
	affineGo(x[n:], y[n:], scale, shift, relu)
}

func sumAndSquaresFast(x []float32, k float32) (float32, float32) {
	n := len(x) &^ 7
	var s, sq float32
	if n > 0 {
		s, sq = sumSqAVX2(n, &x[0], k)
	}
	s2, sq2 := sumAndSquaresGo(x[n:], k)
	return s + s2, sq + sq2
}

//go:noescape
func sumDotReluAVX2(n int, gs, h *float32, c, scale, shift float32) (s, d float32)

//go:noescape
func axpbyReluAVX2(n int, gs, x, out *float32, a, b, c, scale, shift float32)

// sumAndDotReluFast and axpbyReluFast split their work as affineFast does,
// so each element's ReLU mask is computed by the same instructions as in the
// forward pass.
func sumAndDotReluFast(g, h []float32, c, scale, shift float32) (float32, float32) {
	n := len(g) &^ 7
	var s, d float32
	if n > 0 {
		_ = h[n-1]
		s, d = sumDotReluAVX2(n, &g[0], &h[0], c, scale, shift)
	}
	s2, d2 := sumAndDotReluGo(g[n:], h[n:], c, scale, shift)
	return s + s2, d + d2
}

func axpbyReluFast(g, x, out []float32, a, b, c, scale, shift float32) {
	n := len(g) &^ 7
	if n > 0 {
		_, _ = x[n-1], out[n-1]
		axpbyReluAVX2(n, &g[0], &x[0], &out[0], a, b, c, scale, shift)
	}
	axpbyReluGo(g[n:], x[n:], out[n:], a, b, c, scale, shift)
}

func sumAndDotFast(g, h []float32, c float32) (float32, float32) {
	n := len(g) &^ 7
	var s, d float32
	if n > 0 {
		_ = h[n-1]
		s, d = sumDotAVX2(n, &g[0], &h[0], c)
	}
	s2, d2 := sumAndDotGo(g[n:], h[n:], c)
	return s + s2, d + d2
}

//go:noescape
func momentumAVX2(n int, w, grad, v *float32, mu, lr, wd float32, nesterov bool)

func momentumFast(w, g, v []float32, mu, lr, wd float32, nesterov bool) {
	n := len(w) &^ 7
	if n > 0 {
		_, _ = g[n-1], v[n-1]
		momentumAVX2(n, &w[0], &g[0], &v[0], mu, lr, wd, nesterov)
	}
	momentumGo(w[n:], g[n:], v[n:], mu, lr, wd, nesterov)
}

//go:noescape
func adamAVX2(n int, w, grad, m, v *float32, s *AdamStep)

func adamFast(w, g, m, v []float32, s AdamStep) {
	n := len(w) &^ 7
	if n > 0 {
		_, _, _ = g[n-1], m[n-1], v[n-1]
		adamAVX2(n, &w[0], &g[0], &m[0], &v[0], &s)
	}
	adamGo(w[n:], g[n:], m[n:], v[n:], s)
}

func axpbyFast(g, x, out []float32, a, b, c float32) {
	n := len(g) &^ 7
	if n > 0 {
		_, _ = x[n-1], out[n-1]
		axpbyAVX2(n, &g[0], &x[0], &out[0], a, b, c)
	}
	axpbyGo(g[n:], x[n:], out[n:], a, b, c)
}

func reluGradFast(y, dy, dx []float32) {
	n := len(y) &^ 7
	if n > 0 {
		_, _ = dy[n-1], dx[n-1]
		reluGradAVX2(n, &y[0], &dy[0], &dx[0])
	}
	reluGradGo(y[n:], dy[n:], dx[n:])
}

// HasAVX2 reports whether the AVX2 kernels are in use (AVX2 and FMA;
// GODEBUG=cpu.avx2=off turns them off, for tests and measurements).
var HasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// init chooses the implementations: this is the one place that does.
func init() {
	if HasAVX2 {
		Affine, SumAndSquares, SumAndDot, Axpby, ReluGrad = affineFast, sumAndSquaresFast, sumAndDotFast, axpbyFast, reluGradFast
		AddRowSums = addRowSumsFast
		SumAndDotRelu, AxpbyRelu = sumAndDotReluFast, axpbyReluFast
		Momentum, Adam = momentumFast, adamFast
		AddRows, CopyRows = addRowsFast, copyRowsFast
		MaxPool2x2, MaxPool2x2Grad, MaxPool2x2Affine = maxPool2x2Fast, maxPool2x2GradFast, maxPool2x2AffineFast
		MaxPool1x2Affine, MaxPool1x2Relu, MaxPool1x2Grad = maxPool1x2AffineFast, maxPool1x2ReluFast, maxPool1x2GradFast
		SumAndDotReluPool1x2, AxpbyReluPool1x2 = sumAndDotReluPool1x2Fast, axpbyReluPool1x2Fast
		SumAndDotReluPool2x2, AxpbyReluPool2x2 = sumAndDotReluPool2x2Fast, axpbyReluPool2x2Fast
	}
	if HasAVX512 {
		// Masked tails: a ResNet's 7-, 14- and 28-wide rows in one pass
		// each (AVX2 leaves their last cols%8 to a scalar loop).
		AddRows, CopyRows = addRows512, copyRows512
		GatherRows, ScatterAddRows = gatherRows512, scatterAddRows512
	}
}

//go:noescape
func sumDotReluPool2x2AVX2(dy, x *float32, rows, ow, q, w, planes, xstep, dystep int, c, scale, shift float32) (s, d float32)

//go:noescape
func axpbyReluPool2x2AVX2(dy, x, out *float32, rows, ow, q, w, planes, xstep, dystep int, a, b, c, scale, shift float32)

// fusedMap is how maxPool2x2AffineFast maps plane value i outside its
// assembly: fused below the plane's last multiple of 8, as the assembly
// rounds.
func fusedMap(x []float32, scale, shift float32) func(int) float32 {
	vec := len(x) &^ 7
	return func(i int) float32 {
		if i < vec {
			return max(fma(x[i], scale, shift), 0)
		}
		return max(x[i]*scale+shift, 0)
	}
}

// The pooled plane is split as maxPool2x2AffineFast splits it (groups of
// four windows in the assembly, the rest by fusedMap), so each window is
// judged by the arithmetic that pooled it.

func sumAndDotReluPool2x2Fast(dy, x []float32, planes, xs, dys, h, w, oh, ow int, c, scale, shift float32) (float32, float32) {
	q := ow &^ 3
	var s, d float32
	if q > 0 && oh > 0 && planes > 0 {
		// Bounds the assembly relies on; after a plane's rows it moves on to
		// the next plane's first.
		_, _ = x[(planes-1)*xs+(2*oh-1)*w+2*ow-1], dy[(planes-1)*dys+oh*ow-1]
		s, d = sumDotReluPool2x2AVX2(&dy[0], &x[0], oh, ow, q, w, planes, 4*(xs-2*oh*w), 4*(dys-oh*ow), c, scale, shift)
		if q == ow {
			return s, d
		}
	}
	for p := range planes {
		xp := x[p*xs : p*xs+h*w]
		ps, pd := sumDotPool2x2(fusedMap(xp, scale, shift), dy[p*dys:], xp, w, oh, ow, q, c)
		s, d = s+ps, d+pd
	}
	return s, d
}

func axpbyReluPool2x2Fast(dy, x, out []float32, planes, xs, dys, h, w, oh, ow int, a, b, c, scale, shift float32) {
	q := ow &^ 3
	if q > 0 && oh > 0 && planes > 0 {
		_, _ = x[(planes-1)*xs+(2*oh-1)*w+2*ow-1], dy[(planes-1)*dys+oh*ow-1]
		_ = out[(planes-1)*xs+(2*oh-1)*w+2*ow-1]
		axpbyReluPool2x2AVX2(&dy[0], &x[0], &out[0], oh, ow, q, w, planes, 4*(xs-2*oh*w), 4*(dys-oh*ow), a, b, c, scale, shift)
	}
	if q > 0 && q == ow && 2*ow == w && 2*oh == h {
		return
	}
	for p := range planes {
		xp := x[p*xs : p*xs+h*w]
		axpbyPool2x2(fusedMap(xp, scale, shift), dy[p*dys:], xp, out[p*xs:p*xs+h*w], h, w, oh, ow, q, a, b, c)
	}
}

//go:noescape
func addRowSumsAVX2(n int, src *float32, rows, stride int, dst *float32)

func addRowSumsFast(dst, src []float32, cols int) {
	n := cols &^ 7
	if n > 0 && len(dst) > 0 {
		_ = src[(len(dst)-1)*cols+n-1] // bounds the assembly relies on
		addRowSumsAVX2(n, &src[0], len(dst), cols, &dst[0])
	}
	if n < cols {
		for r := range dst {
			for _, v := range src[r*cols+n : (r+1)*cols] {
				dst[r] += v
			}
		}
	}
}
