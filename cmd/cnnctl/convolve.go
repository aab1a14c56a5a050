package main

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/inspect"
	"github.com/spf13/cobra"
)

type convolveOptions struct {
	Kernel  string
	Stride  int
	Padding int
	Out     string
	Scale   string // "" chooses by the kernel
}

func newConvolveCmd(s streams) *cobra.Command {
	o := &convolveOptions{}
	c := &cobra.Command{
		Use:   "convolve IMAGE --kernel NAME|ROWS --out OUT.png",
		Short: "Apply one kernel to an image exactly as a conv2d layer does",
		Long: `Convolve slides a kernel over an image — the cross-correlation a conv2d layer computes,
with the same op — and writes the feature map as a PNG. It prints the output size
from out = ⌊(in + 2p − k)/s⌋ + 1.

Kernels by name: ` + strings.Join(inspect.KernelNames(), ", ") + `; or your own rows,
e.g. --kernel '[[1,0,-1],[2,0,-2],[1,0,-1]]' (any rectangle). A colour image is
filtered channel by channel (groups = 3), a grey one as one channel; pixels are
read as values in [0, 1].

--scale says how values become pixels: clamp (values in [0,1] as they are), abs
(|value|: edges of either sign are bright) or stretch (smallest black, largest white).
The default is clamp for kernels whose weights sum to 1 (blur, sharpen), abs for those
summing to 0 (edge, sobel) and stretch otherwise.`,
		Example: `  cnnctl convolve photo.png --kernel sobel-x --out edges.png
  cnnctl convolve digit.png --kernel blur --stride 2 --padding 1 --out small.png
  cnnctl convolve digit.png --kernel '[[0,-1,0],[-1,5,-1],[0,-1,0]]' --out sharp.png`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if o.Kernel == "" || o.Out == "" {
				return usagef("convolve needs --kernel and --out")
			}
			if o.Stride < 1 || o.Padding < 0 {
				return usagef("--stride must be at least 1 and --padding at least 0")
			}
			switch inspect.Scaling(o.Scale) {
			case "", inspect.Clamp, inspect.Abs, inspect.Stretch:
			default:
				return usagef("--scale must be clamp, abs or stretch, got %q", o.Scale)
			}
			k, err := inspect.ParseKernel(o.Kernel)
			if err != nil {
				return usageError{err}
			}
			return runConvolve(o, args[0], k, s)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Kernel, "kernel", "k", "", "a kernel's name or its rows as [[…],[…]]")
	f.IntVar(&o.Stride, "stride", 1, "step between windows")
	f.IntVar(&o.Padding, "padding", 0, "zeros added on every side")
	f.StringVarP(&o.Out, "out", "o", "", "the output PNG")
	f.StringVar(&o.Scale, "scale", "", "clamp, abs or stretch (default: by the kernel)")
	return c
}

func runConvolve(o *convolveOptions, path string, k inspect.Kernel, s streams) error {
	img, err := data.DecodeFile(path)
	if err != nil {
		return err
	}
	in := inspect.ImagePlanes(img)
	out, err := inspect.Convolve(in, k, o.Stride, o.Padding)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	sc := inspect.Scaling(o.Scale)
	if sc == "" {
		sc = inspect.DefaultScaling(k)
	}
	pic, err := out.Image(sc)
	if err != nil {
		return err
	}
	kh, kw := len(k), len(k[0])
	channels := "grey"
	if in.C == 3 {
		channels = "colour, per channel"
	}
	fmt.Fprintf(s.Out, "input %d×%d (%s), kernel %d×%d, stride %d, padding %d\n", in.H, in.W, channels, kh, kw, o.Stride, o.Padding)
	fmt.Fprintf(s.Out, "height %s\n", inspect.SizeRule(in.H, kh, o.Stride, o.Padding))
	fmt.Fprintf(s.Out, "width  %s\n", inspect.SizeRule(in.W, kw, o.Stride, o.Padding))
	var b bytes.Buffer
	if err := png.Encode(&b, pic); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "output %d×%d, scaled by %s\n", out.H, out.W, sc)
	return writeOutput(s, o.Out, b.Bytes())
}
