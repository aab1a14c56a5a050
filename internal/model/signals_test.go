package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
)

// parseSignalModel parses a model over C×L signals.
func parseSignalModel(t *testing.T, shape []int, layers string) *config.Config {
	t.Helper()
	doc := fmt.Sprintf("data: {source: signals, dir: s.csv, shape: [%d, %d]}\nmodel:\n%strain: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n", shape[0], shape[1], layers)
	c, err := config.Parse("s.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// smoothSignalLayers and signalLayers are 1-D networks for the gradient
// check: every 1-D kind, with strides, padding, dilation and groups; the
// second with the kinks of max pooling and ReLU (checked loosely).
const (
	smoothSignalLayers = `  - {type: conv1d, filters: 4, kernel: 16, stride: 2, padding: 6}
  - {type: batchnorm}
  - {type: tanh}
  - {type: avgpool1d, kernel: 3, stride: 2, padding: 1}
  - {type: conv1d, filters: 6, kernel: 3, dilation: 2, padding: same, groups: 2}
  - {type: sigmoid}
  - {type: global_avgpool}
  - {type: dense, units: 3}
`
	signalLayers = `  - {type: conv1d, filters: 4, kernel: 7, stride: 2, padding: 3, bias: false}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool1d, kernel: 3, stride: 2, ceil_mode: true}
  - {type: conv1d, filters: 5, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool1d, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 3}
`
)

func TestSignalNetworkGradients(t *testing.T) {
	for _, c := range []struct {
		name, layers string
		tol          float64
	}{{"smooth", smoothSignalLayers, 1e-2}, {"all 1-D kinds", signalLayers, 0.2}} {
		t.Run(c.name, func(t *testing.T) {
			checkGradients(t, parseSignalModel(t, []int{2, 37}, c.layers), c.tol)
		})
	}
}

// run1D runs one 1-D layer (then a flatten) at inference on x [B, C, L]
// and returns its output and the network.
func run1D(t *testing.T, C, L, B int, layer string, x []float32) ([]float32, *Network) {
	t.Helper()
	probe := parseSignalModel(t, []int{C, L}, "  - "+layer+"\n  - {type: flatten}\n")
	// The flattened output stands for the logits: as many "classes".
	n, err := New(probe.Layers(), probe.Data.Shape, shapeOf1D(t, probe), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return rerun(t, n, B, x), n
}

// shapeOf1D is the flattened size of a one-layer network's output.
func shapeOf1D(t *testing.T, c *config.Config) int {
	t.Helper()
	for classes := 2; classes < 1<<16; classes++ {
		if _, err := Plan(c.Layers(), c.Data.Shape, classes); err == nil {
			return classes
		}
	}
	t.Fatal("no output size fits")
	return 0
}

// TestOneDLayersMatchNaiveLoops compares each 1-D kind with the formula
// written as loops: y[b,o,t] = b[o] + Σ_c Σ_j w[o,c,j]·x[b, g·C/G + c,
// t·s − p + j·d] for conv1d, the max or mean (zero padding counted) of
// each window for the poolings, and the running-statistics affine map
// for batch norm.
func TestOneDLayersMatchNaiveLoops(t *testing.T) {
	const B = 3
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		C, L  int
		layer string
	}{
		{1, 50, "{type: conv1d, filters: 6, kernel: 9, stride: 3, padding: 4}"},
		{1, 100, "{type: conv1d, filters: 6, kernel: 20, stride: 3, padding: 7}"}, // long kernels: lowered window by window
		{2, 60, "{type: conv1d, filters: 5, kernel: 16, padding: 8}"},
		{3, 31, "{type: conv1d, filters: 4, kernel: 3}"},
		{4, 29, "{type: conv1d, filters: 6, kernel: 5, stride: 2, padding: 3, dilation: 2, groups: 2}"},
		{4, 20, "{type: conv1d, filters: 8, kernel: 3, padding: same, groups: 4, bias: false}"},
		{2, 16, "{type: conv1d, filters: 3, kernel: 1}"},
		{2, 17, "{type: maxpool1d, kernel: 2}"},
		{3, 23, "{type: maxpool1d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}"},
		{2, 19, "{type: avgpool1d, kernel: 4, stride: 3, padding: 2}"},
		{2, 18, "{type: avgpool1d, kernel: 4, stride: 3, padding: 1, ceil_mode: true}"},
		{3, 12, "{type: global_avgpool}"},
		{3, 12, "{type: global_maxpool}"},
		{3, 15, "{type: batchnorm}"},
	} {
		t.Run(c.layer, func(t *testing.T) {
			x := make([]float32, B*c.C*c.L)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			got, n := run1D(t, c.C, c.L, B, c.layer, x)
			l := n.Layers[0]
			if l.BN != nil {
				for i := range l.BN.RunningMean {
					l.BN.RunningMean[i], l.BN.RunningVar[i] = float32(rng.NormFloat64()), 0.5+rng.Float32()
					l.Weight.Data()[i], l.Bias.Data()[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				}
				got = rerun(t, n, B, x)
			}
			want := naive1D(l, B, x)
			if len(got) != len(want) {
				t.Fatalf("%d outputs, want %d (%v)", len(got), len(want), l.Out)
			}
			var worst float64
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
			}
			if worst > 1e-5 {
				t.Errorf("max |Δ| %.3g against the loops (out %v)", worst, l.Out)
			}
		})
	}
}

func rerun(t *testing.T, n *Network, B int, x []float32) []float32 {
	g, err := n.BuildInference(B)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	copy(g.Input.Data().([]float32), x)
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), g.LogitsData()...)
}

// naive1D is layer l on x [B, C, L], as loops.
func naive1D(l *Layer, B int, x []float32) []float64 {
	s := &l.Spec
	C, L := l.In[0], l.In[1]
	at := func(b, c, i int) float64 {
		if i < 0 || i >= L {
			return 0
		}
		return float64(x[(b*C+c)*L+i])
	}
	var y []float64
	switch s.Type {
	case "conv1d":
		O, OL := l.Out[0], l.Out[1]
		k, st, d, G := s.Kernel.W, s.Stride.W, s.Dilation.W, s.Groups
		p := s.Padding.W
		if s.Padding.Same {
			p = d * (k - 1) / 2
		}
		w := l.Weight.Data()
		cg := C / G
		for b := range B {
			for o := range O {
				g := o / (O / G)
				for t := range OL {
					v := 0.0
					if l.Bias != nil {
						v = float64(l.Bias.Data()[o])
					}
					for c := range cg {
						for j := range k {
							v += float64(w[(o*cg+c)*k+j]) * at(b, g*cg+c, t*st-p+j*d)
						}
					}
					y = append(y, v)
				}
			}
		}
	case "maxpool1d", "avgpool1d":
		OL := l.Out[1]
		k, st, p := s.Kernel.W, s.Stride.W, s.Padding.W
		for b := range B {
			for c := range C {
				for t := range OL {
					best, sum := math.Inf(-1), 0.0
					for j := range k {
						i := t*st - p + j
						if i >= L+p { // a ceil-mode window past the padding
							break
						}
						sum += at(b, c, i)
						if i >= 0 && i < L {
							best = math.Max(best, at(b, c, i))
						}
					}
					if s.Type == "maxpool1d" {
						y = append(y, best)
					} else {
						y = append(y, sum/float64(min(k, L+2*p-t*st)))
					}
				}
			}
		}
	case "global_avgpool", "global_maxpool":
		for b := range B {
			for c := range C {
				best, sum := math.Inf(-1), 0.0
				for i := range L {
					best, sum = math.Max(best, at(b, c, i)), sum+at(b, c, i)
				}
				if s.Type == "global_maxpool" {
					y = append(y, best)
				} else {
					y = append(y, sum/float64(L))
				}
			}
		}
	case "batchnorm":
		for b := range B {
			for c := range C {
				m, v := float64(l.BN.RunningMean[c]), float64(l.BN.RunningVar[c])
				for i := range L {
					y = append(y, (at(b, c, i)-m)/math.Sqrt(v+s.Eps)*float64(l.Weight.Data()[c])+float64(l.Bias.Data()[c]))
				}
			}
		}
	}
	return y
}
