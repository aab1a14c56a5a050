package inspect

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	"sync"

	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

const (
	pad      = 4  // between cells and around the sheet
	captionH = 14 // a caption line under each cell
	titleH   = 20 // the title line above the grid
)

// face is the text font: Liberation Sans (already in the binary for the
// plots), which has the ×, ∂ and ± the titles use.
var face = sync.OnceValue(func() font.Face {
	f, err := opentype.Parse(liberationsansregular.TTF)
	if err != nil {
		panic(err) // an embedded font that does not parse is a build defect
	}
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 12, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(err)
	}
	return fc
})

// textWidth is how many pixels text takes.
func textWidth(text string) int { return font.MeasureString(face(), text).Ceil() }

var (
	background = color.RGBA{255, 255, 255, 255}
	ink        = color.RGBA{20, 20, 20, 255}
)

// Grid is the layout of a sheet: Rows × Cols cells of CellW × CellH pixels,
// each with a caption line below, under a title.
type Grid struct {
	Rows, Cols   int
	CellW, CellH int
	Title        string
}

// Size is the sheet's width and height in pixels.
func (g Grid) Size() (w, h int) {
	w = pad + g.Cols*(g.CellW+pad)
	w = max(w, 2*pad+textWidth(g.Title))
	h = titleH + g.Rows*(g.CellH+captionH+pad) + pad
	return w, h
}

// Cell is one image of a sheet with its caption.
type Cell struct {
	Img     image.Image // drawn scaled (nearest) to the cell size
	Caption string
}

// Sheet draws cells in the grid, row by row, under the grid's title.
func Sheet(g Grid, cells []Cell) *image.RGBA {
	w, h := g.Size()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), &image.Uniform{background}, image.Point{}, draw.Src)
	label(dst, pad, 14, g.Title)
	for i, c := range cells {
		r, col := i/g.Cols, i%g.Cols
		x := pad + col*(g.CellW+pad)
		y := titleH + r*(g.CellH+captionH+pad)
		blitScaled(dst, image.Rect(x, y, x+g.CellW, y+g.CellH), c.Img)
		label(dst, x, y+g.CellH+captionH-3, clip(c.Caption, g.CellW))
	}
	return dst
}

// cellOrigin is where cell i of a grid is drawn (for tests and overlays).
func (g Grid) cellOrigin(i int) image.Point {
	r, col := i/g.Cols, i%g.Cols
	return image.Pt(pad+col*(g.CellW+pad), titleH+r*(g.CellH+captionH+pad))
}

// clip shortens s to fit in width pixels, ending it with … if cut.
func clip(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && textWidth(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	if len(r) == 0 {
		return ""
	}
	return string(r) + "…"
}

// label writes text with its baseline at (x, y).
func label(dst draw.Image, x, y int, text string) {
	d := font.Drawer{Dst: dst, Src: &image.Uniform{ink}, Face: face(), Dot: fixed.P(x, y)}
	d.DrawString(text)
}

// blitScaled draws src into r of dst, scaled by nearest neighbour (pixels
// stay crisp: a 5×5 kernel is 25 squares).
func blitScaled(dst *image.RGBA, r image.Rectangle, src image.Image) {
	sb := src.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		sy := sb.Min.Y + (y-r.Min.Y)*sb.Dy()/r.Dy()
		for x := r.Min.X; x < r.Max.X; x++ {
			sx := sb.Min.X + (x-r.Min.X)*sb.Dx()/r.Dx()
			dst.Set(x, y, src.At(sx, sy))
		}
	}
}

// stack places sheets one under the other, left-aligned.
func stack(parts ...*image.RGBA) *image.RGBA {
	w, h := 0, 0
	for _, p := range parts {
		w, h = max(w, p.Bounds().Dx()), h+p.Bounds().Dy()
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), &image.Uniform{background}, image.Point{}, draw.Src)
	y := 0
	for _, p := range parts {
		draw.Draw(dst, p.Bounds().Add(image.Pt(0, y)), p, image.Point{}, draw.Src)
		y += p.Bounds().Dy()
	}
	return dst
}

// scaleFor is the integer zoom that makes n pixels at least target wide.
func scaleFor(n, target int) int { return max(1, (target+n-1)/n) }

// mapImage renders an h×w plane through a colour map, v mapped from
// [lo, hi] to [0, 1] (a flat plane is drawn at the map's middle).
func mapImage(v []float32, h, w int, lo, hi float32, cmap func(float64) color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, x := range v[:h*w] {
		t := 0.5
		if hi > lo {
			t = float64((x - lo) / (hi - lo))
		}
		img.SetRGBA(i%w, i/w, cmap(t))
	}
	return img
}

// minMax returns the smallest and largest value.
func minMax(v []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// maxAbs returns the largest magnitude.
func maxAbs(v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	return m
}

// Grey maps [0,1] to black…white.
func Grey(t float64) color.RGBA {
	u := uint8(math.Round(255 * clamp01(t)))
	return color.RGBA{u, u, u, 255}
}

// Diverging maps [0,1] to blue…white…red (0.5 is white): for signed values
// such as kernel weights, scaled symmetrically about zero.
func Diverging(t float64) color.RGBA {
	return ramp(clamp01(t), [][3]float64{{59, 76, 192}, {141, 176, 254}, {245, 245, 245}, {244, 154, 123}, {180, 4, 38}})
}

// Heat maps [0,1] to black…purple…orange…pale yellow (as matplotlib's
// inferno): for non-negative importance maps.
func Heat(t float64) color.RGBA {
	return ramp(clamp01(t), [][3]float64{{0, 0, 4}, {40, 11, 84}, {101, 21, 110}, {159, 42, 99}, {212, 72, 66}, {245, 125, 21}, {250, 193, 39}, {252, 255, 164}})
}

func ramp(t float64, stops [][3]float64) color.RGBA {
	f := t * float64(len(stops)-1)
	i := min(int(f), len(stops)-2)
	u := f - float64(i)
	var c [3]uint8
	for k := range 3 {
		c[k] = uint8(math.Round(stops[i][k]*(1-u) + stops[i+1][k]*u))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

func clamp01(t float64) float64 {
	if math.IsNaN(t) {
		return 0
	}
	return min(1, max(0, t))
}
