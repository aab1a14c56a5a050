package ops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/vec"
)

func newBNState(c int) *BNState {
	st := &BNState{RunningMean: make([]float32, c), RunningVar: make([]float32, c), Momentum: 0.1, Eps: 1e-5}
	vec.Fill(st.RunningVar, 1)
	return st
}

func TestBatchNormGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, relu := range []bool{false, true} {
		for _, shape := range [][]int{{4, 3, 3, 2}, {6, 5}, {2, 2, 4, 5}} { // the last has vector-sized planes
			c := shape[1]
			x := randTensor(rng, 2, shape...)
			// A large offset checks that x̂ is recomputed without cancellation.
			for i := range x.Data().([]float32) {
				x.Data().([]float32)[i] += 30
			}
			gradCheck(t, []checkInput{
				{"x", x, true},
				{"gamma", randTensor(rng, 1, c), true},
				{"beta", randTensor(rng, 1, c), true},
			}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				return NewBatchNorm("t", newBNState(c), true, relu).Apply(n[0], n[1], n[2])
			}, 2e-3)
		}
	}
}

// TestBatchNormInferenceGradient checks the input gradient at inference
// (running statistics as constants), which saliency maps use.
func TestBatchNormInferenceGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, relu := range []bool{false, true} {
		for _, shape := range [][]int{{2, 3, 4, 6}, {3, 4}} {
			c := shape[1]
			st := newBNState(c)
			for j := range c {
				st.RunningMean[j], st.RunningVar[j] = float32(rng.NormFloat64()), 0.5+rng.Float32()
			}
			for _, pooled := range []bool{false, true} {
				if pooled && (!relu || len(shape) != 4) {
					continue
				}
				gradCheck(t, []checkInput{
					{"x", distinctTensor(rng, 0.05, shape...), true},
					{"gamma", randTensor(rng, 1, c), false},
					{"beta", randTensor(rng, 1, c), false},
				}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
					op := NewBatchNorm("t", st, false, relu)
					if pooled {
						op.WithMaxPool()
					}
					return op.Apply(n[0], n[1], n[2])
				}, 2e-3)
			}
		}
	}
}

// TestBatchNormMaxPool checks the batch norm with ReLU and 2×2 pooling in
// one op: its gradients numerically, and its output against the batch norm
// followed by the pooling op, in training and at inference.
func TestBatchNormMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, shape := range [][]int{{2, 3, 4, 6}, {2, 2, 8, 16}, {3, 2, 5, 7}, {2, 2, 6, 24}} {
		c := shape[1]
		// Distinct values, so that no window's maximum changes places under
		// the differences' steps (a kink), and a small β, so that some of
		// every channel passes the ReLU.
		gradCheckBNPool(t, rng, distinctTensor(rng, 0.05, shape...), 0.3, (*BatchNorm).WithMaxPool)
		for _, training := range []bool{true, false} {
			x, gamma, beta := randTensor(rng, 2, shape...), randTensor(rng, 1, c), randTensor(rng, 1, c)
			st1, st2 := newBNState(c), newBNState(c)
			for i := range st1.RunningVar {
				st1.RunningMean[i], st2.RunningMean[i] = 0.3, 0.3
				st1.RunningVar[i], st2.RunningVar[i] = 2, 2
			}
			fused := NewBatchNorm("f", st1, training, true).WithMaxPool()
			fused.dims = 4
			if _, err := fused.InferShape(x.Shape()); err != nil {
				t.Fatal(err)
			}
			got, err := fused.Do(x, gamma, beta)
			if err != nil {
				t.Fatal(err)
			}
			bn := NewBatchNorm("b", st2, training, true)
			bn.dims = 4
			want := thenMaxPool(t, bn, x, gamma, beta)
			if !got.Shape().Eq(want.Shape()) || !equal(got.Data().([]float32), want.Data().([]float32)) {
				t.Fatalf("%v training=%v: fused %v %v, composed %v %v", shape, training, got.Shape(), got.Data(), want.Shape(), want.Data())
			}
			if !equal(st1.RunningMean, st2.RunningMean) || !equal(st1.RunningVar, st2.RunningVar) {
				t.Fatalf("%v training=%v: running statistics differ", shape, training)
			}
		}
	}
}

// TestBatchNormMaxPool1D is TestBatchNormMaxPool for (B,C,L) signals: the
// fused batch norm, ReLU and window-2 pooling against finite differences,
// and against the batch norm then a 1-D max pooling (odd lengths drop the
// last sample, as PyTorch's floor mode does).
func TestBatchNormMaxPool1D(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, shape := range [][]int{{2, 3, 10}, {3, 2, 9}, {2, 4, 32}} {
		c := shape[1]
		gradCheckBNPool(t, rng, randTensor(rng, 2, shape...), 1, (*BatchNorm).WithMaxPool1D)
		for _, training := range []bool{true, false} {
			x, gamma, beta := randTensor(rng, 2, shape...), randTensor(rng, 1, c), randTensor(rng, 1, c)
			fused := NewBatchNorm("f", newBNState(c), training, true).WithMaxPool1D()
			fused.dims = 3
			if _, err := fused.InferShape(x.Shape()); err != nil {
				t.Fatal(err)
			}
			got, err := fused.Do(x, gamma, beta)
			if err != nil {
				t.Fatal(err)
			}
			bn := NewBatchNorm("b", newBNState(c), training, true)
			bn.dims = 3
			y, err := bn.Do(x, gamma, beta)
			if err != nil {
				t.Fatal(err)
			}
			yd, L := y.Data().([]float32), shape[2]
			var want []float32
			for p := range shape[0] * c {
				for o := range L / 2 {
					want = append(want, max(yd[p*L+2*o], yd[p*L+2*o+1]))
				}
			}
			near := len(got.Data().([]float32)) == len(want)
			for i, v := range got.Data().([]float32) { // the affine map may round differently (FMA)
				near = near && math.Abs(float64(v-want[i])) <= 1e-6*(1+math.Abs(float64(want[i])))
			}
			if !slices.Equal(got.Shape(), tensor.Shape{shape[0], c, L / 2}) || !near {
				t.Fatalf("%v training=%v: fused %v %v, composed %v", shape, training, got.Shape(), got.Data(), want)
			}
		}
	}
}

// gradCheckBNPool checks a training batch norm with its ReLU and the
// pooling pool adds against central differences at x, with β drawn at
// betaScale.
func gradCheckBNPool(t *testing.T, rng *rand.Rand, x *tensor.Dense, betaScale float32, pool func(*BatchNorm) *BatchNorm) {
	t.Helper()
	c := x.Shape()[1]
	gradCheck(t, []checkInput{
		{"x", x, true},
		{"gamma", randTensor(rng, 1, c), true},
		{"beta", randTensor(rng, betaScale, c), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
		return pool(NewBatchNorm("t", newBNState(c), true, true)).Apply(n[0], n[1], n[2])
	}, 2e-3)
}

// thenMaxPool runs op on in, then a 2×2 max pooling on its output.
func thenMaxPool(t *testing.T, op G.Op, in ...G.Value) G.Value {
	t.Helper()
	y, err := op.Do(in...)
	if err != nil {
		t.Fatal(err)
	}
	pool := NewMaxPool2D("p", ConvGeom{Kernel: 2, Stride: 2})
	pool.InferShape(y.Shape())
	out, err := pool.Do(y)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReLUMaxPool checks the max pooling with a ReLU inside: gradients
// numerically, and outputs against the ReLU op followed by the pooling op.
func TestReLUMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, shape := range [][]int{{2, 3, 4, 6}, {2, 2, 8, 16}, {1, 2, 5, 7}} {
		gradCheck(t, []checkInput{{"x", randTensor(rng, 1, shape...), true}}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
			return NewMaxPool2D("t", ConvGeom{Kernel: 2, Stride: 2}).WithReLU().Apply(n[0])
		}, 2e-3)
		x := randTensor(rng, 1, shape...)
		fused := NewMaxPool2D("f", ConvGeom{Kernel: 2, Stride: 2}).WithReLU()
		fused.InferShape(x.Shape())
		got, err := fused.Do(x)
		if err != nil {
			t.Fatal(err)
		}
		relu := NewActivation("r", ReLU, 0)
		relu.dims = 4
		want := thenMaxPool(t, relu, x)
		if !equal(got.Data().([]float32), want.Data().([]float32)) {
			t.Fatalf("%v: fused %v, composed %v", shape, got.Data(), want.Data())
		}
	}
}

func TestBatchNormStatistics(t *testing.T) {
	// Per channel: values 1..8 over batch and space; mean 4.5, biased
	// variance 5.25, unbiased 6.
	x := make([]float32, 2*2*2*2)
	for b := range 2 {
		for c := range 2 {
			for i := range 4 {
				x[(b*2+c)*4+i] = float32(b*4 + i + 1 + 10*c)
			}
		}
	}
	st := newBNState(2)
	op := NewBatchNorm("t", st, true, false)
	xt := tensor.New(tensor.WithShape(2, 2, 2, 2), tensor.WithBacking(x))
	gamma := tensor.New(tensor.WithBacking([]float32{2, 1}))
	beta := tensor.New(tensor.WithBacking([]float32{0.5, 0}))
	y, err := op.Do(xt, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	want := 2*(1-4.5)/math.Sqrt(5.25+1e-5) + 0.5
	if got := float64(y.Data().([]float32)[0]); math.Abs(got-want) > 1e-5 {
		t.Errorf("y[0] = %v, want %v", got, want)
	}
	if got := st.RunningMean[0]; math.Abs(float64(got)-0.45) > 1e-6 {
		t.Errorf("running mean %v, want 0.45", got)
	}
	if got := st.RunningVar[0]; math.Abs(float64(got)-(0.9+0.1*6)) > 1e-6 {
		t.Errorf("running var %v, want 1.5 (unbiased)", got)
	}
	// Inference uses the running statistics.
	inf := NewBatchNorm("t", st, false, false)
	y, err = inf.Do(xt, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	want = 2*(1-0.45)/math.Sqrt(1.5+1e-5) + 0.5
	if got := float64(y.Data().([]float32)[0]); math.Abs(got-want) > 1e-5 {
		t.Errorf("inference y[0] = %v, want %v", got, want)
	}
}

func TestActivationGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []ActKind{ReLU, LeakyReLU, Sigmoid, Tanh} {
		t.Run(k.String(), func(t *testing.T) {
			gradCheck(t, []checkInput{{"x", distinctTensor(rng, 0.05, 3, 4, 2, 2), true}},
				func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
					return NewActivation("t", k, 0.1).Apply(n[0])
				}, 2e-3)
		})
	}
}

func TestActivationValues(t *testing.T) {
	x := tensor.New(tensor.WithBacking([]float32{-2, 0.5}))
	cases := []struct {
		k    ActKind
		want [2]float64
	}{
		{ReLU, [2]float64{0, 0.5}},
		{LeakyReLU, [2]float64{-0.2, 0.5}},
		{Sigmoid, [2]float64{1 / (1 + math.Exp(2)), 1 / (1 + math.Exp(-0.5))}},
		{Tanh, [2]float64{math.Tanh(-2), math.Tanh(0.5)}},
	}
	for _, c := range cases {
		y, err := NewActivation("t", c.k, 0.1).Do(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range y.Data().([]float32) {
			if math.Abs(float64(v)-c.want[i]) > 1e-6 {
				t.Errorf("%v(%v) = %v, want %v", c.k, x.Data().([]float32)[i], v, c.want[i])
			}
		}
	}
}

func TestPoolGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	geoms := []ConvGeom{{2, 2, 0}, {3, 2, 1}, {3, 1, 0}}
	for _, geom := range geoms {
		for _, maxPool := range []bool{true, false} {
			gradCheck(t, []checkInput{{"x", distinctTensor(rng, 0.05, 2, 2, 7, 6), true}},
				func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
					if maxPool {
						return NewMaxPool2D("t", geom).Apply(n[0])
					}
					return NewAvgPool2D("t", geom).Apply(n[0])
				}, 2e-3)
		}
	}
}

func TestPoolValues(t *testing.T) {
	// 1×1×4×4 holding 0..15, 2×2 windows with stride 2.
	d := make([]float32, 16)
	for i := range d {
		d[i] = float32(i)
	}
	x := tensor.New(tensor.WithShape(1, 1, 4, 4), tensor.WithBacking(d))
	mp := NewMaxPool2D("t", ConvGeom{2, 2, 0})
	if _, err := mp.InferShape(x.Shape()); err != nil {
		t.Fatal(err)
	}
	y, _ := mp.Do(x)
	if got := y.Data().([]float32); !equal(got, []float32{5, 7, 13, 15}) {
		t.Errorf("maxpool %v", got)
	}
	y, _ = NewAvgPool2D("t", ConvGeom{2, 2, 0}).Do(x)
	if got := y.Data().([]float32); !equal(got, []float32{2.5, 4.5, 10.5, 12.5}) {
		t.Errorf("avgpool %v", got)
	}
	// Padding 1 with a 3×3 window: a corner window sees 4 pixels, averaged over 9.
	y, _ = NewAvgPool2D("t", ConvGeom{3, 2, 1}).Do(x)
	if got := y.Data().([]float32)[0]; math.Abs(float64(got)-(0+1+4+5)/9.0) > 1e-6 {
		t.Errorf("padded avgpool corner %v", got)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDenseGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	gradCheck(t, []checkInput{
		{"x", randTensor(rng, 1, 5, 7), true},
		{"w", randTensor(rng, 0.5, 3, 7), true},
		{"b", randTensor(rng, 0.5, 3), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
		return NewDense("t", true).Apply(n[0], n[1], n[2])
	}, 2e-3)
}

// TestDenseMatchesNaive checks each forward path of Dense against the
// definition: a few rows (dots over outputs), fewer outputs than a GEMM tile
// (dots over rows), and the GEMM.
func TestDenseMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, sz := range [][3]int{{3, 7, 5}, {1, 40, 21}, {4, 800, 37}, {9, 20, 5}, {9, 20, 40}, {70, 33, 65}} {
		B, In, Out := sz[0], sz[1], sz[2]
		x, w, b := randTensor(rng, 1, B, In), randTensor(rng, 1, Out, In), randTensor(rng, 1, Out)
		y, err := NewDense("t", false).Do(x, w, b)
		if err != nil {
			t.Fatal(err)
		}
		xd, wd, bd, yd := x.Data().([]float32), w.Data().([]float32), b.Data().([]float32), y.Data().([]float32)
		for i := range B {
			for o := range Out {
				want := float64(bd[o])
				for k := range In {
					want += float64(xd[i*In+k]) * float64(wd[o*In+k])
				}
				if got := float64(yd[i*Out+o]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%v: y[%d,%d] = %v, want %v", sz, i, o, got, want)
				}
			}
		}
	}
}

// TestDenseFixedParams: with fixed weights the dense layer's GEMM (more
// than four rows, a tile's width of outputs or more) answers as without,
// bit for bit, on weights it packs once — changed later, they do not
// change its answer.
func TestDenseFixedParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sz := range [][3]int{{8, 800, 500}, {5, 40, 33}, {70, 33, 65}} {
		B, In, Out := sz[0], sz[1], sz[2]
		x, w, b := randTensor(rng, 1, B, In), randTensor(rng, 1, Out, In), randTensor(rng, 1, Out)
		want, err := NewDense("t", false).Do(x, w, b)
		if err != nil {
			t.Fatal(err)
		}
		fixed := NewDense("t", false)
		fixed.FixedParams = true
		for pass := range 2 {
			got, err := fixed.Do(x, w, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Data().([]float32), want.Data().([]float32)) {
				t.Fatalf("%v pass %d: fixed weights answer differently", sz, pass)
			}
			for i, v := range w.Data().([]float32) {
				w.Data().([]float32)[i] = 2 * v // not seen: packed on the first pass
			}
		}
	}
}

func TestDenseValues(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{1, 2}))
	w := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 10, 100, 1000}))
	b := tensor.New(tensor.WithBacking([]float32{0.5, -1}))
	y, err := NewDense("t", false).Do(x, w, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Data().([]float32); !equal(got, []float32{21.5, 2099}) {
		t.Errorf("dense %v, want [21.5 2099]", got)
	}
}

func TestFlattenGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	gradCheck(t, []checkInput{{"x", randTensor(rng, 1, 2, 3, 2, 2), true}},
		func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
			f, err := NewFlatten("t").Apply(n[0])
			if err != nil {
				return nil, err
			}
			// A following dense layer makes the gradient non-trivial.
			w := G.NodeFromAny(g, randTensor(rng, 1, 4, 12), G.WithName("w"))
			b := G.NodeFromAny(g, randTensor(rng, 1, 4), G.WithName("b"))
			return NewDense("t", true).Apply(f, w, b)
		}, 2e-3)
}

func TestDropoutGradientsAndScaling(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	// A fixed seed per forward run, so finite differences see the same mask.
	op := NewDropout("t", 0.5, nil)
	gradCheck(t, []checkInput{{"x", randTensor(rng, 1, 4, 10), true}},
		func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
			return op.Apply(n[0])
		}, 2e-3, func() { op.Rand = rand.New(rand.NewPCG(1, 1)) })
	// Inverted dropout keeps the expectation: mean of y ≈ mean of x.
	x := make([]float32, 100000)
	vec.Fill(x, 1)
	op = NewDropout("t", 0.3, rand.New(rand.NewPCG(2, 2)))
	y, err := op.Do(tensor.New(tensor.WithBacking(x)))
	if err != nil {
		t.Fatal(err)
	}
	var zeros int
	for _, v := range y.Data().([]float32) {
		if v == 0 {
			zeros++
		} else if math.Abs(float64(v)-1/0.7) > 1e-6 {
			t.Fatalf("kept value %v, want %v", v, 1/0.7)
		}
	}
	if frac := float64(zeros) / 1e5; math.Abs(frac-0.3) > 0.01 {
		t.Errorf("dropped %.3f, want 0.3", frac)
	}
}

func TestSoftmaxCrossEntropyGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	labels := tensor.New(tensor.WithBacking([]float32{0, 3, 1, 3, 2}))
	gradCheck(t, []checkInput{
		{"z", randTensor(rng, 2, 5, 4), true},
		{"labels", labels, false},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
		return NewSoftmaxCrossEntropy("t").Apply(n[0], n[1])
	}, 2e-3)
}

// TestSmoothedWeightedCrossEntropy checks the gradient with label smoothing
// and class weights numerically, and the loss against PyTorch's formula
// written out as loops.
func TestSmoothedWeightedCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	labels := []float32{0, 3, 1, 3, 2}
	for _, loss := range []Loss{{Smoothing: 0.1}, {Weights: []float32{0.5, 2, 1, 0.25}}, {Smoothing: 0.2, Weights: []float32{0.5, 2, 1, 0.25}}} {
		z := randTensor(rng, 2, 5, 4)
		gradCheck(t, []checkInput{
			{"z", z, true},
			{"labels", tensor.New(tensor.WithBacking(labels)), false},
		}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
			op := NewSoftmaxCrossEntropy("t")
			op.Loss = loss
			return op.Apply(n[0], n[1])
		}, 2e-3)
		op := NewSoftmaxCrossEntropy("t")
		op.Loss = loss
		op.InferShape(z.Shape(), tensor.Shape{5})
		v, err := op.Do(z, tensor.New(tensor.WithBacking(labels)))
		if err != nil {
			t.Fatal(err)
		}
		w := func(k int) float64 {
			if loss.Weights == nil {
				return 1
			}
			return float64(loss.Weights[k])
		}
		zd := z.Data().([]float32)
		var num, den float64
		for b, lf := range labels {
			y := int(lf)
			var s float64
			for k := range 4 {
				s += math.Exp(float64(zd[b*4+k]))
			}
			logp := func(k int) float64 { return float64(zd[b*4+k]) - math.Log(s) }
			num += (1 - loss.Smoothing) * w(y) * -logp(y)
			for k := range 4 {
				num += loss.Smoothing / 4 * w(k) * -logp(k)
			}
			den += w(y)
		}
		if got, _ := scalarF32(v); math.Abs(float64(got)-num/den) > 1e-5 {
			t.Errorf("%+v: loss %v, want %v", loss, got, num/den)
		}
	}
}

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	z := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 1000, 0, -1000}))
	op := NewSoftmaxCrossEntropy("t")
	if _, err := op.InferShape(z.Shape(), tensor.Shape{2}); err != nil {
		t.Fatal(err)
	}
	v, err := op.Do(z, tensor.New(tensor.WithBacking([]float32{0, 0})))
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: log(e+e²+e³) − 1; row 1: ≈ 0 with no overflow.
	want := (math.Log(math.E+math.Exp(2)+math.Exp(3)) - 1) / 2
	if got, _ := scalarF32(v); math.Abs(float64(got)-want) > 1e-5 {
		t.Errorf("loss %v, want %v", got, want)
	}
	if _, err := op.Do(z, tensor.New(tensor.WithBacking([]float32{0, 3}))); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
}
