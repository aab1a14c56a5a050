package layers

import (
	"fmt"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// add sums its inputs, which must have the same shape: the join of a
// residual connection (y = F(x) + x).
var add = &Kind{
	Name:        "add",
	Doc:         "the sum of two or more layers' outputs of the same shape (a residual join): inputs",
	LayerSchema: config.LayerSchema{Joins: true},
	Shape: func(s *config.Layer, in [][]int) ([]int, error) {
		for i := 1; i < len(in); i++ {
			if !slices.Equal(in[i], in[0]) {
				return nil, fmt.Errorf("inputs must have the same shape, but %s gives %s and %s gives %s",
					s.Inputs[0], ShapeString(in[0]), s.Inputs[i], ShapeString(in[i]))
			}
		}
		return slices.Clone(in[0]), nil
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		// A ReLU that alone takes the sum (a ResNet block's end) runs
		// inside it: one pass over the block's output fewer.
		add := ops.NewAdd(l.opName())
		if r := b.Next(l); r != nil && r.Spec.Type == "relu" {
			b.Absorb(r)
			add.WithReLU()
		}
		return add.Apply(in...)
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		if len(in) == 2 {
			e.Node(l.ID, "Add", in, out)
			return
		}
		e.Node(l.ID, "Sum", in, out)
	},
	Torch: func(*Layer) Torch {
		return Torch{Expr: func(in []string) string { return strings.Join(in, " + ") }}
	},
	Describe: func(s *config.Layer) string { return "add " + strings.Join(s.Inputs, " + ") },
}

// concat joins its inputs along the channels (all other sizes equal): the
// join of Inception's branches.
var concat = &Kind{
	Name:        "concat",
	Doc:         "two or more layers' outputs joined along the channels: inputs",
	LayerSchema: config.LayerSchema{Joins: true},
	Shape: func(s *config.Layer, in [][]int) ([]int, error) {
		out := slices.Clone(in[0])
		for i := 1; i < len(in); i++ {
			if len(in[i]) != len(in[0]) || !slices.Equal(in[i][1:], in[0][1:]) {
				return nil, fmt.Errorf("inputs may differ only in channels, but %s gives %s and %s gives %s",
					s.Inputs[0], ShapeString(in[0]), s.Inputs[i], ShapeString(in[i]))
			}
			out[0] += in[i][0]
		}
		return out, nil
	},
	Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		return ops.NewConcat(l.opName()).Apply(in...)
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		e.Node(l.ID, "Concat", in, out, Int("axis", 1))
	},
	Torch: func(*Layer) Torch {
		return Torch{Expr: func(in []string) string { return "torch.cat([" + strings.Join(in, ", ") + "], 1)" }}
	},
	Describe: func(s *config.Layer) string { return "concat " + strings.Join(s.Inputs, ", ") },
}

func init() {
	Register(add)
	Register(concat)
}
