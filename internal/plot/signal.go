package plot

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Track is one recording to draw: a channel's samples, and the class given
// to each stretch of it.
type Track struct {
	Title string
	Rate  float64 // samples a second; 0 puts samples on the x axis
	Y     []float64
	Bands []Band
}

// Band is a stretch [Start, End) of samples coloured by its class.
type Band struct {
	Start, End int
	Class      int
}

// classColors are the band colours, one per class (cycling), light enough
// for the signal to show on them.
var classColors = []color.NRGBA{
	{102, 194, 165, 255}, {252, 141, 98, 255}, {141, 160, 203, 255}, {231, 138, 195, 255},
	{166, 216, 84, 255}, {255, 217, 47, 255}, {229, 196, 148, 255}, {179, 179, 179, 255},
}

// Signals draws tracks one above another into a PNG at path: each signal
// as a line over bands coloured by class, with a legend of the classes.
func Signals(path string, tracks []Track, classes []string) error {
	if len(tracks) == 0 {
		return fmt.Errorf("no signals to draw")
	}
	plots := make([][]*plot.Plot, len(tracks))
	for i, tr := range tracks {
		p := plot.New()
		p.Title.Text = tr.Title
		unit, scale := "sample", 1.0
		if tr.Rate > 0 {
			unit, scale = "ms", 1000/tr.Rate
		}
		p.X.Label.Text = unit
		lo, hi := minMax(tr.Y)
		if lo == hi {
			lo, hi = lo-1, hi+1
		}
		seen := map[int]bool{}
		for _, b := range tr.Bands {
			x0, x1 := float64(b.Start)*scale, float64(b.End)*scale
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}})
			if err != nil {
				return err
			}
			c := classColors[b.Class%len(classColors)]
			c.A = 90 // non-premultiplied: the colour at 35 % over white
			poly.Color, poly.LineStyle.Width = c, 0
			p.Add(poly)
			if !seen[b.Class] && b.Class < len(classes) {
				p.Legend.Add(classes[b.Class], poly)
				seen[b.Class] = true
			}
		}
		pts := make(plotter.XYs, len(tr.Y))
		for t, v := range tr.Y {
			pts[t] = plotter.XY{X: float64(t) * scale, Y: v}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color, line.Width = color.RGBA{30, 30, 30, 255}, vg.Points(0.6)
		p.Add(line)
		p.Legend.Top = true
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(10*vg.Inch, vg.Length(2.4*float64(len(tracks)))*vg.Inch)
	t := draw.Tiles{Rows: len(tracks), Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, draw.New(img))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return savePNG(path, img)
}

func minMax(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
