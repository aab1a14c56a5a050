package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorKernels compares the AVX2 element-wise kernels with the
// portable ones, on lengths around the 8- and 16-wide blocks.
func TestVectorKernels(t *testing.T) {
	if !HasAVX2 {
		t.Log("no AVX2: the fast kernels are the portable ones")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	near := func(a, b float32, n int) bool {
		return math.Abs(float64(a-b)) <= 1e-5*float64(n+1)*(1+math.Abs(float64(b)))
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 33, 576, 1001} {
		x, g := randSlice(rng, n), randSlice(rng, n)
		for _, relu := range []bool{false, true} {
			a, b := make([]float32, n), make([]float32, n)
			affineGo(x, a, 1.5, -0.25, relu)
			affineFast(x, b, 1.5, -0.25, relu)
			for i := range a {
				if !near(b[i], a[i], 1) {
					t.Fatalf("affine n=%d relu=%v [%d]: %v vs %v", n, relu, i, b[i], a[i])
				}
			}
		}
		s1, q1 := sumAndSquaresGo(x, 0.3)
		s2, q2 := sumAndSquaresFast(x, 0.3)
		if !near(s2, s1, n) || !near(q2, q1, n) {
			t.Errorf("sumAndSquares n=%d: %v %v vs %v %v", n, s2, q2, s1, q1)
		}
		s1, d1 := sumAndDotGo(g, x, -0.2)
		s2, d2 := sumAndDotFast(g, x, -0.2)
		if !near(s2, s1, n) || !near(d2, d1, n) {
			t.Errorf("sumAndDot n=%d: %v %v vs %v %v", n, s2, d2, s1, d1)
		}
		// The ReLU-masked pair must let the gradient through exactly where
		// the forward pass's affine (the same build's) gave y > 0, also
		// where x·1.5 − 0.25 rounds to 0 (x = 1/6).
		xr := append([]float32(nil), x...)
		for i := range xr {
			if i%5 == 0 {
				xr[i] = 1.0 / 6
			}
		}
		type reluKernels struct {
			Affine func(x, y []float32, scale, shift float32, relu bool)
			sumDot func(g, h []float32, c, scale, shift float32) (float32, float32)
			Axpby  func(g, x, out []float32, a, b, c, scale, shift float32)
		}
		for name, k := range map[string]reluKernels{"go": {affineGo, sumAndDotReluGo, axpbyReluGo}, "fast": {affineFast, sumAndDotReluFast, axpbyReluFast}} {
			y := make([]float32, n)
			k.Affine(xr, y, 1.5, -0.25, true)
			var ws, wd float32
			want := make([]float32, n)
			for i := range y {
				gi := float32(0)
				if y[i] > 0 {
					gi = g[i]
					ws += g[i]
					wd += g[i] * (xr[i] + 0.2)
				}
				want[i] = 2*gi - 3*xr[i] + 0.5
			}
			s, d := k.sumDot(g, xr, -0.2, 1.5, -0.25)
			if !near(s, ws, n) || !near(d, wd, n) {
				t.Errorf("sumAndDotRelu %s n=%d: %v %v, want %v %v", name, n, s, d, ws, wd)
			}
			got := make([]float32, n)
			k.Axpby(g, xr, got, 2, -3, 0.5, 1.5, -0.25)
			for i := range got {
				if !near(got[i], want[i], 1) {
					t.Fatalf("axpbyRelu %s n=%d [%d]: %v, want %v", name, n, i, got[i], want[i])
				}
			}
		}
		a, b := make([]float32, n), make([]float32, n)
		axpbyGo(g, x, a, 2, -3, 0.5)
		axpbyFast(g, x, b, 2, -3, 0.5)
		for i := range a {
			if !near(b[i], a[i], 1) {
				t.Fatalf("axpby n=%d [%d]: %v vs %v", n, i, b[i], a[i])
			}
		}
		for _, cols := range []int{1, 8, 11, 24} {
			rows := n / 40
			src := randSlice(rng, rows*(cols+3)+1)
			d1, d2 := randSlice(rng, rows*(cols+5)+1), make([]float32, rows*(cols+5)+1)
			copy(d2, d1)
			addRowsGo(d1, cols+5, src, cols+3, rows, cols)
			addRowsFast(d2, cols+5, src, cols+3, rows, cols)
			for i := range d1 {
				if d1[i] != d2[i] {
					t.Fatalf("addRows rows=%d cols=%d [%d]: %v vs %v", rows, cols, i, d2[i], d1[i])
				}
			}
			copyRowsGo(d1, cols+5, src, cols+3, rows, cols)
			copyRowsFast(d2, cols+5, src, cols+3, rows, cols)
			for i := range d1 {
				if d1[i] != d2[i] {
					t.Fatalf("copyRows rows=%d cols=%d [%d]: %v vs %v", rows, cols, i, d2[i], d1[i])
				}
			}
		}
		for _, nesterov := range []bool{false, true} {
			w1, v1 := randSlice(rng, n), randSlice(rng, n)
			w2, v2 := append([]float32(nil), w1...), append([]float32(nil), v1...)
			for range 2 { // the second step reads the velocity the first wrote
				momentumGo(w1, g, v1, 0.9, 0.05, 1e-3, nesterov)
				momentumFast(w2, g, v2, 0.9, 0.05, 1e-3, nesterov)
			}
			for i := range w1 {
				if !near(w2[i], w1[i], 1) || !near(v2[i], v1[i], 1) {
					t.Fatalf("momentum n=%d nesterov=%v [%d]: w %v v %v, want %v %v", n, nesterov, i, w2[i], v2[i], w1[i], v1[i])
				}
			}
		}
		for _, wd := range []float32{0, 1e-2} {
			w1, m1, v1 := randSlice(rng, n), randSlice(rng, n), randSlice(rng, n)
			for i := range v1 {
				v1[i] *= v1[i] // a second moment is not negative
			}
			w2, m2, v2 := append([]float32(nil), w1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
			for step := 1; step <= 2; step++ { // the second step reads the moments the first wrote
				s := AdamStep{B1: 0.9, B2: 0.999, OB1: 0.1, OB2: 0.001, Step: 1e-3 / float32(1-math.Pow(0.9, float64(step))),
					BC2: float32(1 - math.Pow(0.999, float64(step))), Eps: 1e-8, WD: wd}
				adamGo(w1, g, m1, v1, s)
				adamFast(w2, g, m2, v2, s)
			}
			for i := range w1 {
				if !near(w2[i], w1[i], 1) || !near(m2[i], m1[i], 1) || !near(v2[i], v1[i], 1) {
					t.Fatalf("adam n=%d wd=%v [%d]: w %v m %v v %v, want %v %v %v", n, wd, i, w2[i], m2[i], v2[i], w1[i], m1[i], v1[i])
				}
			}
		}
		y := make([]float32, n)
		affineGo(x, y, 1, 0, true) // a ReLU output: zeros and positives
		a, b = make([]float32, n), make([]float32, n)
		reluGradGo(y, g, a)
		reluGradFast(y, g, b)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("reluGrad n=%d [%d]: %v vs %v", n, i, b[i], a[i])
			}
		}
	}
}

// TestMaxPoolKernels compares the AVX2 2×2 max pool and its gradient with
// the portable ones,
// including ties (ReLU outputs are often 0), where the first position wins,
// and planes with odd sizes or rows that end in a scalar tail.
func TestMaxPoolKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, hw := range [][2]int{{24, 24}, {8, 8}, {6, 38}, {17, 35}, {12, 12}, {4, 6}, {2, 2}, {9, 16}} {
		for _, planes := range []int{1, 3} {
			h, w := hw[0], hw[1]
			x := randSlice(rng, planes*h*w)
			for i := range x {
				if rng.IntN(2) == 0 {
					x[i] = 0
				}
			}
			oh, ow := h/2, w/2
			n := planes * oh * ow
			y1, y2 := make([]float32, n), make([]float32, n)
			a1, a2 := make([]int32, n), make([]int32, n)
			maxPool2x2Go(x, y1, a1, planes, h, w, oh, ow)
			maxPool2x2Fast(x, y2, a2, planes, h, w, oh, ow)
			for i := range y1 {
				if y1[i] != y2[i] || a1[i] != a2[i] {
					t.Fatalf("%d×%dx%d output %d: fast (%v at %d), portable (%v at %d)", planes, h, w, i, y2[i], a2[i], y1[i], a1[i])
				}
			}
			// The gradient, into planes holding garbage (it must all be
			// overwritten).
			dy := randSlice(rng, n)
			d1, d2 := randSlice(rng, planes*h*w), randSlice(rng, planes*h*w)
			maxPool2x2GradGo(dy, a1, d1, planes, h, w, oh, ow)
			maxPool2x2GradFast(dy, a1, d2, planes, h, w, oh, ow)
			for i := range d1 {
				if d1[i] != d2[i] {
					t.Fatalf("%d×%dx%d gradient %d: fast %v, portable %v", planes, h, w, i, d2[i], d1[i])
				}
			}
		}
	}
}

// TestMaxPoolAffineKernels checks that pooling with the batch norm and ReLU
// applied on the fly gives exactly what affine followed by maxPool2x2 gives
// (values and arg-max positions), with the portable and the fast kernels,
// on planes with and without row tails.
func TestMaxPoolAffineKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	type kernels struct {
		Affine func(x, y []float32, scale, shift float32, relu bool)
		pool   func(x, y []float32, argmax []int32, planes, h, w, oh, ow int)
		fused  func(x, y []float32, argmax []int32, planes, xs, ys, as, h, w, oh, ow int, scale, shift float32)
	}
	const planes = 3 // a call's, with gaps between them
	for name, k := range map[string]kernels{
		"go":   {affineGo, maxPool2x2Go, maxPool2x2AffineGo},
		"fast": {affineFast, maxPool2x2Fast, maxPool2x2AffineFast},
	} {
		for _, hw := range [][2]int{{24, 24}, {8, 8}, {6, 38}, {17, 35}, {12, 12}, {4, 6}, {5, 5}} {
			for _, ss := range [][2]float32{{1.5, -0.25}, {-0.7, 0.1}} {
				h, w := hw[0], hw[1]
				oh, ow := h/2, w/2
				xs, ys := h*w+3, oh*ow+2
				x := randSlice(rng, planes*xs)
				for i := range x {
					if i%7 == 0 {
						x[i] = 1.0 / 6 // x·1.5 − 0.25 rounds to 0 without FMA
					}
				}
				y2, a2 := make([]float32, planes*ys), make([]int32, planes*ys)
				for i := range y2 {
					y2[i], a2[i] = 7, 7 // the gaps must keep them
				}
				k.fused(x, y2, a2, planes, xs, ys, ys, h, w, oh, ow, ss[0], ss[1])
				last := make([]int32, oh*ow) // each plane's arg-maxima over the last's
				yl := make([]float32, planes*ys)
				k.fused(x, yl, last, planes, xs, ys, 0, h, w, oh, ow, ss[0], ss[1])
				for p := range planes {
					mapped := make([]float32, h*w)
					k.Affine(x[p*xs:p*xs+h*w], mapped, ss[0], ss[1], true)
					y1, a1 := make([]float32, oh*ow), make([]int32, oh*ow)
					k.pool(mapped, y1, a1, 1, h, w, oh, ow)
					for i := range y1 {
						if y1[i] != y2[p*ys+i] || a1[i] != a2[p*ys+i] || y1[i] != yl[p*ys+i] {
							t.Fatalf("%s %dx%d %v plane %d output %d: fused (%v at %d), composed (%v at %d)", name, h, w, ss, p, i, y2[p*ys+i], a2[p*ys+i], y1[i], a1[i])
						}
						if p == planes-1 && last[i] != a1[i] {
							t.Fatalf("%s %dx%d %v: one plane of arg-maxima for all: %v at %d, want the last plane's %v", name, h, w, ss, last[i], i, a1[i])
						}
					}
					for i := oh * ow; i < ys && p*ys+i < len(y2); i++ {
						if y2[p*ys+i] != 7 || a2[p*ys+i] != 7 {
							t.Fatalf("%s %dx%d %v: the gap after plane %d was written", name, h, w, ss, p)
						}
					}
				}
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestMaxPool1x2AffineKernels checks the 1-D fused pooling, portable and
// fast, against its definition: of each pair mapped by x·scale + shift
// (one rounding: a fused multiply-add) and the ReLU, the larger (the first
// on a tie, which the inputs include) and its position, with and without
// the ReLU, for rows with and without a tail past a multiple of 8 outputs.
func TestMaxPool1x2AffineKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	sets := map[string]func(x, y []float32, argmax []int32, scale, shift float32, relu bool){"go": maxPool1x2AffineGo}
	if HasAVX2 {
		sets["fast"] = maxPool1x2AffineFast
	}
	for name, fused := range sets {
		for _, n := range []int{1, 7, 8, 9, 16, 37, 128, 131} {
			for _, relu := range []bool{true, false} {
				x := randSlice(rng, 2*n+1) // an odd length: the last input is not pooled
				for i := 0; i+1 < len(x); i += 10 {
					x[i+1] = x[i] // ties
				}
				mapped := make([]float32, len(x))
				for i, v := range x {
					mapped[i] = float32(math.FMA(float64(v), float64(float32(1.3)), float64(float32(-0.2))))
					if relu {
						mapped[i] = max(mapped[i], 0)
					}
				}
				y, arg := make([]float32, n), make([]int32, n)
				fused(x, y, arg, 1.3, -0.2, relu)
				if relu { // without the arg-maxima: the same outputs
					noArg := maxPool1x2ReluGo
					if name == "fast" {
						noArg = maxPool1x2ReluFast
					}
					y2 := randSlice(rng, n)
					noArg(x, y2, 1.3, -0.2)
					if !SameFloats(y2, y) {
						t.Fatalf("%s n=%d: without arg-maxima %v, with %v", name, n, y2, y)
					}
				}
				for o := range n {
					want, at := mapped[2*o], int32(2*o)
					if mapped[2*o+1] > want {
						want, at = mapped[2*o+1], at+1
					}
					// float64's FMA rounds twice, the AVX2 one once: a last-bit
					// difference is allowed, and then either position.
					near := math.Abs(float64(y[o]-want)) <= 1e-7*math.Abs(float64(want))
					close := math.Abs(float64(mapped[2*o]-mapped[2*o+1])) <= 1e-7*math.Abs(float64(want))
					if !near || (arg[o] != at && !close) {
						t.Fatalf("%s n=%d relu=%v output %d: (%v at %d), want (%v at %d)", name, n, relu, o, y[o], arg[o], want, at)
					}
				}
			}
		}
	}
}

// TestMaxPool1x2GradKernels checks the window-2 pooling's gradient,
// portable and fast, against its definition: dy[o] at argmax[o], zero at
// the pair's other position and at an unpaired last input, for rows with
// and without a tail past a multiple of 8 outputs.
func TestMaxPool1x2GradKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	sets := map[string]func(dy []float32, argmax []int32, g []float32){"go": maxPool1x2GradGo}
	if HasAVX2 {
		sets["fast"] = maxPool1x2GradFast
	}
	for name, grad := range sets {
		for _, n := range []int{1, 7, 8, 9, 16, 37, 128, 131} {
			for _, odd := range []int{0, 1} {
				dy := randSlice(rng, n)
				arg := make([]int32, n)
				for o := range arg {
					arg[o] = int32(2*o + rng.IntN(2))
				}
				g := randSlice(rng, 2*n+odd) // stale values: every one must be written
				grad(dy, arg, g)
				want := make([]float32, len(g))
				for o, d := range dy {
					want[arg[o]] = d
				}
				for i := range g {
					if g[i] != want[i] {
						t.Fatalf("%s n=%d len %d [%d]: %v, want %v", name, n, len(g), i, g[i], want[i])
					}
				}
			}
		}
	}
}

// TestReluPool1x2BackwardKernels checks the fused backward kernels of a
// 1-D batch norm, ReLU and window-2 pooling, portable and fast, against
// the gradient the forward kernel of the same set implies: dy[o] at the
// arg-max it chose where its output is positive, zero elsewhere (ties,
// pairs the ReLU cut, an unpaired last input, tails past a multiple of 8).
func TestReluPool1x2BackwardKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	type set struct {
		fwd func(x, y []float32, argmax []int32, scale, shift float32, relu bool)
		sum func(dy, x []float32, c, scale, shift float32) (float32, float32)
		axp func(dy, x, out []float32, a, b, c, scale, shift float32)
	}
	sets := map[string]set{"go": {maxPool1x2AffineGo, sumAndDotReluPool1x2Go, axpbyReluPool1x2Go}}
	if HasAVX2 {
		sets["fast"] = set{maxPool1x2AffineFast, sumAndDotReluPool1x2Fast, axpbyReluPool1x2Fast}
	}
	const scale, shift, c, a, b, c0 = 1.3, -0.2, 0.1, 0.7, -0.3, 0.05
	for name, k := range sets {
		for _, n := range []int{1, 7, 8, 9, 16, 37, 128, 131} {
			for _, odd := range []int{0, 1} {
				x := randSlice(rng, 2*n+odd)
				for i := 0; i+1 < len(x); i += 10 {
					x[i+1] = x[i] // ties
				}
				dy := randSlice(rng, n)
				y, arg := make([]float32, n), make([]int32, n)
				k.fwd(x, y, arg, scale, shift, true)
				g := make([]float64, len(x))
				for o := range dy {
					if y[o] > 0 {
						g[arg[o]] = float64(dy[o])
					}
				}
				var ws, wd float64
				for p, v := range g {
					ws += v
					wd += v * float64(x[p]-c)
				}
				s, d := k.sum(dy, x, c, scale, shift)
				if math.Abs(float64(s)-ws) > 1e-5*float64(n) || math.Abs(float64(d)-wd) > 1e-5*float64(n) {
					t.Fatalf("%s n=%d len %d: sums (%v, %v), want (%v, %v)", name, n, len(x), s, d, ws, wd)
				}
				out := randSlice(rng, len(x)) // stale values: every one must be written
				k.axp(dy, x, out, a, b, c0, scale, shift)
				for p := range out {
					want := a*g[p] + b*float64(x[p]) + c0
					if math.Abs(float64(out[p])-want) > 1e-6*(1+math.Abs(want)) {
						t.Fatalf("%s n=%d len %d [%d]: %v, want %v", name, n, len(x), p, out[p], want)
					}
				}
			}
		}
	}
}

// TestPool2x2GradRecomputed checks the 2×2 pooled batch-norm gradient
// kernels, portable and fast, against the path they replace: the forward
// pooling (the same kernel family) records its arg-maxima, the pooled
// gradient is routed to them and masked by the ReLU there. With a = 1,
// b = c = 0 and whole-number gradients, out is the routed gradient and Σg
// is exact, so the routing must agree exactly — ties included; Σg·(x − c)
// and the general a·g + b·x + c within rounding. Three planes a call, with
// gaps between them that must stay untouched; planes of even and odd
// sizes, with and without whole groups of four windows, and both signs of
// scale (a negative one pools the smallest x).
func TestPool2x2GradRecomputed(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	type kernels struct {
		pool func(x, y []float32, argmax []int32, h, w, oh, ow int, scale, shift float32)
		sum  func(dy, x []float32, planes, xs, dys, h, w, oh, ow int, c, scale, shift float32) (float32, float32)
		axpb func(dy, x, out []float32, planes, xs, dys, h, w, oh, ow int, a, b, c, scale, shift float32)
	}
	one := func(f func(x, y []float32, argmax []int32, planes, xs, ys, as, h, w, oh, ow int, scale, shift float32)) func(x, y []float32, argmax []int32, h, w, oh, ow int, scale, shift float32) {
		return func(x, y []float32, argmax []int32, h, w, oh, ow int, scale, shift float32) {
			f(x, y, argmax, 1, 0, 0, 0, h, w, oh, ow, scale, shift)
		}
	}
	sets := map[string]kernels{"go": {one(maxPool2x2AffineGo), sumAndDotReluPool2x2Go, axpbyReluPool2x2Go}}
	if HasAVX2 {
		sets["fast"] = kernels{one(maxPool2x2AffineFast), sumAndDotReluPool2x2Fast, axpbyReluPool2x2Fast}
	}
	const planes = 3
	for name, k := range sets {
		for _, hw := range [][2]int{{24, 24}, {8, 8}, {2, 8}, {9, 10}, {7, 7}, {12, 20}, {6, 18}, {4, 9}, {1, 8}, {16, 40}, {3, 25}} {
			h, w := hw[0], hw[1]
			oh, ow := h/2, w/2
			xs, dys := h*w+5, oh*ow+3
			for _, scale := range []float32{1.3, -0.7} {
				const shift, c = float32(-0.2), float32(0.1)
				x := randSlice(rng, planes*xs)
				for i := 0; i+w+1 < len(x); i += 7 {
					x[i+1] = x[i] // ties along rows and down columns
					x[i+w] = x[i]
				}
				dy := make([]float32, planes*dys)
				for i := range dy {
					dy[i] = float32(rng.IntN(9) - 4)
				}
				g := make([]float32, planes*xs) // the routed gradient; zero in the gaps
				var s float32
				var d, dAbs float64
				for p := range planes {
					y, arg := make([]float32, oh*ow), make([]int32, oh*ow)
					xp := x[p*xs : p*xs+h*w]
					k.pool(xp, y, arg, h, w, oh, ow, scale, shift)
					for i, v := range dy[p*dys : p*dys+oh*ow] {
						if y[i] > 0 { // the ReLU let the window's maximum through
							g[p*xs+int(arg[i])] = v
							s += v
							d += float64(v) * float64(xp[arg[i]]-c)
							dAbs += math.Abs(float64(v) * float64(xp[arg[i]]-c))
						}
					}
				}
				gotS, gotD := k.sum(dy, x, planes, xs, dys, h, w, oh, ow, c, scale, shift)
				if gotS != s || math.Abs(float64(gotD)-d) > 1e-5*(dAbs+1) {
					t.Fatalf("%s %dx%d scale %v: sums (%v, %v), want (%v, %v)", name, h, w, scale, gotS, gotD, s, d)
				}
				inPlane := func(i int) bool { return i%xs < h*w }
				out := make([]float32, planes*xs)
				for i := range out {
					if !inPlane(i) {
						out[i] = 7 // the gaps: not the kernels' to write
					}
				}
				k.axpb(dy, x, out, planes, xs, dys, h, w, oh, ow, 1, 0, 0, scale, shift)
				for i := range out {
					if want := map[bool]float32{true: g[i], false: 7}[inPlane(i)]; out[i] != want {
						t.Fatalf("%s %dx%d scale %v: out[%d] is %v, want %v (the routed gradient, 7 between planes)", name, h, w, scale, i, out[i], want)
					}
				}
				const a, b, c0 = float32(0.9), float32(-0.3), float32(0.05)
				k.axpb(dy, x, out, planes, xs, dys, h, w, oh, ow, a, b, c0, scale, shift)
				for i := range out {
					if !inPlane(i) {
						continue
					}
					want := float64(a)*float64(g[i]) + float64(b)*float64(x[i]) + float64(c0)
					if math.Abs(float64(out[i])-want) > 1e-6*(math.Abs(want)+1) {
						t.Fatalf("%s %dx%d scale %v: out[%d] = %v, want %v", name, h, w, scale, i, out[i], want)
					}
				}
			}
		}
	}
}

// TestAddRowSums checks the row sums, portable and fast, against float64
// sums, for rows of 1 to 600 floats (whole blocks of 32, of 8, and tails)
// into a dst that already holds values, which they add to.
func TestAddRowSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for name, f := range map[string]func(dst, src []float32, cols int){"go": addRowSumsGo, "fast": addRowSumsFast} {
		for _, cols := range []int{1, 7, 8, 9, 31, 32, 33, 64, 100, 576, 600} {
			const rows = 5
			src := randSlice(rng, rows*cols)
			dst := randSlice(rng, rows)
			want := make([]float64, rows)
			for r := range rows {
				want[r] = float64(dst[r])
				for _, v := range src[r*cols : (r+1)*cols] {
					want[r] += float64(v)
				}
			}
			f(dst, src, cols)
			for r := range rows {
				if math.Abs(float64(dst[r])-want[r]) > 1e-5*float64(cols) {
					t.Fatalf("%s cols=%d row %d: %v, want %v", name, cols, r, dst[r], want[r])
				}
			}
		}
	}
}
