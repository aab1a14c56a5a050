package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// checkInput is one input of an op under a gradient check.
type checkInput struct {
	name string
	data *tensor.Dense
	diff bool // compare its gradient
}

func randTensor(rng *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float32, n)
	for i := range d {
		d[i] = scale * float32(rng.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// distinctTensor has values spaced at least gap apart, so max-pooling and
// ReLU see no ties or kinks within a finite-difference step.
func distinctTensor(rng *rand.Rand, gap float32, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float32, n)
	for i, p := range rng.Perm(n) {
		d[i] = gap * (float32(p) - float32(n)/2 + 0.5)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// gradCheck compares the gradients Gorgonia computes through the op's
// SymDiff with central differences of cost = Σ out·R (R fixed and random;
// for a scalar output, cost = out). It checks up to maxProbe elements of
// every input marked diff and fails on a relative error above tol.
// before, if given, runs before every evaluation (to reseed random ops).
func gradCheck(t *testing.T, ins []checkInput, build func(g *G.ExprGraph, xs []*G.Node) (*G.Node, error), tol float64, before ...func()) {
	t.Helper()
	const eps, maxProbe = 3e-3, 48
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	var wrt []*G.Node
	for i, in := range ins {
		nodes[i] = G.NodeFromAny(g, in.data, G.WithName(in.name))
		if in.diff {
			wrt = append(wrt, nodes[i])
		}
	}
	out, err := build(g, nodes)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	cost := out
	var r *tensor.Dense
	if !out.IsScalar() {
		r = randTensor(rng, 1, out.Shape()...)
		rn := G.NodeFromAny(g, r, G.WithName("R"))
		if cost, err = G.Sum(G.Must(G.HadamardProd(out, rn))); err != nil {
			t.Fatal(err)
		}
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	eval := func() float64 {
		for _, f := range before {
			f()
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if r == nil {
			v, err := scalarF32(out.Value())
			if err != nil {
				t.Fatal(err)
			}
			return float64(v)
		}
		var c float64
		for i, v := range out.Value().Data().([]float32) {
			c += float64(v) * float64(r.Data().([]float32)[i])
		}
		return c
	}
	eval()
	analytic := make([][]float32, len(grads))
	for i, gn := range grads {
		analytic[i] = append([]float32(nil), gn.Value().Data().([]float32)...)
	}
	gi := 0
	for _, in := range ins {
		if !in.diff {
			continue
		}
		a := analytic[gi]
		gi++
		x := in.data.Data().([]float32)
		if len(a) != len(x) {
			t.Fatalf("%s: gradient has %d elements, input %d", in.name, len(a), len(x))
		}
		probe := rng.Perm(len(x))
		if len(probe) > maxProbe {
			probe = probe[:maxProbe]
		}
		var maxErr, maxMag float64
		for _, i := range probe {
			old := x[i]
			x[i] = old + eps
			cp := eval()
			x[i] = old - eps
			cm := eval()
			x[i] = old
			num := (cp - cm) / (2 * eps)
			maxErr = math.Max(maxErr, math.Abs(num-float64(a[i])))
			maxMag = math.Max(maxMag, math.Max(math.Abs(num), math.Abs(float64(a[i]))))
		}
		rel := maxErr / math.Max(maxMag, 1e-3)
		switch {
		case maxMag == 0:
			// Every probe zero both ways (a ReLU that passed nothing, say):
			// the check would prove nothing.
			t.Errorf("%s: every probed gradient is zero; choose inputs the op passes a gradient through", in.name)
		case rel > tol:
			t.Errorf("%s: gradient relative error %.3g > %.3g (max |grad| %.3g)", in.name, rel, tol, maxMag)
		default:
			t.Logf("%s: gradient relative error %.2g", in.name, rel)
		}
	}
}
