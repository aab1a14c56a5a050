package layers

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// conv_transpose2d: the adjoint of a convolution (the gradient of conv2d
// with respect to its input), which up-samples:
// out = (in − 1)·s − 2p + d·(k − 1) + output_padding + 1 along each axis.
// Weights are [in, out/groups, kh, kw], as PyTorch's ConvTranspose2d.
var convTranspose2d = &Kind{
	Name: "conv_transpose2d", Family: ConvTranspose,
	Doc: "transposed convolution: out = (in − 1)·s − 2p + d·(k − 1) + output_padding + 1",
	LayerSchema: config.LayerSchema{
		Fields: []string{"filters", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "bias"},
		Defaults: func(s *config.Layer) {
			conv2d.Defaults(s)
		},
		Check: func(s *config.Layer, bad func(string, ...any)) {
			conv2d.Check(s, bad)
			if s.Padding.Same {
				bad("padding same does not apply to a transposed convolution; give a number or [h, w]")
			}
			op := s.OutputPadding
			if op.H < 0 || op.W < 0 {
				bad("output_padding cannot be negative, got %s", op)
			}
			if (op.H > 0 || op.W > 0) && (op.H >= max(s.Stride.H, s.Dilation.H) || op.W >= max(s.Stride.W, s.Dilation.W)) {
				bad("output_padding %s must be smaller than the stride %s or the dilation %s", op, s.Stride, s.Dilation)
			}
		},
	},
	Shape: func(s *config.Layer, in [][]int) ([]int, error) {
		x := in[0]
		if err := wantDims(s, x, 3); err != nil {
			return nil, err
		}
		if x[0]%s.Groups != 0 {
			return nil, fmt.Errorf("groups %d does not divide its %d input channels", s.Groups, x[0])
		}
		g := geom(s)
		oh := im2col.TransposedOut(x[1], g.KH, g.SH, g.PH, g.DH, s.OutputPadding.H)
		ow := im2col.TransposedOut(x[2], g.KW, g.SW, g.PW, g.DW, s.OutputPadding.W)
		if oh < 1 || ow < 1 {
			return nil, fmt.Errorf("output would be empty (%d×%d): (in − 1)·s − 2p + d·(k − 1) + output_padding + 1 from %s with kernel %s, stride %s, padding %s",
				oh, ow, ShapeString(x), s.Kernel, s.Stride, s.Padding)
		}
		return []int{s.Filters, oh, ow}, nil
	},
	Params: func(l *Layer) int64 {
		s := &l.Spec
		return int64(l.In[0])*int64(s.Filters/s.Groups)*int64(s.Kernel.H)*int64(s.Kernel.W) + bias(s, s.Filters)
	},
	Init: func(l *Layer, rng *rand.Rand) {
		s := &l.Spec
		og := s.Filters / s.Groups
		// PyTorch takes the fan-in from weight.size(1)·kh·kw.
		fanIn := og * s.Kernel.H * s.Kernel.W
		l.Weight = l.NewParam("weight", true, rng, fanIn, l.In[0], og, s.Kernel.H, s.Kernel.W)
		if *s.Bias {
			l.Bias = l.NewParam("bias", false, rng, fanIn, s.Filters)
		}
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		w, bias := b.Param(l.Weight), b.Param(l.Bias)
		op := [2]int{l.Spec.OutputPadding.H, l.Spec.OutputPadding.W}
		c := ops.NewConvGeneral(l.opName(), geom(&l.Spec), l.Spec.Groups, true, op, bias != nil, b.InputDiff, b.Grad)
		c.Frozen = b.Frozen
		return c.Apply(in[0], w, bias)
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		s := &l.Spec
		e.Node(l.ID, "ConvTranspose", e.Params(l, in), out, hw("kernel_shape", s.Kernel), hw("strides", s.Stride),
			pads(s.Padding.Pair), hw("dilations", s.Dilation), Int("group", s.Groups), hw("output_padding", s.OutputPadding))
	},
	Torch: func(l *Layer) Torch {
		s := &l.Spec
		return Torch{Module: fmt.Sprintf("nn.ConvTranspose2d(%d, %d, kernel_size=%s, stride=%s, padding=%s, output_padding=%s, groups=%d, bias=%s, dilation=%s)",
			l.In[0], s.Filters, pyPair(s.Kernel), pyPair(s.Stride), pyPair(s.Padding.Pair), pyPair(s.OutputPadding), s.Groups, pyBool(l.Bias != nil), pyPair(s.Dilation))}
	},
	Describe: func(s *config.Layer) string {
		return fmt.Sprintf("conv_transpose2d %d@%d×%d s%s p%s", s.Filters, s.Kernel.H, s.Kernel.W, s.Stride, s.Padding)
	},
	MACs: func(l *Layer) int64 {
		s := &l.Spec
		return int64(l.In[0]*l.In[1]*l.In[2]) * int64(s.Filters/s.Groups*s.Kernel.H*s.Kernel.W)
	},
	Fold: func(l *Layer, scale, shift []float64) {
		// Output channel o = g·(O/G) + j is column j of group g's rows.
		w := l.Weight.Data()
		sh := l.Weight.T.Shape()
		cin, og, kk := sh[0], sh[1], sh[2]*sh[3]
		cg := cin / l.Spec.Groups
		for c := range cin {
			for j := range og {
				s := scale[(c/cg)*og+j]
				row := w[(c*og+j)*kk : (c*og+j+1)*kk]
				for i := range row {
					row[i] = float32(float64(row[i]) * s)
				}
			}
		}
		foldBias(l, scale, shift)
	},
}

func init() { Register(convTranspose2d) }
