// Package preprocess turns a real image — a photo, scan or drawing of any
// size, often dark ink on light paper, off centre, in colour, noisy — into
// what a network was trained on: bright ink on a dark ground, cropped,
// scaled and centred the way the training set was made.
package preprocess

import (
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"golang.org/x/image/draw"
)

// Recipe is a preprocessing recipe (see config.Preprocess).
type Recipe = config.Preprocess

// inkThreshold is the level (after background removal, in [0,1]) above
// which a pixel counts as ink for cropping.
const inkThreshold = 0.25

// Apply converts img to C planes of h×w uint8 pixels, as the datasets hold
// them, following the recipe.
func Apply(r Recipe, img image.Image, c, h, w int) []uint8 {
	if c != 1 {
		return data.Resize(img, c, h, w) // colour: resize only (Check enforces it)
	}
	g := luminance(shrink(img, maxWorkingSide))
	invert := r.Invert == "yes"
	if r.Invert == "auto" {
		invert = g.borderMedian() > 0.5
	}
	if invert {
		for i, v := range g.pix {
			g.pix[i] = 1 - v
		}
	}
	if r.Mode == "resize" {
		return scale(g.toGray(), image.Rect(0, 0, g.w, g.h), w, h)
	}
	g.removeBackground()
	x0, y0, x1, y1, ok := g.inkBox()
	if !ok { // a blank image: nothing to crop or centre
		return make([]uint8, h*w)
	}
	bw, bh := x1-x0, y1-y0
	side := float64(min(h, w)) * r.Fill
	if r.Mode == "mnist" {
		side = float64(min(h, w)) * 20 / 28 // MNIST fits digits in 20×20 of 28×28
	}
	k := side / float64(max(bw, bh))
	sw, sh := max(1, int(math.Round(float64(bw)*k))), max(1, int(math.Round(float64(bh)*k)))
	glyph := scale(g.toGray(), image.Rect(x0, y0, x1, y1), sw, sh)
	// Place the glyph: by its centre of mass (MNIST) or its box's centre.
	cx, cy := float64(sw)/2, float64(sh)/2
	if r.Mode == "mnist" {
		cx, cy = centreOfMass(glyph, sw, sh)
	}
	ox, oy := int(math.Round(float64(w)/2-cx)), int(math.Round(float64(h)/2-cy))
	out := make([]uint8, h*w)
	for y := range sh {
		for x := range sw {
			tx, ty := x+ox, y+oy
			if tx >= 0 && tx < w && ty >= 0 && ty < h {
				out[ty*w+tx] = glyph[y*sw+x]
			}
		}
	}
	return out
}

// maxWorkingSide bounds the image the grey recipe works on: plenty to find
// and centre the ink for an input of a few dozen pixels, and it keeps a
// huge photo's working copies (8 bytes a pixel and a few more) to ~35 MB.
const maxWorkingSide = 1024

// shrink scales img down (keeping its aspect) so that neither side exceeds
// side; smaller images are returned as they are.
func shrink(img image.Image, side int) image.Image {
	b := img.Bounds()
	if b.Dx() <= side && b.Dy() <= side {
		return img
	}
	k := float64(side) / float64(max(b.Dx(), b.Dy()))
	w, h := max(1, int(float64(b.Dx())*k)), max(1, int(float64(b.Dy())*k))
	// RGBA: x/image/draw has a fast path into it from every decoder's type.
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// grey is a luminance image with values in [0,1].
type grey struct {
	w, h int
	pix  []float64
}

// luminance converts any image to grey, compositing transparency onto white
// (transparent drawings are usually dark ink on nothing). The decoders'
// usual types are read directly, without a colour.Color (an interface
// value, and for 4-byte colours an allocation) per pixel: the same values,
// a tenth of the time — which, at the input sizes a server sees, was most
// of a request's preprocessing.
func luminance(img image.Image) *grey {
	b := img.Bounds()
	g := &grey{w: b.Dx(), h: b.Dy(), pix: make([]float64, b.Dx()*b.Dy())}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		out := g.pix[(y-b.Min.Y)*g.w : (y-b.Min.Y+1)*g.w]
		switch im := img.(type) {
		case *image.Gray:
			row := im.Pix[im.PixOffset(b.Min.X, y):]
			for x := range out {
				out[x] = greyLevels[row[x]]
			}
		case *image.NRGBA:
			for x := range out {
				out[x] = lum(im.NRGBAAt(b.Min.X+x, y).RGBA())
			}
		case *image.RGBA:
			for x := range out {
				out[x] = lum(im.RGBAAt(b.Min.X+x, y).RGBA())
			}
		default:
			for x := range out {
				out[x] = lum(img.At(b.Min.X+x, y).RGBA())
			}
		}
	}
	return g
}

// greyLevels is lum of each 8-bit grey (the same values, looked up).
var greyLevels = func() (t [256]float64) {
	for v := range t {
		t[v] = lum(color.Gray{uint8(v)}.RGBA())
	}
	return t
}()

// lum is the luminance in [0,1] of a premultiplied 16-bit colour on white.
func lum(r, g, b, a uint32) float64 {
	white := float64(0xffff - a)
	return (0.299*(float64(r)+white) + 0.587*(float64(g)+white) + 0.114*(float64(b)+white)) / 0xffff
}

// border returns the pixels of the outer frame (2 px, or less for tiny images).
func (g *grey) border() []float64 {
	t := max(1, min(2, min(g.w, g.h)/4))
	v := make([]float64, 0, 2*t*(g.w+g.h))
	for y := range g.h {
		row := g.pix[y*g.w : (y+1)*g.w]
		if y < t || y >= g.h-t || g.w <= 2*t {
			v = append(v, row...)
			continue
		}
		v = append(v, row[:t]...)
		v = append(v, row[g.w-t:]...)
	}
	return v
}

func (g *grey) borderMedian() float64 {
	b := g.border()
	slices.Sort(b)
	return b[len(b)/2]
}

// removeBackground maps the background level (the border's median) to 0
// and the brightest ink to 1, clipping below, so paper tint, uneven light
// and faint noise vanish.
func (g *grey) removeBackground() {
	bg := g.borderMedian()
	peak := 0.0 // levels are in [0,1]; a plain loop, not slices.Max, which checks every value for NaN
	for _, v := range g.pix {
		if v > peak {
			peak = v
		}
	}
	if peak-bg < 0.05 {
		for i := range g.pix {
			g.pix[i] = 0
		}
		return
	}
	floor := bg + 0.1*(peak-bg) // below a tenth of the ink's contrast is noise
	for i, v := range g.pix {
		g.pix[i] = max(0, min(1, (v-floor)/(peak-floor)))
	}
}

// inkBox is the bounding box [x0,x1)×[y0,y1) of the ink.
func (g *grey) inkBox() (x0, y0, x1, y1 int, ok bool) {
	x0, y0, x1, y1 = g.w, g.h, 0, 0
	for y := range g.h {
		for x := range g.w {
			if g.pix[y*g.w+x] > inkThreshold {
				x0, y0 = min(x0, x), min(y0, y)
				x1, y1 = max(x1, x+1), max(y1, y+1)
			}
		}
	}
	return x0, y0, x1, y1, x1 > x0
}

func (g *grey) toGray() *image.Gray {
	im := image.NewGray(image.Rect(0, 0, g.w, g.h))
	for i, v := range g.pix {
		im.Pix[i] = uint8(math.Round(255 * v))
	}
	return im
}

// scale resamples the part r of im to w×h pixels with Catmull-Rom
// filtering, which (unlike approximate bilinear) does not alias when
// shrinking.
func scale(im *image.Gray, r image.Rectangle, w, h int) []uint8 {
	// Into RGBA, x/image/draw's fast path (into Gray it takes a generic
	// one, a colour conversion a pixel): the grey levels are the same, the
	// high byte of the 16-bit value either way.
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	data.CatmullRom(w, h, r.Dx(), r.Dy()).Scale(dst, dst.Bounds(), im, r, draw.Src, nil)
	out := make([]uint8, w*h)
	for i := range out {
		out[i] = dst.Pix[4*i]
	}
	return out
}

func centreOfMass(p []uint8, w, h int) (float64, float64) {
	var m, mx, my float64
	for y := range h {
		for x := range w {
			v := float64(p[y*w+x])
			m += v
			mx += v * (float64(x) + 0.5)
			my += v * (float64(y) + 0.5)
		}
	}
	if m == 0 {
		return float64(w) / 2, float64(h) / 2
	}
	return mx / m, my / m
}
