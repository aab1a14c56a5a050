package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Benchmarks of every hot op at LeNet-BN's shapes, batch 64: each forward
// op and its gradient ops, reported as images per second (and GFLOP/s for
// the GEMM-based ones).

const benchBatch = 64

// benchOp times op.Do on fixed inputs and reports img/s and, if flops > 0,
// GFLOP/s (flops per image).
func benchOp(b *testing.B, op G.Op, flops float64, in ...G.Value) {
	b.Helper()
	if _, err := op.Do(in...); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := op.Do(in...); err != nil {
			b.Fatal(err)
		}
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(benchBatch*float64(b.N)/s, "img/s")
	if flops > 0 {
		b.ReportMetric(flops*benchBatch*float64(b.N)/s/1e9, "GFLOP/s")
	}
}

func benchTensor(shape ...int) *tensor.Dense {
	return randTensor(rand.New(rand.NewPCG(1, 2)), 1, shape...)
}

// convShapes are LeNet-BN's two convolutions and those of the ResNet config
// (configs/resnet-mnist.yaml): C×H×W input, O filters of K×K, stride S,
// padding P.
var convShapes = []struct {
	name                string
	C, H, W, O, K, S, P int
}{{"conv1", 1, 28, 28, 20, 5, 1, 0}, {"conv2", 20, 12, 12, 50, 5, 1, 0},
	{"res16", 16, 28, 28, 16, 3, 1, 1}, {"res16to32s2", 16, 28, 28, 32, 3, 2, 1}, {"res32", 32, 14, 14, 32, 3, 1, 1},
	{"proj16to32", 16, 28, 28, 32, 1, 2, 0}, {"res64", 64, 7, 7, 64, 3, 1, 1}}

func BenchmarkOpConv(b *testing.B) {
	for _, c := range convShapes {
		x := benchTensor(benchBatch, c.C, c.H, c.W)
		w := benchTensor(c.O, c.C, c.K, c.K)
		bias := benchTensor(c.O)
		g := ConvGeom{c.K, c.S, c.P}
		oh := g.OutSize(c.H)
		flops := 2 * float64(c.O*oh*oh*c.C*c.K*c.K)
		fwd := NewConv2D("b", g, true, true, true)
		fwd.InferShape(x.Shape(), w.Shape())
		dy := benchTensor(benchBatch, c.O, oh, oh)
		b.Run(c.name+"/forward", func(b *testing.B) { benchOp(b, fwd, flops, x, w, bias) })
		fwd.Do(x, w, bias) // the weight gradient reads the forward pass's im2col
		b.Run(c.name+"/dW", func(b *testing.B) {
			benchOp(b, &convGradFilter{gradBase: newGradBase("b"), fwd: fwd}, flops, x, dy)
		})
		b.Run(c.name+"/dX", func(b *testing.B) {
			benchOp(b, &convGradInput{gradBase: newGradBase("b"), fwd: fwd}, flops, w, dy)
		})
	}
}

// BenchmarkOpBatchNormReLU is the batch norm with its ReLU, alone and (as
// LeNet-BN runs it) with the 2×2 max pooling after it inside the op.
func BenchmarkOpBatchNormReLU(b *testing.B) {
	for _, s := range [][]int{{benchBatch, 20, 24, 24}, {benchBatch, 50, 8, 8}} {
		for _, pooled := range []bool{false, true} {
			x := benchTensor(s...)
			gamma, beta := benchTensor(s[1]), benchTensor(s[1])
			op := NewBatchNorm("b", newBNState(s[1]), true, true)
			op.dims = 4
			name := fmt.Sprintf("%dx%dx%d", s[1], s[2], s[3])
			dy := benchTensor(s...)
			if pooled {
				op.WithMaxPool()
				name += "+maxpool"
				dy = benchTensor(s[0], s[1], s[2]/2, s[3]/2)
			}
			if _, err := op.InferShape(x.Shape()); err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/forward", func(b *testing.B) { benchOp(b, op, 0, x, gamma, beta) })
			op.Do(x, gamma, beta)
			b.Run(name+"/backward", func(b *testing.B) {
				benchOp(b, &bnBackward{gradBase: newGradBase("b"), fwd: op, dims: 4}, 0, dy, gamma, x)
			})
		}
	}
}

func BenchmarkOpMaxPool(b *testing.B) {
	for _, s := range [][]int{{benchBatch, 20, 24, 24}, {benchBatch, 50, 8, 8}} {
		x := benchTensor(s...)
		op := NewMaxPool2D("b", ConvGeom{2, 2, 0})
		op.InferShape(x.Shape())
		dy := benchTensor(s[0], s[1], s[2]/2, s[3]/2)
		name := fmt.Sprintf("%dx%dx%d", s[1], s[2], s[3])
		b.Run(name+"/forward", func(b *testing.B) { benchOp(b, op, 0, x) })
		op.Do(x)
		b.Run(name+"/backward", func(b *testing.B) {
			benchOp(b, &poolGrad{gradBase: newGradBase("b"), fwd: op}, 0, dy)
		})
	}
}

func BenchmarkOpReLU(b *testing.B) {
	x := benchTensor(benchBatch, 500)
	op := NewActivation("b", ReLU, 0)
	op.dims = 2
	b.Run("forward", func(b *testing.B) { benchOp(b, op, 0, x) })
	y, _ := op.Do(x)
	b.Run("backward", func(b *testing.B) {
		benchOp(b, &activationGrad{gradBase: newGradBase("b"), fwd: op, n: 2}, 0, y.(*tensor.Dense).Clone().(*tensor.Dense), x)
	})
}

func BenchmarkOpDense(b *testing.B) {
	x, w, bias := benchTensor(benchBatch, 800), benchTensor(500, 800), benchTensor(500)
	dy := benchTensor(benchBatch, 500)
	flops := 2 * 800.0 * 500
	b.Run("fc500/forward", func(b *testing.B) { benchOp(b, NewDense("b", true), flops, x, w, bias) })
	b.Run("fc500/dW", func(b *testing.B) {
		benchOp(b, &denseGradWeight{gradBase: newGradBase("b")}, flops, x, dy)
	})
	b.Run("fc500/dX", func(b *testing.B) {
		benchOp(b, &denseGradInput{gradBase: newGradBase("b")}, flops, w, dy)
	})
}

func BenchmarkOpSoftmaxCrossEntropy(b *testing.B) {
	z := benchTensor(benchBatch, 10)
	labels := tensor.New(tensor.WithShape(benchBatch), tensor.Of(tensor.Float32))
	op := NewSoftmaxCrossEntropy("b")
	op.InferShape(z.Shape(), labels.Shape())
	benchOp(b, op, 0, z, labels)
}

// BenchmarkOpBatchNormReLU1D is the batch norm with its ReLU at the shapes
// of configs/vibration-1d.yaml (batch 32), each with the window-2 max
// pooling fused in as that config runs it, the last without.
func BenchmarkOpBatchNormReLU1D(b *testing.B) {
	const B = 32
	for _, s := range []struct {
		C, L   int
		pooled bool
	}{{16, 256, true}, {32, 128, true}, {64, 64, true}, {64, 32, false}} {
		x := benchTensor(B, s.C, s.L)
		gamma, beta := benchTensor(s.C), benchTensor(s.C)
		op := NewBatchNorm("b", newBNState(s.C), true, true)
		op.dims = 3
		name := fmt.Sprintf("%dx%d", s.C, s.L)
		dy := benchTensor(B, s.C, s.L)
		if s.pooled {
			op.WithMaxPool1D()
			name += "+maxpool"
			dy = benchTensor(B, s.C, s.L/2)
		}
		if _, err := op.InferShape(x.Shape()); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/forward", func(b *testing.B) { benchOp(b, op, 0, x, gamma, beta) })
		op.Do(x, gamma, beta)
		b.Run(name+"/backward", func(b *testing.B) {
			benchOp(b, &bnBackward{gradBase: newGradBase("b"), fwd: op, dims: 3}, 0, dy, gamma, x)
		})
	}
}
