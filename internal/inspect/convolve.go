package inspect

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// Kernel is a filter for Convolve: rows of weights.
type Kernel [][]float32

// Kernels are the classic image filters, by name.
var Kernels = map[string]Kernel{
	"identity": {{0, 0, 0}, {0, 1, 0}, {0, 0, 0}},
	"sharpen":  {{0, -1, 0}, {-1, 5, -1}, {0, -1, 0}},
	"blur":     {{1. / 9, 1. / 9, 1. / 9}, {1. / 9, 1. / 9, 1. / 9}, {1. / 9, 1. / 9, 1. / 9}},
	"gaussian": {{1. / 16, 2. / 16, 1. / 16}, {2. / 16, 4. / 16, 2. / 16}, {1. / 16, 2. / 16, 1. / 16}},
	"edge":     {{-1, -1, -1}, {-1, 8, -1}, {-1, -1, -1}},
	"sobel-x":  {{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}},
	"sobel-y":  {{-1, -2, -1}, {0, 0, 0}, {1, 2, 1}},
	"emboss":   {{-2, -1, 0}, {-1, 1, 1}, {0, 1, 2}},
}

// KernelNames lists the named kernels, sorted.
func KernelNames() []string {
	names := make([]string, 0, len(Kernels))
	for n := range Kernels {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ParseKernel reads a kernel's name or its rows as JSON ("[[0,1],[1,0]]").
func ParseKernel(s string) (Kernel, error) {
	if k, ok := Kernels[s]; ok {
		return k, nil
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "[") {
		return nil, fmt.Errorf("unknown kernel %q: give one of %s, or rows of numbers such as '[[0,-1,0],[-1,5,-1],[0,-1,0]]'", s, strings.Join(KernelNames(), ", "))
	}
	var rows [][]float64
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, fmt.Errorf("kernel %q is not rows of numbers such as '[[1,0],[0,-1]]'", s)
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("kernel %q is empty", s)
	}
	k := make(Kernel, len(rows))
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("kernel %q: row %d has %d numbers, row 1 has %d (a kernel is a rectangle)", s, i+1, len(r), len(rows[0]))
		}
		k[i] = make([]float32, len(r))
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
				return nil, fmt.Errorf("kernel %q: %v is not a usable weight", s, v)
			}
			k[i][j] = float32(v)
		}
	}
	return k, nil
}

// Sum is the sum of the kernel's weights: 1 keeps the image's brightness
// (blur, sharpen), 0 keeps only changes (edges).
func (k Kernel) Sum() float64 {
	var s float64
	for _, r := range k {
		for _, v := range r {
			s += float64(v)
		}
	}
	return s
}

// Planes is an image as C planes of H×W values in [0, 1].
type Planes struct {
	C, H, W int
	V       []float32
}

// ImagePlanes reads an image as one grey plane, or three (R, G, B) if any
// pixel has colour.
func ImagePlanes(img image.Image) Planes {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	rgb := make([]float32, 3*h*w)
	grey := true
	for y := range h {
		for x := range w {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := y*w + x
			rgb[i], rgb[h*w+i], rgb[2*h*w+i] = float32(r)/0xffff, float32(g)/0xffff, float32(bb)/0xffff
			grey = grey && r == g && g == bb
		}
	}
	if grey {
		return Planes{1, h, w, rgb[:h*w]}
	}
	return Planes{3, h, w, rgb}
}

// Convolve applies k to every plane of p with the given stride and zero
// padding, as a conv2d layer does — the same layer kind and op, with one
// kernel per channel (groups = channels): a cross-correlation, the kernel
// not flipped.
func Convolve(p Planes, k Kernel, stride, padding int) (Planes, error) {
	kh, kw := len(k), len(k[0])
	kind, _ := layers.Lookup("conv2d")
	f := false
	spec := config.Layer{Type: "conv2d", Filters: p.C, Kernel: config.Pair{H: kh, W: kw}, Stride: config.Square(stride),
		Padding: config.Padding{Pair: config.Square(padding)}, Groups: p.C, Bias: &f}
	kind.Defaults(&spec)
	var bad []string
	kind.Check(&spec, func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) })
	if len(bad) > 0 {
		return Planes{}, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	in := []int{p.C, p.H, p.W}
	out, err := kind.Shape(&spec, [][]int{in})
	if err != nil {
		return Planes{}, err
	}
	l := &layers.Layer{Spec: spec, Kind: kind, ID: "convolve", Inputs: []int{-1}, Ins: [][]int{in}, In: in, Out: out}
	wt := make([]float32, 0, p.C*kh*kw)
	for range p.C {
		for _, r := range k {
			wt = append(wt, r...)
		}
	}
	l.Weight = &layers.Param{Name: "convolve.weight", T: tensor.New(tensor.WithShape(p.C, 1, kh, kw), tensor.WithBacking(wt))}
	g := G.NewGraph()
	x := G.NodeFromAny(g, tensor.New(tensor.WithShape(1, p.C, p.H, p.W), tensor.WithBacking(slices.Clone(p.V))), G.WithName("image"))
	b := &layers.Builder{G: g,
		Param: func(pm *layers.Param) *G.Node {
			if pm == nil {
				return nil
			}
			return G.NodeFromAny(g, pm.T, G.WithName(pm.Name))
		},
		Next:   func(*layers.Layer) *layers.Layer { return nil },
		Absorb: func(*layers.Layer) {},
	}
	y, err := kind.Build(b, l, []*G.Node{x})
	if err != nil {
		return Planes{}, err
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return Planes{}, err
	}
	return Planes{out[0], out[1], out[2], slices.Clone(y.Value().Data().([]float32))}, nil
}

// Scaling says how output values become pixels.
type Scaling string

const (
	Clamp   Scaling = "clamp"   // v in [0,1] as is, beyond it clipped
	Abs     Scaling = "abs"     // |v|, clipped at 1: edges of either sign are bright
	Stretch Scaling = "stretch" // the smallest value black, the largest white
)

// DefaultScaling suits the kernel: clamp where it keeps brightness (weights
// summing to 1), abs where it keeps only changes (summing to 0), stretch
// otherwise.
func DefaultScaling(k Kernel) Scaling {
	switch s := k.Sum(); {
	case math.Abs(s-1) < 1e-6:
		return Clamp
	case math.Abs(s) < 1e-6:
		return Abs
	}
	return Stretch
}

// Image renders planes (1: grey, 3: colour) with the given scaling.
func (p Planes) Image(sc Scaling) (image.Image, error) {
	lo, hi := minMax(p.V)
	px := func(v float32) uint8 {
		switch sc {
		case Abs:
			v = float32(math.Abs(float64(v)))
		case Stretch:
			if hi > lo {
				v = (v - lo) / (hi - lo)
			} else {
				v = 0.5
			}
		}
		return uint8(math.Round(255 * clamp01(float64(v))))
	}
	if sc != Clamp && sc != Abs && sc != Stretch {
		return nil, fmt.Errorf("unknown scaling %q: clamp, abs or stretch", sc)
	}
	plane := p.H * p.W
	switch p.C {
	case 1:
		img := image.NewGray(image.Rect(0, 0, p.W, p.H))
		for i, v := range p.V[:plane] {
			img.Pix[i] = px(v)
		}
		return img, nil
	case 3:
		img := image.NewRGBA(image.Rect(0, 0, p.W, p.H))
		for i := range plane {
			img.SetRGBA(i%p.W, i/p.W, color.RGBA{px(p.V[i]), px(p.V[plane+i]), px(p.V[2*plane+i]), 255})
		}
		return img, nil
	}
	return nil, fmt.Errorf("cannot draw %d channels", p.C)
}

// SizeRule spells out out = ⌊(in + 2p − k)/s⌋ + 1 for one axis.
func SizeRule(in, k, s, p int) string {
	out := (in+2*p-k)/s + 1
	return fmt.Sprintf("⌊(%d + 2·%d − %d)/%d⌋ + 1 = %d", in, p, k, s, out)
}
