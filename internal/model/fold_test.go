package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// convByHand is a direct convolution with explicit loops over channels,
// kernel taps and padding, for one image (C,H,W) and filters (O,C,K,K).
func convByHand(x, w, b []float32, C, H, W, O, K, P int) []float64 {
	OH, OW := H+2*P-K+1, W+2*P-K+1
	y := make([]float64, O*OH*OW)
	for o := range O {
		for oy := range OH {
			for ox := range OW {
				acc := float64(b[o])
				for c := range C {
					for i := range K {
						for j := range K {
							iy, ix := oy-P+i, ox-P+j
							if iy >= 0 && iy < H && ix >= 0 && ix < W {
								acc += float64(x[(c*H+iy)*W+ix]) * float64(w[((o*C+c)*K+i)*K+j])
							}
						}
					}
				}
				y[(o*OH+oy)*OW+ox] = acc
			}
		}
	}
	return y
}

// TestBNScaleShiftMatchesConvThenBN compares "conv, then batch norm with
// running statistics" with "the folded conv", both computed by hand.
func TestBNScaleShiftMatchesConvThenBN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const C, H, W, O, K, P = 2, 6, 5, 3, 3, 1
	r := func(n int, scale, off float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(off + scale*rng.NormFloat64())
		}
		return v
	}
	x, w, b := r(C*H*W, 1, 0), r(O*C*K*K, 0.5, 0), r(O, 0.5, 0)
	gamma, beta, mean := r(O, 0.3, 1), r(O, 0.5, 0), r(O, 0.5, 0)
	variance := r(O, 0.2, 1.5)
	const eps = 1e-5
	y := convByHand(x, w, b, C, H, W, O, K, P)
	per := len(y) / O
	for o := range O {
		for i := range per {
			y[o*per+i] = (y[o*per+i]-float64(mean[o]))/math.Sqrt(float64(variance[o])+eps)*float64(gamma[o]) + float64(beta[o])
		}
	}
	wf, bf := foldByHand(w, b, gamma, beta, mean, variance, eps)
	yf := convByHand(x, wf, bf, C, H, W, O, K, P)
	for i := range y {
		if math.Abs(y[i]-yf[i]) > 1e-5*(1+math.Abs(y[i])) {
			t.Fatalf("output %d: conv+BN %v, folded %v", i, y[i], yf[i])
		}
	}
	// A layer without bias folds as if its bias were zero.
	_, bz := foldByHand(w, make([]float32, O), gamma, beta, mean, variance, eps)
	want := -float64(mean[0])*float64(gamma[0])/math.Sqrt(float64(variance[0])+eps) + float64(beta[0])
	if math.Abs(float64(bz[0])-want) > 1e-6 {
		t.Errorf("bias-free fold: %v, want %v", bz[0], want)
	}
}

// foldByHand applies BNScaleShift as the fold of a conv does: w·scale per
// output channel, b·scale + shift.
func foldByHand(w, b, gamma, beta, mean, variance []float32, eps float64) (wf, bf []float32) {
	scale, shift := BNScaleShift(gamma, beta, mean, variance, eps)
	per := len(w) / len(scale)
	wf, bf = make([]float32, len(w)), make([]float32, len(b))
	for o, s := range scale {
		for i := range per {
			wf[o*per+i] = float32(float64(w[o*per+i]) * s)
		}
		bf[o] = float32(float64(b[o])*s + shift[o])
	}
	return wf, bf
}

const foldLayers = `  - {type: conv2d, filters: 3, kernel: 3, padding: 1, bias: false}
  - {type: batchnorm}
  - {type: relu}
  - {type: batchnorm}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 8}
  - {type: batchnorm}
  - {type: relu}
  - {type: dense, units: 3}
`

func TestFoldBatchNormNetwork(t *testing.T) {
	c := parseModel(t, foldLayers)
	rng := rand.New(rand.NewPCG(7, 7))
	n, err := New(c.Layers(), c.Data.Shape, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	randomBN(n, rng)
	f, folds := FoldBatchNorm(n)
	if len(f.Layers) != 8 || f.Layers[0].Bias == nil || !*f.Layers[0].Spec.Bias || f.Layers[5].Bias.Name != "5.bias" {
		t.Fatalf("fused layers: %s", f.Summary())
	}
	if len(folds) != 3 || folds[0] != (Fold{BN: 1, Into: 0}) || folds[1].Into != -1 ||
		!strings.Contains(folds[1].Reason, "follows relu (layer 2)") || folds[2] != (Fold{BN: 7, Into: 6}) {
		t.Errorf("folds %+v", folds)
	}
	if f.NumParams() >= n.NumParams() {
		t.Errorf("fused %d parameters, original %d", f.NumParams(), n.NumParams())
	}
	sameLogits(t, n, f, rng)
	// The original network is untouched.
	if n.Layers[0].Bias != nil || len(n.Layers) != 10 {
		t.Error("folding modified the original")
	}
}

// Every batch norm of the graph network folds — the one before each
// residual add, the one after the transposed convolution — and the folded
// network gives the same logits.
func TestFoldBatchNormGraph(t *testing.T) {
	c := parseModel(t, graphLayers)
	rng := rand.New(rand.NewPCG(8, 8))
	n, err := New(c.Layers(), c.Data.Shape, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	randomBN(n, rng)
	f, folds := FoldBatchNorm(n)
	var got []string
	for _, fd := range folds {
		got = append(got, fd.Describe(n))
	}
	want := []string{
		"folded    layer res1.bn (batchnorm) into layer res1.2 (conv2d 3@3×1 s1 p1×0)",
		"folded    layer res2.bn (batchnorm) into layer res2.2 (conv2d 3@3×1 s1 p1×0)",
		"folded    layer 20 (batchnorm) into layer 19 (conv_transpose2d 4@3×3 s2 p1)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("folds:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(f.Layers) != len(n.Layers)-3 || f.IsChain() {
		t.Fatalf("folded network:\n%s", f.Summary())
	}
	// The folded list re-parses as a config of its own (fuse writes it).
	specs := f.Specs()
	if _, err := New(specs, n.Input, 3, rng); err != nil {
		t.Fatal(err)
	}
	sameLogits(t, n, f, rng)
}

// randomBN gives every batch norm non-trivial statistics and affine parameters.
func randomBN(n *Network, rng *rand.Rand) {
	for _, l := range n.Layers {
		if l.BN != nil {
			for i := range l.BN.RunningMean {
				l.BN.RunningMean[i] = float32(rng.NormFloat64() * 0.3)
				l.BN.RunningVar[i] = float32(0.5 + rng.Float64())
				l.Weight.Data()[i] = float32(0.5 + rng.Float64())
				l.Bias.Data()[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
}

// sameLogits checks that two networks give the same logits (within 1e-5)
// on random inputs.
func sameLogits(t *testing.T, n, f *Network, rng *rand.Rand) {
	t.Helper()
	a, _ := n.BuildInference(4)
	b, _ := f.BuildInference(4)
	for i := range a.Input.Data().([]float32) {
		v := float32(rng.NormFloat64())
		a.Input.Data().([]float32)[i], b.Input.Data().([]float32)[i] = v, v
	}
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range a.LogitsData() {
		if d := math.Abs(float64(v - b.LogitsData()[i])); d > 1e-5 {
			t.Fatalf("logit %d: original %v, folded %v", i, v, b.LogitsData()[i])
		}
	}
}
