// Package plot draws the PNG charts of a run: loss and accuracy curves per
// epoch, and a confusion-matrix heat map.
package plot

import (
	"bufio"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
)

// Series is a named line of (x, y) points; NaN values are skipped.
// Points draws them unjoined (a scatter plot).
type Series struct {
	Name   string
	X, Y   []float64
	Points bool
}

// Panel is one chart of several series.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
	LegendBottom          bool // for rising curves such as accuracy
	LogX                  bool // a logarithmic x axis (learning rates, parameter counts)
}

var lineColors = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255},
	color.RGBA{44, 160, 44, 255}, color.RGBA{214, 39, 40, 255},
}

// Panels draws the panels side by side into a PNG at path.
func Panels(path string, panels []Panel) error {
	plots := make([][]*plot.Plot, 1)
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		p.X.Label.Text = pn.XLabel
		p.Y.Label.Text = pn.YLabel
		p.Add(plotter.NewGrid())
		for i, s := range pn.Series {
			var pts plotter.XYs
			for j := range s.X {
				if !math.IsNaN(s.Y[j]) && !math.IsInf(s.Y[j], 0) {
					pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
				}
			}
			if len(pts) == 0 {
				continue
			}
			if s.Points {
				sc, err := plotter.NewScatter(pts)
				if err != nil {
					return err
				}
				sc.Color = lineColors[i%len(lineColors)]
				sc.Shape = draw.CircleGlyph{}
				sc.Radius = vg.Points(3)
				p.Add(sc)
				if s.Name != "" {
					p.Legend.Add(s.Name, sc)
				}
				continue
			}
			if len(pts) > 200 { // a signal: the line alone
				line, err := plotter.NewLine(pts)
				if err != nil {
					return err
				}
				line.Color = lineColors[i%len(lineColors)]
				line.Width = vg.Points(0.7)
				p.Add(line)
				if s.Name != "" {
					p.Legend.Add(s.Name, line)
				}
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			line.Color = lineColors[i%len(lineColors)]
			line.Width = vg.Points(1.5)
			points.Color = line.Color
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			if s.Name != "" {
				p.Legend.Add(s.Name, line, points)
			}
		}
		p.Legend.Top = !pn.LegendBottom
		if pn.LogX {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		plots[0] = append(plots[0], p)
	}
	img := vgimg.New(vg.Length(5*len(panels))*vg.Inch, 4*vg.Inch)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, dc)
	for j := range plots[0] {
		plots[0][j].Draw(canvases[0][j])
	}
	return savePNG(path, img)
}

func savePNG(path string, img *vgimg.Canvas) error {
	return atomicfile.Write(path, func(w *bufio.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// confusionGrid adapts a confusion matrix to plotter.GridXYZ, with row 0
// (the first true class) at the top as tables show it.
type confusionGrid struct{ m [][]float64 }

func (g confusionGrid) Dims() (c, r int)   { return len(g.m), len(g.m) }
func (g confusionGrid) Z(c, r int) float64 { return g.m[len(g.m)-1-r][c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// blues runs from white (0) to dark blue (1), readable with black text.
type blues int

func (n blues) Colors() []color.Color {
	cs := make([]color.Color, n)
	for i := range cs {
		t := float64(i) / float64(n-1)
		cs[i] = color.RGBA{uint8(255 - 200*t), uint8(255 - 150*t), uint8(255 - 60*t), 255}
	}
	return cs
}

var _ palette.Palette = blues(0)

// Confusion draws a confusion matrix (rows true, columns predicted) as a
// heat map of row-normalised rates with the counts written in the cells.
func Confusion(path string, conf [][]int, classes []string, title string) error {
	k := len(conf)
	if k == 0 {
		return fmt.Errorf("empty confusion matrix")
	}
	m := make([][]float64, k)
	for i, row := range conf {
		m[i] = make([]float64, k)
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			if total > 0 {
				m[i][j] = float64(v) / float64(total)
			}
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	hm := plotter.NewHeatMap(confusionGrid{m}, blues(64))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	var labels plotter.XYLabels
	for i, row := range conf {
		for j, v := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(k - 1 - i)})
			labels.Labels = append(labels.Labels, fmt.Sprint(v))
		}
	}
	lp, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lp.TextStyle {
		lp.TextStyle[i].XAlign = draw.XCenter
		lp.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(lp)
	ticks := func(flip bool) plot.ConstantTicks {
		t := make(plot.ConstantTicks, k)
		for i := range k {
			name := fmt.Sprint(i)
			if i < len(classes) {
				name = classes[i]
			}
			pos := i
			if flip {
				pos = k - 1 - i
			}
			t[i] = plot.Tick{Value: float64(pos), Label: name}
		}
		return t
	}
	p.X.Tick.Marker = ticks(false)
	p.Y.Tick.Marker = ticks(true)
	p.X.Min, p.X.Max = -0.5, float64(k)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5
	side := vg.Length(max(4, float64(k)*0.6)) * vg.Inch
	img := vgimg.New(side, side)
	p.Draw(draw.New(img))
	return savePNG(path, img)
}
