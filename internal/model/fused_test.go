package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
)

// TestInferenceRunsBatchNormInsideConvolutions: in an inference graph a
// batch norm (with its ReLU and pooling) after a convolution runs inside it
// on each image (ops.PostBN), and the logits are those of the graph that
// keeps them apart (a probe's, which takes gradients), for 2-D convolutions
// (square, general, depthwise), 1-D ones, residual blocks and branches, at
// batch 1 (the latency path), 3 and 37 (several images a worker, a
// remainder).
func TestInferenceRunsBatchNormInsideConvolutions(t *testing.T) {
	for _, name := range []string{"lenet-bn-mnist.yaml", "resnet-mnist.yaml", "mobilenet-mnist.yaml", "inception-xo.yaml", "vibration-1d.yaml", "vibration-1d-3x64.yaml"} {
		t.Run(name, func(t *testing.T) {
			c, err := config.Load("../../configs/" + name)
			if err != nil {
				t.Fatal(err)
			}
			classes := 10
			if ls := c.Layers(); ls[len(ls)-1].Type == "dense" {
				classes = ls[len(ls)-1].Units
			}
			rng := rand.New(rand.NewPCG(3, 4))
			n, err := New(c.Layers(), c.Data.Shape, classes, rng)
			if err != nil {
				t.Fatal(err)
			}
			bns := 0
			for _, l := range n.Layers {
				if l.BN == nil {
					continue
				}
				bns++
				for i := range l.BN.RunningMean { // statistics and affine far from the identity
					l.BN.RunningMean[i] = float32(rng.NormFloat64())
					l.BN.RunningVar[i] = float32(0.2 + rng.Float64())
					l.Weight.Data()[i] = float32(0.5 + rng.Float64())
					l.Bias.Data()[i] = float32(rng.NormFloat64())
				}
			}
			for _, B := range []int{1, 3, 37} {
				g, err := n.BuildInference(B)
				if err != nil {
					t.Fatal(err)
				}
				p, err := n.BuildProbe(B, 0)
				if err != nil {
					t.Fatal(err)
				}
				if kept := strings.Count(g.g.String(), "batchnorm"); kept >= bns && bns > 0 {
					t.Errorf("batch %d: the inference graph keeps all %d batch norms apart", B, bns)
				}
				for i := range g.Input.Data().([]float32) {
					v := float32(rng.NormFloat64())
					g.Input.Data().([]float32)[i] = v
					p.Input.Data().([]float32)[i] = v
				}
				if err := g.Run(); err != nil {
					t.Fatal(err)
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				got, want := g.LogitsData(), p.LogitsData()
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("batch %d: logit %d = %v fused, %v apart", B, i, got[i], want[i])
					}
				}
				g.Close()
				p.Close()
			}
		})
	}
}
