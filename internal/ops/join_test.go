package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestAddAndConcatValues(t *testing.T) {
	a := tensor.New(tensor.WithShape(2, 1, 1, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	b := tensor.New(tensor.WithShape(2, 2, 1, 2), tensor.WithBacking([]float32{10, 20, 30, 40, 50, 60, 70, 80}))
	add := NewAdd("t")
	add.n = 2
	y, err := add.Do(a, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.(tensor.Tensor).Data().([]float32); got[0] != 2 || got[3] != 8 {
		t.Errorf("add: %v", got)
	}
	cat := NewConcat("t")
	cat.n = 2
	if _, err := cat.InferShape(a.Shape(), b.Shape()); err != nil {
		t.Fatal(err)
	}
	y, err = cat.Do(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 10, 20, 30, 40, 3, 4, 50, 60, 70, 80}
	got := y.(tensor.Tensor).Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("concat: %v, want %v", got, want)
		}
	}
	if s := y.(tensor.Tensor).Shape(); !s.Eq(tensor.Shape{2, 3, 1, 2}) {
		t.Errorf("concat shape %v", s)
	}
	bad := tensor.New(tensor.WithShape(2, 1, 2, 2), tensor.Of(tensor.Float32))
	if _, err := cat.InferShape(a.Shape(), bad.Shape()); err == nil {
		t.Error("concat accepted inputs of different heights")
	}
	if _, err := add.InferShape(a.Shape(), b.Shape()); err == nil {
		t.Error("add accepted inputs of different shapes")
	}
}

// TestAddLoops checks Add, with and without its ReLU, against the loop
// over three inputs longer than a block and not a multiple of a vector,
// and that it refuses inputs of different shapes.
func TestAddLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	a, b, c := randTensor(rng, 1, 2, 3, 37, 41), randTensor(rng, 1, 2, 3, 37, 41), randTensor(rng, 1, 2, 3, 37, 41)
	for _, relu := range []bool{false, true} {
		op := NewSum("t", 3)
		if relu {
			op.WithReLU()
		}
		y, err := op.Do(a, b, c)
		if err != nil {
			t.Fatal(err)
		}
		got := y.(tensor.Tensor).Data().([]float32)
		xa, xb, xc := a.Data().([]float32), b.Data().([]float32), c.Data().([]float32)
		for i := range got {
			want := xa[i] + xb[i] + xc[i]
			if relu {
				want = max(want, 0)
			}
			if got[i] != want {
				t.Fatalf("relu=%v: y[%d] = %v, want %v", relu, i, got[i], want)
			}
		}
	}
	if _, err := NewSum("t", 2).Do(a, randTensor(rng, 1, 2, 3, 41, 37)); err == nil {
		t.Error("the sum accepted inputs of different shapes")
	}
}

// gridTensor has values that are multiples of gap, whose sums with
// distinctTensor's (odd multiples of gap/2) keep gap/2 from ReLU's kink.
func gridTensor(rng *rand.Rand, gap float32, shape ...int) *tensor.Dense {
	d := make([]float32, tensor.Shape(shape).TotalSize())
	for i := range d {
		d[i] = gap * float32(rng.IntN(21)-10)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func TestJoinGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	gradCheck(t, []checkInput{
		{"a", randTensor(rng, 1, 2, 3, 4, 4), true},
		{"b", randTensor(rng, 1, 2, 3, 4, 4), true},
		{"c", randTensor(rng, 1, 2, 3, 4, 4), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return NewAdd("t").Apply(n...) }, 1e-3)
	// With its ReLU: each input's gradient is dy where the sum is positive.
	gradCheck(t, []checkInput{
		{"a", distinctTensor(rng, 0.05, 2, 3, 4, 4), true},
		{"b", gridTensor(rng, 0.05, 2, 3, 4, 4), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return NewAdd("t").WithReLU().Apply(n...) }, 1e-3)
	gradCheck(t, []checkInput{
		{"a", randTensor(rng, 1, 2, 1, 3, 3), true},
		{"b", randTensor(rng, 1, 2, 4, 3, 3), true},
		{"c", randTensor(rng, 1, 2, 2, 3, 3), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return NewConcat("t").Apply(n...) }, 1e-3)
	// A residual join: x feeds both the branch and the shortcut, so its
	// gradient is the sum of both paths'.
	gradCheck(t, []checkInput{
		{"x", randTensor(rng, 1, 2, 2, 5, 5), true},
		{"w", randTensor(rng, 0.5, 2, 2, 3, 3), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
		h, err := NewConv2D("c", ConvGeom{Kernel: 3, Stride: 1, Pad: 1}, false, true, true).Apply(n[0], n[1], nil)
		if err != nil {
			return nil, err
		}
		return NewAdd("t").Apply(h, n[0])
	}, 2e-3)
	// The same with a ReLU's output as the block's input: its gradient
	// mask sums the two paths' gradients itself (GradSumTerms).
	gradCheck(t, []checkInput{
		{"x", distinctTensor(rng, 0.02, 2, 2, 5, 5), true},
		{"w", randTensor(rng, 0.5, 2, 2, 3, 3), true},
	}, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
		r, err := NewActivation("r", ReLU, 0).Apply(n[0])
		if err != nil {
			return nil, err
		}
		h, err := NewConv2D("c", ConvGeom{Kernel: 3, Stride: 1, Pad: 1}, false, true, true).Apply(r, n[1], nil)
		if err != nil {
			return nil, err
		}
		return NewAdd("t").Apply(h, r)
	}, 2e-3)
}

func TestGlobalPool(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 2, 2, 2), tensor.WithBacking([]float32{1, 2, 3, 6, -1, -5, -2, -3}))
	for _, c := range []struct {
		max  bool
		want []float32
	}{{false, []float32{3, -2.75}}, {true, []float32{6, -1}}} {
		op := NewGlobalPool("t", c.max)
		op.InferShape(x.Shape())
		y, err := op.Do(x)
		if err != nil {
			t.Fatal(err)
		}
		got := y.(tensor.Tensor).Data().([]float32)
		if math.Abs(float64(got[0]-c.want[0])) > 1e-6 || math.Abs(float64(got[1]-c.want[1])) > 1e-6 {
			t.Errorf("max=%v: %v, want %v", c.max, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(2, 9))
	for _, isMax := range []bool{false, true} {
		gradCheck(t, []checkInput{{"x", distinctTensor(rng, 0.05, 2, 3, 4, 5), true}},
			func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return NewGlobalPool("t", isMax).Apply(n[0]) }, 1e-3)
	}
}

// naivePool is pooling by its definition, PyTorch's: windows start at
// o·s − p, padding is −∞ (max) or zeros counted in the divisor, which is
// the window clipped to the padded input (avg).
func naivePool(x []float32, B, C, H, W int, g PoolGeom, isMax bool) []float32 {
	OH, OW := g.Out(H, W)
	y := make([]float32, 0, B*C*OH*OW)
	for p := range B * C {
		for oy := range OH {
			for ox := range OW {
				hs, ws := oy*g.SH-g.PH, ox*g.SW-g.PW
				he, we := min(hs+g.KH, H+g.PH), min(ws+g.KW, W+g.PW)
				div := float64((he - hs) * (we - ws))
				best, sum := math.Inf(-1), 0.0
				for iy := max(hs, 0); iy < min(hs+g.KH, H); iy++ {
					for ix := max(ws, 0); ix < min(ws+g.KW, W); ix++ {
						v := float64(x[p*H*W+iy*W+ix])
						best, sum = math.Max(best, v), sum+v
					}
				}
				if isMax {
					y = append(y, float32(best))
				} else {
					y = append(y, float32(sum/div))
				}
			}
		}
	}
	return y
}

func TestPoolRectangularAndCeilMode(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9))
	geoms := []PoolGeom{
		{KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 0},
		{KH: 2, KW: 2, SH: 2, SW: 2, Ceil: true},
		{KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, Ceil: true},
		{KH: 1, KW: 3, SH: 1, SW: 3, PW: 1, Ceil: true},
	}
	for _, g := range geoms {
		for _, isMax := range []bool{true, false} {
			x := distinctTensor(rng, 0.05, 2, 2, 7, 8)
			op := NewPool2D("t", g, isMax)
			op.InferShape(x.Shape())
			y, err := op.Do(x)
			if err != nil {
				t.Fatal(err)
			}
			want := naivePool(x.Data().([]float32), 2, 2, 7, 8, g, isMax)
			got := y.(tensor.Tensor).Data().([]float32)
			if len(got) != len(want) {
				t.Fatalf("%+v: %d outputs, want %d", g, len(got), len(want))
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("%+v max=%v: y[%d] = %v, want %v", g, isMax, i, got[i], want[i])
				}
			}
			gradCheck(t, []checkInput{{"x", x, true}},
				func(_ *G.ExprGraph, n []*G.Node) (*G.Node, error) { return NewPool2D("t", g, isMax).Apply(n[0]) }, 1e-3)
		}
	}
	// PyTorch's sizes: 5 → 3 with k2 s2 ceil; 5 → 3 with k2 s2 p1 ceil too
	// (a fourth window would start in the right padding and is dropped).
	for _, c := range [][5]int{{5, 2, 2, 0, 3}, {5, 2, 2, 1, 3}, {6, 3, 2, 1, 4}, {7, 3, 2, 0, 3}} {
		if o := PoolOut(c[0], c[1], c[2], c[3], true); o != c[4] {
			t.Errorf("PoolOut(%d,%d,%d,%d,ceil) = %d, want %d", c[0], c[1], c[2], c[3], o, c[4])
		}
	}
}
