package layers

import (
	"fmt"

	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// batchnorm normalises each channel by the batch's statistics in training
// and by running ones at inference, then scales by γ and shifts by β —
// PyTorch's semantics (momentum 0.1, unbiased running variance, eps 1e-5).
// Its state_dict names are <id>.weight (γ), .bias (β), .running_mean,
// .running_var and .num_batches_tracked.
var batchnorm = &Kind{
	Name: "batchnorm", Family: Pointwise,
	Doc: "batch normalisation per channel (of C×H×W, C×L or flat inputs): momentum, eps",
	LayerSchema: config.LayerSchema{
		Fields: []string{"momentum", "eps"},
		Defaults: func(s *config.Layer) {
			orFloat(&s.Momentum, 0.1)
			orFloat(&s.Eps, 1e-5)
		},
		Check: func(s *config.Layer, bad func(string, ...any)) {
			if s.Momentum <= 0 || s.Momentum > 1 {
				bad("momentum must be in (0, 1], got %v", s.Momentum)
			}
			if s.Eps <= 0 {
				bad("eps must be positive, got %v", s.Eps)
			}
		},
	},
	Shape:  same,
	Params: func(l *Layer) int64 { return 2 * int64(l.In[0]) },
	Init: func(l *Layer, _ *rand.Rand) {
		c := l.In[0]
		l.Weight = l.ConstParam("weight", 1, c)
		l.Bias = l.ConstParam("bias", 0, c)
		l.BN = &ops.BNState{RunningMean: make([]float32, c), RunningVar: make([]float32, c), Momentum: l.Spec.Momentum, Eps: l.Spec.Eps}
		for j := range l.BN.RunningVar {
			l.BN.RunningVar[j] = 1
		}
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		bn, _ := newBatchNorm(b, l)
		return bn.Apply(in[0], b.Param(l.Weight), b.Param(l.Bias))
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		c := []int{len(l.BN.RunningMean)}
		ins := e.Params(l, in)
		ins = append(ins, e.Init(l.ID+".running_mean", c, l.BN.RunningMean), e.Init(l.ID+".running_var", c, l.BN.RunningVar))
		e.Node(l.ID, "BatchNormalization", ins, out, Float("epsilon", l.BN.Eps), Float("momentum", 1-l.BN.Momentum))
	},
	Torch: func(l *Layer) Torch {
		kind := "BatchNorm2d"
		if len(l.In) <= 2 { // flat, or a C×L signal
			kind = "BatchNorm1d"
		}
		return Torch{Module: fmt.Sprintf("nn.%s(%d, eps=%g, momentum=%g)", kind, l.In[0], l.Spec.Eps, l.Spec.Momentum)}
	},
}

func init() { Register(batchnorm) }

// newBatchNorm makes layer l's op. A ReLU that alone takes the output runs
// inside it (one pass fewer), and so does a 2×2 (or, 1-D, window-2) max
// pooling after that (its input is never written); last is the last layer
// the op covers.
func newBatchNorm(b *Builder, l *Layer) (bn *ops.BatchNorm, last *Layer) {
	relu := b.Next(l)
	if relu != nil && relu.Spec.Type != "relu" {
		relu = nil
	}
	bn, last = ops.NewBatchNorm(l.opName(), l.BN, b.Training, relu != nil), l
	if relu == nil {
		return bn, last
	}
	b.Absorb(relu)
	last = relu
	switch p := b.Next(relu); {
	case p != nil && len(l.In) == 3 && isMaxPool2x2(p):
		bn.WithMaxPool()
		b.Absorb(p)
		last = p
	case p != nil && len(l.In) == 2 && isMaxPool1x2(p):
		bn.WithMaxPool1D()
		b.Absorb(p)
		last = p
	}
	return bn, last
}

// postBN is, in a graph that takes no gradients, the batch norm that alone
// takes convolution l's output, made to run inside the convolution on each
// image as it is computed (ops.PostBN), with its γ and β and the last layer
// it covers; nil otherwise.
func postBN(b *Builder, l *Layer) (post *ops.PostBN, gamma, beta *G.Node, last *Layer) {
	next := b.Next(l)
	if b.Training || b.Grad || next == nil || next.Spec.Type != "batchnorm" {
		return nil, nil, nil, l
	}
	b.Absorb(next)
	bn, last := newBatchNorm(b, next)
	return ops.NewPostBN(bn), b.Param(next.Weight), b.Param(next.Bias), last
}
