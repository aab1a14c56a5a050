package inspect

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// Picture is a drawn sheet and the grids it is made of, top to bottom.
type Picture struct {
	Image *image.RGBA
	Grids []Grid
}

// Filters draws the learned kernels: the first convolution's as small
// pictures — one per kernel in colour for an RGB input, one per kernel in
// blue (negative) … white (0) … red (positive) for a single channel, else
// one per kernel and input channel — and each deeper convolution's as a
// grid of kernel norms ‖W[o,i]‖₂, one cell per output × input channel.
func Filters(n *model.Network) (*Picture, error) {
	var convs []*model.Layer
	for _, l := range n.Layers {
		if f := l.Kind.Family; f == layers.Conv || f == layers.ConvTranspose {
			convs = append(convs, l)
		}
	}
	if len(convs) == 0 {
		return nil, fmt.Errorf("the model has no convolution layers: no filters to draw")
	}
	pic := &Picture{}
	for i, l := range convs {
		var img *image.RGBA
		var g Grid
		if i == 0 {
			img, g = kernelSheet(l, n.Input[0])
		} else {
			img, g = normSheet(l)
		}
		pic.Grids = append(pic.Grids, g)
		if pic.Image == nil {
			pic.Image = img
		} else {
			pic.Image = stack(pic.Image, img)
		}
	}
	return pic, nil
}

// kernelDims reads a conv weight as d0 × d1 kernels of kh×kw: (out, in)
// for a convolution, (in, out) for a transposed one; a 1-D kernel is 1×k.
func kernelDims(l *model.Layer) (d0, d1, kh, kw int) {
	s := l.Weight.T.Shape()
	if len(s) == 3 {
		return s[0], s[1], 1, s[2]
	}
	return s[0], s[1], s[2], s[3]
}

// kernelSheet draws every kernel of a (first) convolution.
func kernelSheet(l *model.Layer, inputChannels int) (*image.RGBA, Grid) {
	w := l.Weight.Data()
	d0, d1, kh, kw := kernelDims(l)
	m := maxAbs(w)
	z := scaleFor(max(kh, kw), 40)
	g := Grid{CellW: kw * z, CellH: kh * z}
	if kh == 1 { // a 1-D kernel: a strip, tall enough to see
		g.CellH = max(g.CellH, min(16, g.CellW/4))
	}
	var cells []Cell
	per := kh * kw
	signed := func(v float32) float64 { return float64(v/(2*m)) + 0.5 } // ±m → 0…1, 0 → ½
	if m == 0 {
		signed = func(float32) float64 { return 0.5 }
	}
	switch {
	case d1 == 3 && inputChannels == 3 && l.Kind.Family == layers.Conv:
		// RGB kernels: channel i of the kernel is the colour's component.
		for o := range d0 {
			img := image.NewRGBA(image.Rect(0, 0, kw, kh))
			for p := range per {
				var c [3]uint8
				for ch := range 3 {
					c[ch] = uint8(math.Round(255 * clamp01(signed(w[(o*3+ch)*per+p]))))
				}
				img.SetRGBA(p%kw, p/kw, color.RGBA{c[0], c[1], c[2], 255})
			}
			cells = append(cells, Cell{img, fmt.Sprint(o)})
		}
		g.Title = fmt.Sprintf("layer %s: %s — %d RGB kernels (grey 0, ±%.3g)", l.ID, l.Describe(), d0, m)
	case d1 == 1:
		for o := range d0 {
			cells = append(cells, Cell{mapImage(w[o*per:(o+1)*per], kh, kw, -m, m, Diverging), fmt.Sprint(o)})
		}
		g.Title = fmt.Sprintf("layer %s: %s — %d kernels (blue < 0 < red, ±%.3g)", l.ID, l.Describe(), d0, m)
	default:
		for o := range d0 {
			for i := range d1 {
				k := (o*d1 + i) * per
				cells = append(cells, Cell{mapImage(w[k:k+per], kh, kw, -m, m, Diverging), fmt.Sprintf("%d.%d", o, i)})
			}
		}
		g.Title = fmt.Sprintf("layer %s: %s — %d×%d kernels, row: kernel, column: channel (blue < 0 < red, ±%.3g)", l.ID, l.Describe(), d0, d1, m)
		g.Rows, g.Cols = d0, d1
	}
	if g.Cols == 0 {
		g.Cols = int(math.Ceil(math.Sqrt(float64(len(cells)))))
		g.Rows = (len(cells) + g.Cols - 1) / g.Cols
	}
	return Sheet(g, cells), g
}

// normSheet draws ‖W[a,b]‖₂ for a deeper convolution as one heat map.
func normSheet(l *model.Layer) (*image.RGBA, Grid) {
	w := l.Weight.Data()
	d0, d1, kh, kw := kernelDims(l)
	per := kh * kw
	norms := make([]float32, d0*d1)
	for k := range norms {
		var s float64
		for _, v := range w[k*per : (k+1)*per] {
			s += float64(v) * float64(v)
		}
		norms[k] = float32(math.Sqrt(s))
	}
	_, hi := minMax(norms)
	// The longer side about 160 px, never over 640.
	z := max(1, min(scaleFor(max(d0, d1), 160), 640/max(d0, d1)))
	rows, cols := "output", "input"
	if l.Kind.Family == layers.ConvTranspose {
		rows, cols = "input", "output"
	}
	g := Grid{Rows: 1, Cols: 1, CellW: d1 * z, CellH: d0 * z,
		Title: fmt.Sprintf("layer %s: %s — kernel norms, rows: %d %s, columns: %d %s channels (0…%.3g)", l.ID, l.Describe(), d0, rows, d1, cols, hi)}
	return Sheet(g, []Cell{{mapImage(norms, d0, d1, 0, hi, Heat), fmt.Sprintf("%d×%d", d0, d1)}}), g
}
