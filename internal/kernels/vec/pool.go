package vec

import "math"

// maxPool2x2Grad routes the gradient dy of planes pooled by maxPool2x2
// back: dx (planes × h×w) is dy at each window's arg-max and zero elsewhere.

func maxPool2x2GradGo(dy []float32, argmax []int32, dx []float32, planes, h, w, oh, ow int) {
	for p := range planes {
		dxp := dx[p*h*w : (p+1)*h*w]
		clear(dxp)
		for i, g := range dy[p*oh*ow : (p+1)*oh*ow] {
			dxp[argmax[p*oh*ow+i]] += g
		}
	}
}

// maxPool2x2Affine is maxPool2x2 of planes h×w planes (x, y and argmax
// planes xs, ys and as floats apart: a channel's, one per image; as may be
// 0, each plane's arg-maxima written over the last's) mapped first by
// max(x·scale + shift, 0), exactly as affine maps it: a batch norm and
// ReLU pooled without their output being written.

func maxPool2x2AffineGo(x, y []float32, argmax []int32, planes, xs, ys, as, h, w, oh, ow int, scale, shift float32) {
	for p := range planes {
		xp, yp, ap := x[p*xs:p*xs+h*w], y[p*ys:p*ys+oh*ow], argmax[p*as:p*as+oh*ow]
		f := func(i int) float32 { return max(xp[i]*scale+shift, 0) }
		for oy := range oh {
			for ox := range ow {
				maxWindow(f, 2*oy*w+2*ox, w, &yp[oy*ow+ox], &ap[oy*ow+ox])
			}
		}
	}
}

// maxWindow pools the 2×2 window whose top-left value is f(at), picking the
// first position of the maximum as maxPoolRowGo does.
func maxWindow(f func(int) float32, at, w int, y *float32, am *int32) {
	best, pos := f(at), at
	for _, i := range [3]int{at + 1, at + w, at + w + 1} {
		if v := f(i); v > best {
			best, pos = v, i
		}
	}
	*y, *am = best, int32(pos)
}

// maxPool2x2 is the common 2×2, stride-2, unpadded max pooling of planes
// (h×w each, pooled to oh×ow), with the arg-max of each window as an index
// into its plane.

func maxPool2x2Go(x, y []float32, argmax []int32, planes, h, w, oh, ow int) {
	for p := range planes {
		xp, yp, ap := x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], argmax[p*oh*ow:(p+1)*oh*ow]
		for oy := range oh {
			maxPoolRowGo(xp[2*oy*w:2*oy*w+2*ow], xp[(2*oy+1)*w:(2*oy+1)*w+2*ow], yp[oy*ow:(oy+1)*ow], ap[oy*ow:(oy+1)*ow], int32(2*oy*w), w)
		}
	}
}

// maxPoolRowGo pools one output row from input rows r0 and r1; base is the
// plane index of r0[0].
func maxPoolRowGo(r0, r1, yr []float32, ar []int32, base int32, w int) {
	for ox := range yr {
		i := 2 * ox
		// Conditional moves rather than branches: which input wins is
		// data-dependent and would mispredict.
		best, at := r0[i], int32(0)
		if v := r0[i+1]; v > best {
			at = 1
		}
		best = max(best, r0[i+1])
		if v := r1[i]; v > best {
			at = int32(w)
		}
		best = max(best, r1[i])
		if v := r1[i+1]; v > best {
			at = int32(w + 1)
		}
		best = max(best, r1[i+1])
		yr[ox], ar[ox] = best, base+int32(i)+at
	}
}

// maxPool1x2AffineGo pools a row of pairs as maxPool2x2Affine pools 2×2
// windows (a 1-D batch norm, ReLU and window-2 max pooling in one pass):
// y[o] = max(u, v) for u, v = max(x[2o]·scale + shift, 0), max(x[2o+1]·scale
// + shift, 0) (without the max with 0 if not relu), and argmax[o] the
// position of the larger (the first on a tie). The choice comes from the sign of u − v, not a branch: on real
// signals which of a pair is larger is a coin toss the predictor loses.
func maxPool1x2AffineGo(x, y []float32, argmax []int32, scale, shift float32, relu bool) {
	x, argmax = x[:2*len(y)], argmax[:len(y)]
	clamp := uint32(0)
	if relu {
		clamp = 1
	}
	f := func(v float32) uint32 { b := math.Float32bits(v); return b &^ -(b >> 31 & clamp) } // negatives and −0 to +0
	for o := range y {
		// Fused multiply-adds, as the AVX2 kernel rounds (the same output
		// whichever kernel runs, for a row's tail too).
		ub, vb := f(fma(x[2*o], scale, shift)), f(fma(x[2*o+1], scale, shift))
		less := math.Float32bits(math.Float32frombits(ub)-math.Float32frombits(vb)) >> 31 // 1 where u < v
		argmax[o] = int32(2*o) + int32(less)
		y[o] = math.Float32frombits(ub ^ ((ub ^ vb) & -less))
	}
}

// maxPool1x2ReluGo sets y[o] = max(u, v) of each pair, as
// maxPool1x2AffineGo does with the ReLU.
func maxPool1x2ReluGo(x, y []float32, scale, shift float32) {
	x = x[:2*len(y)]
	for o := range y {
		y[o] = max(fma(x[2*o], scale, shift), fma(x[2*o+1], scale, shift), 0)
	}
}

// maxPool1x2GradGo is the gradient of a row's window-2 pooling: of each
// pair, the position argmax[o] holds (2o or 2o+1) gets dy[o], the other
// 0, and so does an unpaired last input of g. Masks, not a branch, as in
// the forward pass.
func maxPool1x2GradGo(dy []float32, argmax []int32, g []float32) {
	argmax, pairs := argmax[:len(dy)], g[:2*len(dy)]
	for o, d := range dy {
		odd := uint32(argmax[o]-int32(2*o)) & 1
		b := math.Float32bits(d)
		pairs[2*o] = math.Float32frombits(b &^ -odd)
		pairs[2*o+1] = math.Float32frombits(b & -odd)
	}
	clear(g[2*len(dy):])
}

// pool1x2Grad is a pair's share of its pooled gradient dy, through the
// ReLU and the window-2 max pooling of maxPool1x2AffineGo: the larger of
// u, v = relu(x·scale + shift) took it (the first on a tie), and passes it
// on where its ReLU did (u > 0); the other gets 0. It repeats the forward
// pass's arithmetic, so it makes the same choice, and the backward pass
// needs no stored arg-maxima: it reads x anyway.
func pool1x2Grad(dy, x0, x1, scale, shift float32) (g0, g1 float32) {
	m0, m1 := fma(x0, scale, shift), fma(x1, scale, shift)
	u, v := max(m0, 0), max(m1, 0)
	switch {
	case u < v:
		return 0, dy
	case m0 > 0:
		return dy, 0
	}
	return 0, 0
}

// sumAndDotReluPool1x2Go returns Σg and Σg·(x − c) over a row of x (an
// unpaired last value has g = 0), g the gradient pool1x2Grad routes.
func sumAndDotReluPool1x2Go(dy, x []float32, c, scale, shift float32) (s, d float32) {
	x = x[:2*len(dy)]
	for o, v := range dy {
		g0, g1 := pool1x2Grad(v, x[2*o], x[2*o+1], scale, shift)
		s += g0 + g1
		d += g0*(x[2*o]-c) + g1*(x[2*o+1]-c)
	}
	return s, d
}

// axpbyReluPool1x2Go sets out = a·g + b·x + c over a row, g as in
// sumAndDotReluPool1x2Go.
func axpbyReluPool1x2Go(dy, x, out []float32, a, b, c, scale, shift float32) {
	x = x[:len(out)]
	for o, v := range dy[:len(out)/2] {
		g0, g1 := pool1x2Grad(v, x[2*o], x[2*o+1], scale, shift)
		out[2*o] = a*g0 + b*x[2*o] + c
		out[2*o+1] = a*g1 + b*x[2*o+1] + c
	}
	for p := 2 * len(dy); p < len(out); p++ {
		out[p] = b*x[p] + c
	}
}

func fma(x, y, z float32) float32 { return float32(math.FMA(float64(x), float64(y), float64(z))) }

// pool2x2Choice is the position in its plane of the maximum of window at
// (top-left), f giving each value as the forward pooling computed it, the
// first on a tie as maxWindow picks it; and whether the gradient passes
// there (the ReLU let that maximum through).
func pool2x2Choice(f func(int) float32, at, w int) (int, bool) {
	best, pos := f(at), at
	for _, i := range [3]int{at + 1, at + w, at + w + 1} {
		if v := f(i); v > best {
			best, pos = v, i
		}
	}
	return pos, best > 0
}

// sumAndDotReluPool2x2Go returns Σg and Σg·(x − c) over planes h×w planes
// of x (xs floats apart: one channel's, image by image) whose batch norm,
// ReLU and 2×2 max pooling maxPool2x2AffineGo fused, g the pooled gradient
// dy (oh×ow a plane, dys floats apart) routed to each window's maximum —
// chosen again from x with the forward pass's arithmetic, so the backward
// pass needs no stored arg-maxima: it reads x anyway.
func sumAndDotReluPool2x2Go(dy, x []float32, planes, xs, dys, h, w, oh, ow int, c, scale, shift float32) (s, d float32) {
	for p := range planes {
		xp := x[p*xs : p*xs+h*w]
		f := func(i int) float32 { return max(xp[i]*scale+shift, 0) }
		ps, pd := sumDotPool2x2(f, dy[p*dys:], xp, w, oh, ow, 0, c)
		s, d = s+ps, d+pd
	}
	return s, d
}

// sumDotPool2x2 is sumAndDotReluPool2x2Go over windows from column from
// of each output row.
func sumDotPool2x2(f func(int) float32, dy, x []float32, w, oh, ow, from int, c float32) (s, d float32) {
	for oy := range oh {
		for ox := from; ox < ow; ox++ {
			if at, ok := pool2x2Choice(f, 2*oy*w+2*ox, w); ok {
				g := dy[oy*ow+ox]
				s += g
				d += g * (x[at] - c)
			}
		}
	}
	return s, d
}

// axpbyReluPool2x2Go sets out = a·g + b·x + c over the planes (out laid
// out as x), g as in sumAndDotReluPool2x2Go (zero outside the windows).
func axpbyReluPool2x2Go(dy, x, out []float32, planes, xs, dys, h, w, oh, ow int, a, b, c, scale, shift float32) {
	for p := range planes {
		xp := x[p*xs : p*xs+h*w]
		f := func(i int) float32 { return max(xp[i]*scale+shift, 0) }
		axpbyPool2x2(f, dy[p*dys:], xp, out[p*xs:p*xs+h*w], h, w, oh, ow, 0, a, b, c)
	}
}

// axpbyPool2x2 is axpbyReluPool2x2Go but for the windows left of column
// from of each output row (rows 0..2·oh−1, columns 0..2·from−1), which it
// leaves alone.
func axpbyPool2x2(f func(int) float32, dy, x, out []float32, h, w, oh, ow, from int, a, b, c float32) {
	x, out = x[:h*w], out[:h*w]
	for r := range h {
		lo := 0
		if r < 2*oh {
			lo = 2 * from
		}
		for i := r*w + lo; i < (r+1)*w; i++ {
			out[i] = b*x[i] + c
		}
	}
	for oy := range oh {
		for ox := from; ox < ow; ox++ {
			if at, ok := pool2x2Choice(f, 2*oy*w+2*ox, w); ok {
				out[at] = a*dy[oy*ow+ox] + b*x[at] + c
			}
		}
	}
}
