package inspect

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// MapLayers lists the layers whose outputs FeatureMaps draws: every
// convolution and pooling with a spatial output.
func MapLayers(n *model.Network) []int {
	var at []int
	for i, l := range n.Layers {
		switch l.Kind.Family {
		case layers.Conv, layers.ConvTranspose, layers.Pool:
			if len(l.Out) == 3 {
				at = append(at, i)
			}
		}
	}
	return at
}

// FeatureMaps draws every channel of layer i's output for the examined
// input, each scaled to its own range (black: its smallest value, white:
// its largest), captioned with its channel number.
func FeatureMaps(n *model.Network, lk *Look, i int) (*Picture, error) {
	l := n.Layers[i]
	if len(l.Out) != 3 {
		return nil, fmt.Errorf("layer %s has no feature maps (its output is %s)", l.ID, model.ShapeString(l.Out))
	}
	c, h, w := l.Out[0], l.Out[1], l.Out[2]
	out := lk.Outputs[i]
	z := scaleFor(max(h, w), 56)
	g := Grid{CellW: w * z, CellH: h * z, Cols: int(math.Ceil(math.Sqrt(float64(c))))}
	g.Rows = (c + g.Cols - 1) / g.Cols
	g.Title = fmt.Sprintf("layer %s: %s → %s (each map scaled to its own min…max)", l.ID, l.Describe(), model.ShapeString(l.Out))
	cells := make([]Cell, c)
	for ch := range c {
		plane := out[ch*h*w : (ch+1)*h*w]
		lo, hi := minMax(plane)
		cells[ch] = Cell{mapImage(plane, h, w, lo, hi, Grey), fmt.Sprint(ch)}
	}
	return &Picture{Image: Sheet(g, cells), Grids: []Grid{g}}, nil
}

// Saliency draws the input, its saliency map and the two overlaid.
func Saliency(n *model.Network, lk *Look, label string) *Picture {
	title := fmt.Sprintf("saliency of %q (p = %.4f): |∂score/∂pixel|", label, lk.Probs[lk.Class])
	return explanation(n, lk, lk.Saliency, "saliency", title)
}

// GradCAM draws the input, the Grad-CAM map and the two overlaid.
func GradCAM(n *model.Network, lk *Look, label string) (*Picture, error) {
	if lk.CAM == nil {
		return nil, fmt.Errorf("the model has no convolution with a spatial output: no Grad-CAM")
	}
	l := n.Layers[lk.CAMLayer]
	title := fmt.Sprintf("Grad-CAM of %q (p = %.4f) at layer %s (%s)", label, lk.Probs[lk.Class], l.ID, model.ShapeString(l.Out))
	if lk.CAMZero {
		title += ": no positive evidence"
	}
	return explanation(n, lk, lk.CAM, "Grad-CAM", title), nil
}

func explanation(n *model.Network, lk *Look, m []float32, name, title string) *Picture {
	c, h, w := n.Input[0], n.Input[1], n.Input[2]
	in := data.ToImage(lk.Pixels, c, h, w)
	z := scaleFor(max(h, w), 196)
	g := Grid{Rows: 1, Cols: 3, CellW: w * z, CellH: h * z, Title: title}
	heat := mapImage(m, h, w, 0, 1, Heat)
	return &Picture{Image: Sheet(g, []Cell{{in, "input"}, {heat, name}, {overlay(in, m), "overlay"}}), Grids: []Grid{g}}
}

// overlay blends the heat colour of m into the image where m is large:
// out = (1 − ½m)·image + ½m·heat(m).
func overlay(img image.Image, m []float32) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			t := float64(m[y*b.Dx()+x])
			hc := Heat(t)
			a := 0.5 * clamp01(t)
			mix := func(v uint32, h uint8) uint8 {
				return uint8(math.Round((1-a)*float64(v>>8) + a*float64(h)))
			}
			out.SetRGBA(x, y, color.RGBA{mix(r, hc.R), mix(g, hc.G), mix(bb, hc.B), 255})
		}
	}
	return out
}
