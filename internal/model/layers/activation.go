package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// The element-wise activations: one op, four functions.
var (
	relu = &Kind{
		Name: "relu", Family: Pointwise, Doc: "max(x, 0)", Shape: same,
		Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
			// A 2×2 max pooling that alone takes the output runs the ReLU
			// inside it: pool, then clamp the four times fewer outputs.
			if p := b.Next(l); p != nil && len(l.In) == 3 && isMaxPool2x2(p) {
				b.Absorb(p)
				return ops.NewMaxPool2D(p.opName(), ops.ConvGeom{Kernel: 2, Stride: 2}).WithReLU().Apply(in[0])
			}
			return ops.NewActivation(l.opName(), ops.ReLU, 0).Apply(in[0])
		},
		ONNX:  unary("Relu"),
		Torch: module("nn.ReLU()"),
	}
	sigmoid = &Kind{
		Name: "sigmoid", Family: Pointwise, Doc: "1/(1 + e^−x)", Shape: same,
		Build: activation(ops.Sigmoid),
		ONNX:  unary("Sigmoid"),
		Torch: module("nn.Sigmoid()"),
	}
	tanh = &Kind{
		Name: "tanh", Family: Pointwise, Doc: "tanh x", Shape: same,
		Build: activation(ops.Tanh),
		ONNX:  unary("Tanh"),
		Torch: module("nn.Tanh()"),
	}
	leakyReLU = &Kind{
		Name: "leaky_relu", Family: Pointwise, Doc: "x, or alpha·x below 0: alpha",
		LayerSchema: config.LayerSchema{
			Fields:   []string{"alpha"},
			Defaults: func(s *config.Layer) { orFloat(&s.Alpha, 0.01) },
			Check: func(s *config.Layer, bad func(string, ...any)) {
				if s.Alpha <= 0 || s.Alpha >= 1 {
					bad("alpha must be in (0, 1), got %v", s.Alpha)
				}
			},
		},
		Shape: same,
		Build: activation(ops.LeakyReLU),
		ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
			e.Node(l.ID, "LeakyRelu", in, out, Float("alpha", l.Spec.Alpha))
		},
		Torch:    func(l *Layer) Torch { return Torch{Module: fmt.Sprintf("nn.LeakyReLU(%g)", l.Spec.Alpha)} },
		Describe: func(s *config.Layer) string { return fmt.Sprintf("leaky_relu %.2g", s.Alpha) },
	}
)

func init() {
	for _, k := range []*Kind{relu, sigmoid, tanh, leakyReLU} {
		Register(k)
	}
}

func activation(kind ops.ActKind) func(*Builder, *Layer, []*G.Node) (*G.Node, error) {
	return func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		return ops.NewActivation(l.opName(), kind, float32(l.Spec.Alpha)).Apply(in[0])
	}
}

func unary(op string) func(*ONNXGraph, *Layer, []string, string) {
	return func(e *ONNXGraph, l *Layer, in []string, out string) { e.Node(l.ID, op, in, out) }
}

func module(m string) func(*Layer) Torch { return func(*Layer) Torch { return Torch{Module: m} } }
