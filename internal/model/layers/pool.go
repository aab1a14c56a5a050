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
// maxpool1d and avgpool1d do the same along a C×L signal, as the 2-D op on a
// 1×L image viewed without copying.
var (
	maxpool   = poolKind("maxpool", true, false, "the largest value of each window: kernel, stride (default: the kernel), padding, ceil_mode")
	avgpool   = poolKind("avgpool", false, false, "the mean of each window, zero padding counted: kernel, stride (default: the kernel), padding, ceil_mode")
	maxpool1d = poolKind("maxpool1d", true, true, "the largest value of each window along a C×L signal: kernel, stride (default: the kernel), padding, ceil_mode")
	avgpool1d = poolKind("avgpool1d", false, true, "the mean of each window along a C×L signal, zero padding counted: kernel, stride (default: the kernel), padding, ceil_mode")
)

func poolKind(name string, isMax, oneD bool, doc string) *Kind {
	onnxOp, torchMod := "AveragePool", "nn.AvgPool2d"
	if isMax {
		onnxOp, torchMod = "MaxPool", "nn.MaxPool2d"
	}
	geometry := poolGeom
	if oneD {
		torchMod = torchMod[:len(torchMod)-2] + "1d"
		geometry = poolGeom1d
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
				if oneD {
					checkScalars(s, bad, "kernel", "stride", "padding")
				}
			},
		},
		Shape: func(s *config.Layer, in [][]int) ([]int, error) {
			x := in[0]
			if oneD {
				if err := wantDims(s, x, 2); err != nil {
					return nil, err
				}
				x = []int{x[0], 1, x[1]}
			} else if err := wantDims(s, x, 3); err != nil {
				return nil, err
			}
			g := geometry(s)
			if x[1]+2*g.PH < g.KH || x[2]+2*g.PW < g.KW {
				k := fmt.Sprintf("%d×%d", g.KH, g.KW)
				if oneD {
					k = fmt.Sprint(g.KW)
				}
				return nil, fmt.Errorf("kernel %s is larger than its input %s (padding %s)", k, ShapeString(in[0]), s.Padding)
			}
			oh, ow := g.Out(x[1], x[2])
			if oneD {
				return []int{x[0], ow}, nil
			}
			return []int{x[0], oh, ow}, nil
		},
		Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
			op := ops.NewPool2D(l.opName(), geometry(&l.Spec), isMax)
			if !oneD {
				return op.Apply(in[0])
			}
			return viewed1D(l, in[0], op.Apply)
		},
		ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
			s, g := &l.Spec, geometry(&l.Spec)
			attrs := []*onnxpb.AttributeProto{hw("kernel_shape", s.Kernel), hw("strides", s.Stride), pads(s.Padding.Pair)}
			if oneD {
				attrs = []*onnxpb.AttributeProto{Ints("kernel_shape", g.KW), Ints("strides", g.SW), Ints("pads", g.PW, g.PW)}
			}
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
			k, st, p := pyPair(s.Kernel), pyPair(s.Stride), pyPair(s.Padding.Pair)
			if oneD {
				k, st, p = fmt.Sprint(s.Kernel.W), fmt.Sprint(s.Stride.W), fmt.Sprint(s.Padding.W)
			}
			return Torch{Module: fmt.Sprintf("%s(kernel_size=%s, stride=%s, padding=%s%s)", torchMod, k, st, p, ceil)}
		},
		Describe: func(s *config.Layer) string {
			d := fmt.Sprintf("%s %d×%d s%s p%s", s.Type, s.Kernel.H, s.Kernel.W, s.Stride, s.Padding)
			if oneD {
				d = fmt.Sprintf("%s %d s%d p%d", s.Type, s.Kernel.W, s.Stride.W, s.Padding.W)
			}
			if s.CeilMode {
				d += " ceil"
			}
			return d
		},
	}
}

// viewed1D runs a 2-D op on a layer's C×L input seen as C×1×L, and sees
// its output as the layer's C×L′ again (views: nothing is copied).
func viewed1D(l *Layer, x *G.Node, apply func(*G.Node) (*G.Node, error)) (*G.Node, error) {
	return viewedAs1D(l, l.Out, x, apply)
}

// viewedAs1D is viewed1D for an op whose output is out (C×L), that of a
// later layer it covers.
func viewedAs1D(l *Layer, out []int, x *G.Node, apply func(*G.Node) (*G.Node, error)) (*G.Node, error) {
	x, err := ops.NewView(l.opName()+".x", l.In[0], 1, l.In[1]).Apply(x)
	if err != nil {
		return nil, err
	}
	y, err := apply(x)
	if err != nil {
		return nil, err
	}
	return ops.NewView(l.opName()+".y", out...).Apply(y)
}

func poolGeom(s *config.Layer) ops.PoolGeom {
	return ops.PoolGeom{KH: s.Kernel.H, KW: s.Kernel.W, SH: s.Stride.H, SW: s.Stride.W, PH: s.Padding.H, PW: s.Padding.W, Ceil: s.CeilMode}
}

// poolGeom1d is a 1-D window along the width of a 1×L image.
func poolGeom1d(s *config.Layer) ops.PoolGeom {
	return ops.PoolGeom{KH: 1, KW: s.Kernel.W, SH: 1, SW: s.Stride.W, PW: s.Padding.W, Ceil: s.CeilMode}
}

// isMaxPool2x2 says whether l is the common 2×2, stride-2, unpadded max
// pooling, which a ReLU or a batch norm before it can run inside.
func isMaxPool2x2(l *Layer) bool {
	s := &l.Spec
	return s.Type == "maxpool" && s.Kernel == config.Square(2) && s.Stride == config.Square(2) && s.Padding.IsZero() && !s.CeilMode
}

// isMaxPool1x2 is isMaxPool2x2 for signals: maxpool1d with a window of 2.
func isMaxPool1x2(l *Layer) bool {
	s := &l.Spec
	return s.Type == "maxpool1d" && s.Kernel == config.Square(2) && s.Stride == config.Square(2) && s.Padding.IsZero() && !s.CeilMode
}

// global_avgpool and global_maxpool reduce each channel to one number,
// giving a flat [C]: the end of a Network-in-Network or a ResNet.
var (
	globalAvgpool = globalKind("global_avgpool", false)
	globalMaxpool = globalKind("global_maxpool", true)
)

func globalKind(name string, isMax bool) *Kind {
	onnxOp, torchMod, what := "GlobalAveragePool", "nn.Adaptive%sPool%dd(1)", "mean"
	kind := "Avg"
	if isMax {
		onnxOp, what, kind = "GlobalMaxPool", "largest value", "Max"
	}
	return &Kind{
		Name: name,
		Doc:  "the " + what + " of each channel: C×H×W (or a C×L signal) → C",
		Shape: func(s *config.Layer, in [][]int) ([]int, error) {
			if len(in[0]) != 2 {
				if err := wantDims(s, in[0], 3); err != nil {
					return nil, err
				}
			}
			return []int{in[0][0]}, nil
		},
		Build: func(_ *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
			op := ops.NewGlobalPool(l.opName(), isMax)
			if len(l.In) == 2 {
				// A signal is pooled as a 1×L image; the output is flat either way.
				x, err := ops.NewView(l.opName()+".x", l.In[0], 1, l.In[1]).Apply(in[0])
				if err != nil {
					return nil, err
				}
				return op.Apply(x)
			}
			return op.Apply(in[0])
		},
		ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
			// ONNX keeps the 1×1 plane (or the length 1); the layer's output is flat.
			e.Node(l.ID, onnxOp, in, out+".nd")
			e.Node(l.ID+".flatten", "Flatten", []string{out + ".nd"}, out, Int("axis", 1))
		},
		Torch: func(l *Layer) Torch {
			return Torch{Module: "nn.Sequential(" + fmt.Sprintf(torchMod, kind, len(l.In)-1) + ", nn.Flatten())"}
		},
	}
}

func init() {
	for _, k := range []*Kind{maxpool, avgpool, maxpool1d, avgpool1d, globalAvgpool, globalMaxpool} {
		Register(k)
	}
}
