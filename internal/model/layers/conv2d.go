package layers

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// conv2d: y = w ⋆ x + b, cross-correlation over C×H×W inputs,
// out = ⌊(in + 2p − d·(k−1) − 1)/s⌋ + 1 along each axis. groups splits the
// channels into independent convolutions (depthwise when groups = C).
var conv2d = &Kind{
	Name: "conv2d", Family: Conv,
	Doc: "2-D convolution (cross-correlation): kernel, stride, padding (a number, [h, w] or same), dilation, groups",
	LayerSchema: config.LayerSchema{
		Fields: []string{"filters", "kernel", "stride", "padding", "dilation", "groups", "bias"},
		Defaults: func(s *config.Layer) {
			setDefault(&s.Stride, config.Square(1))
			setDefault(&s.Dilation, config.Square(1))
			if s.Groups == 0 {
				s.Groups = 1
			}
			defaultBias(s)
		},
		Check: func(s *config.Layer, bad func(string, ...any)) {
			if s.Filters < 1 {
				bad("filters must be at least 1, got %d", s.Filters)
			}
			checkWindow(s, bad)
			if s.Groups < 1 {
				bad("groups must be at least 1, got %d", s.Groups)
			} else if s.Filters >= 1 && s.Filters%s.Groups != 0 {
				bad("groups %d does not divide filters %d", s.Groups, s.Filters)
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
		oh, ow, err := convOut(s, x)
		if err != nil {
			return nil, err
		}
		return []int{s.Filters, oh, ow}, nil
	},
	Params: func(l *Layer) int64 {
		s := &l.Spec
		return int64(s.Filters)*int64(l.In[0]/s.Groups)*int64(s.Kernel.H)*int64(s.Kernel.W) + bias(s, s.Filters)
	},
	Init: func(l *Layer, rng *rand.Rand) {
		s := &l.Spec
		cg := l.In[0] / s.Groups
		fanIn := cg * s.Kernel.H * s.Kernel.W
		l.Weight = l.NewParam("weight", true, rng, fanIn, s.Filters, cg, s.Kernel.H, s.Kernel.W)
		if *s.Bias {
			l.Bias = l.NewParam("bias", false, rng, fanIn, s.Filters)
		}
	},
	Build: func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error) {
		w, bias := b.Param(l.Weight), b.Param(l.Bias)
		g := geom(&l.Spec)
		// The square, undilated, ungrouped case — almost every CNN layer —
		// has the tuned op (packed GEMM, NT weight gradient, Winograd).
		post, gamma, beta, _ := postBN(b, l)
		if k, s, p, ok := g.Square(); ok && l.Spec.Groups == 1 {
			op := ops.NewConv2D(l.opName(), ops.ConvGeom{Kernel: k, Stride: s, Pad: p}, bias != nil, b.InputDiff, b.Grad)
			op.Frozen, op.FixedParams = b.Frozen, b.FixedParams
			if post != nil {
				op.Post = post
				return op.ApplyPost(in[0], w, bias, gamma, beta)
			}
			return op.Apply(in[0], w, bias)
		}
		op := ops.NewConvGeneral(l.opName(), g, l.Spec.Groups, false, [2]int{}, bias != nil, b.InputDiff, b.Grad)
		op.Frozen, op.FixedParams = b.Frozen, b.FixedParams
		if post != nil {
			op.Post = post
			return op.ApplyPost(in[0], w, bias, gamma, beta)
		}
		return op.Apply(in[0], w, bias)
	},
	ONNX: func(e *ONNXGraph, l *Layer, in []string, out string) {
		s := &l.Spec
		e.Node(l.ID, "Conv", e.Params(l, in), out, hw("kernel_shape", s.Kernel), hw("strides", s.Stride),
			pads(padding(s)), hw("dilations", s.Dilation), Int("group", s.Groups))
	},
	Torch: func(l *Layer) Torch {
		s := &l.Spec
		extra := ""
		if s.Dilation != config.Square(1) {
			extra += ", dilation=" + pyPair(s.Dilation)
		}
		if s.Groups > 1 {
			extra += fmt.Sprintf(", groups=%d", s.Groups)
		}
		return Torch{Module: fmt.Sprintf("nn.Conv2d(%d, %d, kernel_size=%s, stride=%s, padding=%s%s, bias=%s)",
			l.In[0], s.Filters, pyPair(s.Kernel), pyPair(s.Stride), pyPair(padding(s)), extra, pyBool(l.Bias != nil))}
	},
	Describe: func(s *config.Layer) string {
		d := fmt.Sprintf("conv2d %d@%d×%d s%s %s", s.Filters, s.Kernel.H, s.Kernel.W, s.Stride, padText(s))
		if s.Dilation != config.Square(1) {
			d += " d" + s.Dilation.String()
		}
		if s.Groups > 1 {
			d += fmt.Sprintf(" g%d", s.Groups)
		}
		return d
	},
	MACs: func(l *Layer) int64 {
		s := &l.Spec
		return int64(l.Out[0]*l.Out[1]*l.Out[2]) * int64(l.In[0]/s.Groups*s.Kernel.H*s.Kernel.W)
	},
	Fold: foldPerOutput,
}

func init() { Register(conv2d) }

// checkWindow checks the kernel, stride, padding and dilation of a
// convolution.
func checkWindow(s *config.Layer, bad func(string, ...any)) {
	checkPair(bad, "kernel", s.Kernel, 1)
	checkPair(bad, "stride", s.Stride, 1)
	checkPair(bad, "dilation", s.Dilation, 1)
	if s.Padding.H < 0 || s.Padding.W < 0 {
		bad("padding cannot be negative, got %s", s.Padding)
	}
	if s.Padding.Same {
		if s.Stride != config.Square(1) {
			bad("padding same needs stride 1, got stride %s", s.Stride)
		}
		if (s.Dilation.H*(s.Kernel.H-1))%2 != 0 || (s.Dilation.W*(s.Kernel.W-1))%2 != 0 {
			bad("padding same needs an odd kernel (or an even dilation), got kernel %s", s.Kernel)
		}
	}
}

// padding is the zero padding in effect: "same" keeps the size at stride 1.
func padding(s *config.Layer) config.Pair {
	if s.Padding.Same {
		return config.Pair{H: s.Dilation.H * (s.Kernel.H - 1) / 2, W: s.Dilation.W * (s.Kernel.W - 1) / 2}
	}
	return s.Padding.Pair
}

func geom(s *config.Layer) im2col.Geom {
	p := padding(s)
	return im2col.Geom{KH: s.Kernel.H, KW: s.Kernel.W, SH: s.Stride.H, SW: s.Stride.W, PH: p.H, PW: p.W, DH: s.Dilation.H, DW: s.Dilation.W}
}

// convOut is the output size of a convolution of x [C,H,W], or the reason
// there is none.
func convOut(s *config.Layer, x []int) (int, int, error) {
	g := geom(s)
	eh, ew := g.DH*(g.KH-1)+1, g.DW*(g.KW-1)+1
	if x[1]+2*g.PH < eh || x[2]+2*g.PW < ew {
		dilated := ""
		if eh != g.KH || ew != g.KW {
			dilated = fmt.Sprintf(" (dilated %d×%d)", eh, ew)
		}
		return 0, 0, fmt.Errorf("kernel %d×%d%s is larger than its input %s (padding %s)",
			g.KH, g.KW, dilated, ShapeString(x), padding(s))
	}
	oh, ow := g.Out(x[1], x[2])
	return oh, ow, nil
}

// foldPerOutput folds a per-output-channel scale and shift into weights
// laid out [out, …] and the bias: w'[o,…] = w[o,…]·scale[o],
// b' = b·scale[o] + shift[o] (conv2d and dense).
func foldPerOutput(l *Layer, scale, shift []float64) {
	w := l.Weight.Data()
	per := len(w) / len(scale)
	for o, s := range scale {
		for i := range per {
			w[o*per+i] = float32(float64(w[o*per+i]) * s)
		}
	}
	foldBias(l, scale, shift)
}

// foldBias sets b' = b·scale + shift, giving the layer a bias if it had none.
func foldBias(l *Layer, scale, shift []float64) {
	if l.Bias == nil {
		l.Bias = l.ConstParam("bias", 0, len(scale))
		t := true
		l.Spec.Bias = &t
	}
	b := l.Bias.Data()
	for o := range scale {
		b[o] = float32(float64(b[o])*scale[o] + shift[o])
	}
}

// padText is the padding in a summary line: "p1", or "same".
func padText(s *config.Layer) string {
	if s.Padding.Same {
		return "same"
	}
	return "p" + s.Padding.String()
}
