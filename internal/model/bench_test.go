package model

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
)

// lenetBN is configs/lenet-bn-mnist.yaml's network.
const lenetBN = `  - {type: conv2d, filters: 20, kernel: 5}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: conv2d, filters: 50, kernel: 5}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 500}
  - {type: relu}
  - {type: dense, units: 10}
`

func benchNet(b *testing.B) *Network {
	c, err := config.Parse("b.yaml", []byte("data: {source: mnist, dir: d}\nmodel:\n"+lenetBN+"train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	return newBenchNet(b, c)
}

// shippedNet is the network of a shipped config.
func shippedNet(b testing.TB, name string) *Network {
	c, err := config.Load("../../configs/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return newBenchNet(b, c)
}

func newBenchNet(b testing.TB, c *config.Config) *Network {
	classes := 10
	if ls := c.Layers(); ls[len(ls)-1].Type == "dense" {
		classes = ls[len(ls)-1].Units
	}
	n, err := New(c.Layers(), c.Data.Shape, classes, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func fillRandom(g *Graph, classes int) {
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range g.Input.Data().([]float32) {
		g.Input.Data().([]float32)[i] = float32(rng.NormFloat64())
	}
	if g.Labels != nil {
		for i := range g.Labels.Data().([]float32) {
			g.Labels.Data().([]float32)[i] = float32(i % classes)
		}
	}
}

// BenchmarkTrainStepLeNetBN is one forward and backward pass of LeNet-BN
// on a batch of 64 (the optimizer update is not included).
func BenchmarkTrainStepLeNetBN(b *testing.B) {
	n := benchNet(b)
	g, err := n.BuildTrain(64, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	runGraph(b, g, 3*n.ForwardFLOPs()) // backward costs twice the forward
}

// BenchmarkTrainStepResNet is the same for configs/resnet-mnist.yaml.
func BenchmarkTrainStepResNet(b *testing.B) {
	n := shippedNet(b, "resnet-mnist.yaml")
	g, err := n.BuildTrain(64, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	runGraph(b, g, 3*n.ForwardFLOPs())
}

// BenchmarkTrainStepVibration1D is the same for configs/vibration-1d.yaml
// (1-D convolutions over 1×2048 windows) at its batch of 32.
func BenchmarkTrainStepVibration1D(b *testing.B) {
	n := shippedNet(b, "vibration-1d.yaml")
	g, err := n.BuildTrain(32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	runGraph(b, g, 3*n.ForwardFLOPs())
}

// BenchmarkInferVibration1D1000 is the vibration network's inference at
// batch 1000.
func BenchmarkInferVibration1D1000(b *testing.B) {
	n := shippedNet(b, "vibration-1d.yaml")
	g, err := n.BuildInference(1000)
	if err != nil {
		b.Fatal(err)
	}
	runGraph(b, g, n.ForwardFLOPs())
}

// BenchmarkInferLeNetBN1000 is inference at batch 1000.
func BenchmarkInferLeNetBN1000(b *testing.B) { benchInfer(b, 1000) }

// BenchmarkInferLeNetBN1 is batch-1 latency.
func BenchmarkInferLeNetBN1(b *testing.B) { benchInfer(b, 1) }

func benchInfer(b *testing.B, batch int) {
	n := benchNet(b)
	g, err := n.BuildFixedInference(batch)
	if err != nil {
		b.Fatal(err)
	}
	runGraph(b, g, n.ForwardFLOPs())
}

// runGraph times Runs of g on random inputs and reports img/s and GFLOP/s
// (flops per image).
func runGraph(b *testing.B, g *Graph, flops float64) {
	fillRandom(g, g.Logits.Shape()[1])
	g.Run()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := g.Run(); err != nil {
			b.Fatal(err)
		}
	}
	imgs := float64(g.Batch*b.N) / b.Elapsed().Seconds()
	b.ReportMetric(imgs, "img/s")
	b.ReportMetric(flops*imgs/1e9, "GFLOP/s")
}

// BenchmarkInferLeNetBNBatch is inference at the batch sizes serve's
// micro-batches run at.
func BenchmarkInferLeNetBNBatch(b *testing.B) {
	for _, n := range []int{1, 2, 4, 8, 16, 32, 64} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchInfer(b, n) })
	}
}

// BenchmarkInferResNet is configs/resnet-mnist.yaml's inference at batch 1
// (latency) and 1000.
func BenchmarkInferResNet(b *testing.B) {
	for _, batch := range []int{1, 1000} {
		b.Run(strconv.Itoa(batch), func(b *testing.B) {
			n := shippedNet(b, "resnet-mnist.yaml")
			g, err := n.BuildFixedInference(batch)
			if err != nil {
				b.Fatal(err)
			}
			runGraph(b, g, n.ForwardFLOPs())
		})
	}
}
