package layers

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// dense is a fully connected layer, y = W·x + b, over a flat input;
// W is [units, in] as PyTorch's nn.Linear.
var dense = &Kind{
	Name: "dense",
	Doc:  "fully connected layer over a flat input: units, bias",
	LayerSchema: config.LayerSchema{
		Fields:   []string{"units", "bias"},
		Defaults: defaultBias,
		Check: func(s *config.Layer, bad func(string, ...any)) {
			if s.Units < 1 {
				bad("units must be at least 1, got %d", s.Units)
			}
		},
	},
	Shape: func(s *config.Layer, in [][]int) ([]int, error) {
		if err := wantDims(s, in[0], 1); err != nil {
			return nil, err
		}
		return []int{s.Units}, nil
	},
	Params: func(l *Layer) int64 { return int64(l.Spec.Units)*int64(l.In[0]) + bias(&l.Spec, l.Spec.Units) },
	Init: func(l *Layer, rng *rand.Rand) {
		n := l.In[0]
		l.Weight = l.NewParam("weight", true, rng, n, l.Spec.Units, n)
		if *l.Spec.Bias {
			l.Bias = l.NewParam("bias", false, rng, n, l.Spec.Units)
		}
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		w, bias := b.Param(l.Weight), b.Param(l.Bias)
		if bias == nil {
			// The op always takes a bias; a bias-free layer gets zeros that
			// are not learned.
			bias = G.NodeFromAny(b.G, tensor.New(tensor.WithShape(l.Out[0]), tensor.Of(tensor.Float32)), G.WithName(l.ID+".zero_bias"))
		}
		op := ops.NewDense(l.opName(), b.InputDiff)
		op.Frozen, op.FixedParams = b.Frozen, b.FixedParams
		return op.Apply(in[0], w, bias)
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		e.Node(l.ID, "Gemm", e.Params(l, in), out, Int("transB", 1))
	},
	Torch: func(l *Layer) Torch {
		return Torch{Module: fmt.Sprintf("nn.Linear(%d, %d, bias=%s)", l.In[0], l.Spec.Units, pyBool(l.Bias != nil))}
	},
	Describe: func(s *config.Layer) string { return fmt.Sprintf("dense %d", s.Units) },
	MACs:     func(l *Layer) int64 { return int64(l.In[0]) * int64(l.Out[0]) },
	Fold:     foldPerOutput,
}

// dropout zeroes each value with probability rate in training and scales
// the rest by 1/(1 − rate); at inference it is the identity.
var dropout = &Kind{
	Name: "dropout", Family: Pointwise,
	Doc: "zeroes values at random in training (identity at inference): rate",
	LayerSchema: config.LayerSchema{
		Fields:   []string{"rate"},
		Defaults: func(s *config.Layer) { orFloat(&s.Rate, 0.5) },
		Check: func(s *config.Layer, bad func(string, ...any)) {
			if s.Rate <= 0 || s.Rate >= 1 {
				bad("rate must be in (0, 1), got %v", s.Rate)
			}
		},
	},
	Shape: same,
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		if !b.Training {
			return in[0], nil
		}
		return ops.NewDropout(l.opName(), float32(l.Spec.Rate), b.RNG).Apply(in[0])
	},
	Torch:    func(l *Layer) Torch { return Torch{Module: fmt.Sprintf("nn.Dropout(%g)", l.Spec.Rate)} },
	Describe: func(s *config.Layer) string { return fmt.Sprintf("dropout %.2g", s.Rate) },
}

// flatten views C×H×W as one vector of C·H·W (no copy).
var flatten = &Kind{
	Name: "flatten",
	Doc:  "C×H×W → C·H·W",
	Shape: func(_ *config.Layer, in [][]int) ([]int, error) {
		n := 1
		for _, v := range in[0] {
			n *= v
		}
		return []int{n}, nil
	},
	Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		if in[0].Dims() <= 2 {
			return in[0], nil
		}
		return ops.NewFlatten(l.opName()).Apply(in[0])
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		e.Node(l.ID, "Flatten", in, out, Int("axis", 1))
	},
	Torch: module("nn.Flatten()"),
}

func init() {
	for _, k := range []*Kind{dense, dropout, flatten} {
		Register(k)
	}
}
