package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/export/onnxpb"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// maxpool and avgpool slide a window over each channel: the largest value,
// or the mean with zero padding counted (PyTorch's count_include_pad).
// The stride defaults to the kernel; ceil_mode rounds the output size up.
var (
	maxpool = poolKind("maxpool", true, "the largest value of each window: kernel, stride (default: the kernel), padding, ceil_mode")
	avgpool = poolKind("avgpool", false, "the mean of each window, zero padding counted: kernel, stride (default: the kernel), padding, ceil_mode")
)

func poolKind(name string, isMax bool, doc string) *Kind {
	onnxOp, torchMod := "AveragePool", "nn.AvgPool2d"
	if isMax {
		onnxOp, torchMod = "MaxPool", "nn.MaxPool2d"
	}
	return &Kind{
		Name:   name,
		Family: Pool,
		Doc:    doc,
		LayerSchema: config.LayerSchema{
			Fields:   []string{"kernel", "stride", "padding", "ceil_mode"},
			Defaults: func(s *config.Layer) { setDefault(&s.Stride, s.Kernel) },
			Check: func(s *config.Layer, bad func(string, ...any)) {
				checkPair(bad, "kernel", s.Kernel, 1)
				checkPair(bad, "stride", s.Stride, 1)
				p := s.Padding
				switch {
				case p.Same:
					bad("padding same does not apply to pooling; give a number or [h, w]")
				case p.H < 0 || p.W < 0:
					bad("padding cannot be negative, got %s", p)
				case 2*p.H > s.Kernel.H || 2*p.W > s.Kernel.W:
					bad("padding %s is more than half the kernel %s", p, s.Kernel)
				}
			},
		},
		Shape: func(s *config.Layer, in [][]int) ([]int, error) {
			x := in[0]
			if err := wantDims(s, x, 3); err != nil {
				return nil, err
			}
			g := poolGeom(s)
			if x[1]+2*g.PH < g.KH || x[2]+2*g.PW < g.KW {
				return nil, fmt.Errorf("kernel %d×%d is larger than its input %s (padding %s)", g.KH, g.KW, ShapeString(x), s.Padding)
			}
			oh, ow := g.Out(x[1], x[2])
			return []int{x[0], oh, ow}, nil
		},
		Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
			return ops.NewPool2D(l.opName(), poolGeom(&l.Spec), isMax).Apply(in[0])
		},
		ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
			s := &l.Spec
			attrs := []*onnxpb.AttributeProto{hw("kernel_shape", s.Kernel), hw("strides", s.Stride), pads(s.Padding.Pair)}
			if s.CeilMode {
				attrs = append(attrs, Int("ceil_mode", 1))
			}
			if !isMax {
				attrs = append(attrs, Int("count_include_pad", 1))
			}
			e.Node(l.ID, onnxOp, in, out, attrs...)
		},
		Torch: func(l *Layer) Torch {
			s := &l.Spec
			ceil := ""
			if s.CeilMode {
				ceil = ", ceil_mode=True"
			}
			return Torch{Module: fmt.Sprintf("%s(kernel_size=%s, stride=%s, padding=%s%s)",
				torchMod, pyPair(s.Kernel), pyPair(s.Stride), pyPair(s.Padding.Pair), ceil)}
		},
		Describe: func(s *config.Layer) string {
			d := fmt.Sprintf("%s %d×%d s%s p%s", s.Type, s.Kernel.H, s.Kernel.W, s.Stride, s.Padding)
			if s.CeilMode {
				d += " ceil"
			}
			return d
		},
	}
}

func poolGeom(s *config.Layer) ops.PoolGeom {
	return ops.PoolGeom{KH: s.Kernel.H, KW: s.Kernel.W, SH: s.Stride.H, SW: s.Stride.W, PH: s.Padding.H, PW: s.Padding.W, Ceil: s.CeilMode}
}

// isMaxPool2x2 says whether l is the common 2×2, stride-2, unpadded max
// pooling, which a ReLU or a batch norm before it can run inside.
func isMaxPool2x2(l *Layer) bool {
	s := &l.Spec
	return s.Type == "maxpool" && s.Kernel == config.Square(2) && s.Stride == config.Square(2) && s.Padding.IsZero() && !s.CeilMode
}

// global_avgpool and global_maxpool reduce each channel to one number,
// giving a flat [C]: the end of a Network-in-Network or a ResNet.
var (
	globalAvgpool = globalKind("global_avgpool", false)
	globalMaxpool = globalKind("global_maxpool", true)
)

func globalKind(name string, isMax bool) *Kind {
	onnxOp, torchMod, what := "GlobalAveragePool", "nn.AdaptiveAvgPool2d(1)", "mean"
	if isMax {
		onnxOp, torchMod, what = "GlobalMaxPool", "nn.AdaptiveMaxPool2d(1)", "largest value"
	}
	return &Kind{
		Name: name,
		Doc:  "the " + what + " of each channel: C×H×W → C",
		Shape: func(s *config.Layer, in [][]int) ([]int, error) {
			if err := wantDims(s, in[0], 3); err != nil {
				return nil, err
			}
			return []int{in[0][0]}, nil
		},
		Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
			return ops.NewGlobalPool(l.opName(), isMax).Apply(in[0])
		},
		ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
			// ONNX keeps the 1×1 plane; the layer's output is flat.
			e.Node(l.ID, onnxOp, in, out+".4d")
			e.Node(l.ID+".flatten", "Flatten", []string{out + ".4d"}, out, Int("axis", 1))
		},
		Torch: module("nn.Sequential(" + torchMod + ", nn.Flatten())"),
	}
}

func init() {
	for _, k := range []*Kind{maxpool, avgpool, globalAvgpool, globalMaxpool} {
		Register(k)
	}
}
