package layers

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// conv1d: y = w ⋆ x + b over C×L inputs (signals), out = ⌊(L + 2p −
// d·(k−1) − 1)/s⌋ + 1. Its weight is (filters, C/groups, k), PyTorch's
// nn.Conv1d layout. It runs as the 2-D convolution of a 1×L image with a
// 1×k kernel: the input and weight are viewed as 4-D (no copies), so the
// 2-D lowering and GEMM kernels serve signals too.
var conv1d = &Kind{
	Name: "conv1d", Family: Conv,
	Doc: "1-D convolution over C×L signals: kernel, stride, padding (a number or same), dilation, groups",
	LayerSchema: config.LayerSchema{
		Fields:   conv2d.Fields,
		Defaults: conv2d.Defaults,
		Check: func(s *config.Layer, bad func(string, ...any)) {
			conv2d.Check(s, bad)
			checkScalars(s, bad, "kernel", "stride", "padding", "dilation")
		},
	},
	Shape: func(s *config.Layer, in [][]int) ([]int, error) {
		x := in[0]
		if err := wantDims(s, x, 2); err != nil {
			return nil, err
		}
		if x[0]%s.Groups != 0 {
			return nil, fmt.Errorf("groups %d does not divide its %d input channels", s.Groups, x[0])
		}
		g := geom1d(s)
		if span := g.DW*(g.KW-1) + 1; x[1]+2*g.PW < span {
			return nil, fmt.Errorf("kernel %d (spanning %d) is longer than its input %s (padding %d)", g.KW, span, ShapeString(x), g.PW)
		}
		_, ol := g.Out(1, x[1])
		return []int{s.Filters, ol}, nil
	},
	Params: func(l *Layer) int64 {
		s := &l.Spec
		return int64(s.Filters)*int64(l.In[0]/s.Groups)*int64(s.Kernel.W) + bias(s, s.Filters)
	},
	Init: func(l *Layer, rng *rand.Rand) {
		s := &l.Spec
		cg := l.In[0] / s.Groups
		l.Weight = l.NewParam("weight", true, rng, cg*s.Kernel.W, s.Filters, cg, s.Kernel.W)
		if *s.Bias {
			l.Bias = l.NewParam("bias", false, rng, cg*s.Kernel.W, s.Filters)
		}
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		s := &l.Spec
		w, err := ops.NewView(l.opName()+".w", l.In[0]/s.Groups, 1, s.Kernel.W).Apply(b.Param(l.Weight))
		if err != nil {
			return nil, err
		}
		op := ops.NewConvGeneral(l.opName(), geom1d(s), s.Groups, false, [2]int{}, l.Bias != nil, b.InputDiff, b.Grad)
		op.Frozen = b.Frozen
		bias := b.Param(l.Bias)
		post, gamma, beta, last := postBN(b, l)
		return viewedAs1D(l, last.Out, in[0], func(x *G.Node) (*G.Node, error) {
			if post != nil {
				op.Post = post
				return op.ApplyPost(x, w, bias, gamma, beta)
			}
			return op.Apply(x, w, bias)
		})
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		g := geom1d(&l.Spec)
		e.Node(l.ID, "Conv", e.Params(l, in), out, Ints("kernel_shape", g.KW), Ints("strides", g.SW),
			Ints("pads", g.PW, g.PW), Ints("dilations", g.DW), Int("group", l.Spec.Groups))
	},
	Torch: func(l *Layer) Torch {
		s, g := &l.Spec, geom1d(&l.Spec)
		extra := ""
		if g.DW > 1 {
			extra += fmt.Sprintf(", dilation=%d", g.DW)
		}
		if s.Groups > 1 {
			extra += fmt.Sprintf(", groups=%d", s.Groups)
		}
		return Torch{Module: fmt.Sprintf("nn.Conv1d(%d, %d, kernel_size=%d, stride=%d, padding=%d%s, bias=%s)",
			l.In[0], s.Filters, g.KW, g.SW, g.PW, extra, pyBool(l.Bias != nil))}
	},
	Describe: func(s *config.Layer) string {
		d := fmt.Sprintf("conv1d %d@%d s%d %s", s.Filters, s.Kernel.W, s.Stride.W, padText(s))
		if s.Dilation.W > 1 {
			d += fmt.Sprintf(" d%d", s.Dilation.W)
		}
		if s.Groups > 1 {
			d += fmt.Sprintf(" g%d", s.Groups)
		}
		return d
	},
	MACs: func(l *Layer) int64 {
		s := &l.Spec
		return int64(l.Out[0]*l.Out[1]) * int64(l.In[0]/s.Groups*s.Kernel.W)
	},
	Fold: foldPerOutput,
}

func init() { Register(conv1d) }

// geom1d is a 1-D layer's window as the 2-D geometry of a 1×L image: its
// numbers (one each, kept as square Pairs in the config) along the width.
func geom1d(s *config.Layer) im2col.Geom {
	p := padding(s)
	return im2col.Geom{KH: 1, KW: s.Kernel.W, SH: 1, SW: max(s.Stride.W, 1), PW: p.W, DH: 1, DW: max(s.Dilation.W, 1)}
}

// checkScalars reports window fields given as [h, w] to a 1-D layer.
func checkScalars(s *config.Layer, bad func(string, ...any), fields ...string) {
	for _, f := range fields {
		var p config.Pair
		switch f {
		case "kernel":
			p = s.Kernel
		case "stride":
			p = s.Stride
		case "padding":
			p = s.Padding.Pair
		case "dilation":
			p = s.Dilation
		}
		if p.H != p.W {
			bad("%s of a 1-D layer is one number, got [%d, %d]", f, p.H, p.W)
		}
	}
}
