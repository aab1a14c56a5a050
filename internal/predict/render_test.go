package predict

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"codeberg.org/go-fonts/liberation/liberationmonobold"
	"codeberg.org/go-fonts/liberation/liberationmonoitalic"
	"codeberg.org/go-fonts/liberation/liberationmonoregular"
	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansbolditalic"
	"codeberg.org/go-fonts/liberation/liberationsansitalic"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"codeberg.org/go-fonts/liberation/liberationserifbold"
	"codeberg.org/go-fonts/liberation/liberationserifbolditalic"
	"codeberg.org/go-fonts/liberation/liberationserifitalic"
	"codeberg.org/go-fonts/liberation/liberationserifregular"
	"golang.org/x/image/bmp"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/gomediumitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/tiff"
)

type typeface struct {
	name string
	ttf  []byte
}

// fonts are the typefaces the printed-digit tests draw with; MNIST was
// never trained on any of them.
var fonts = []typeface{
	{"go-regular", goregular.TTF}, {"go-bold", gobold.TTF}, {"go-italic", goitalic.TTF},
	{"go-medium", gomedium.TTF}, {"go-mono", gomono.TTF},
	{"liberation-sans", liberationsansregular.TTF}, {"liberation-sans-bold", liberationsansbold.TTF},
	{"liberation-serif", liberationserifregular.TTF}, {"liberation-serif-bold", liberationserifbold.TTF},
	{"liberation-mono", liberationmonoregular.TTF},
}

// moreFonts are ten further faces — italics and bold obliques, the thin
// and thick strokes augmentation is meant to cover — for the augmented
// model's measurement (fonts plus these).
var moreFonts = []typeface{
	{"go-bold-italic", gobolditalic.TTF}, {"go-medium-italic", gomediumitalic.TTF},
	{"go-mono-bold", gomonobold.TTF}, {"go-mono-italic", gomonoitalic.TTF},
	{"liberation-sans-italic", liberationsansitalic.TTF}, {"liberation-sans-bold-italic", liberationsansbolditalic.TTF},
	{"liberation-serif-italic", liberationserifitalic.TTF}, {"liberation-serif-bold-italic", liberationserifbolditalic.TTF},
	{"liberation-mono-bold", liberationmonobold.TTF}, {"liberation-mono-italic", liberationmonoitalic.TTF},
}

func face(t testing.TB, ttf []byte, size float64) font.Face {
	t.Helper()
	f, err := opentype.Parse(ttf)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

// digitImage draws text on a w×h canvas of colour bg in colour ink, with
// the glyphs' box placed at fraction (px, py) of the free space.
func digitImage(fc font.Face, text string, w, h int, bg, ink color.Color, px, py float64) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{bg}, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: &image.Uniform{ink}, Face: fc}
	bounds, _ := d.BoundString(text)
	bw, bh := (bounds.Max.X - bounds.Min.X).Ceil(), (bounds.Max.Y - bounds.Min.Y).Ceil()
	x := int(px*float64(max(0, w-bw))) - bounds.Min.X.Floor()
	y := int(py*float64(max(0, h-bh))) - bounds.Min.Y.Floor()
	d.Dot = fixed.P(x, y)
	d.DrawString(text)
	return img
}

// encode writes img in a format: png, jpeg, gif, bmp or tiff.
func encode(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tiff":
		err = tiff.Encode(&b, img, nil)
	default:
		err = fmt.Errorf("unknown format %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var formats = []string{"png", "jpeg", "gif", "bmp", "tiff"}

// palettes are (background, ink) pairs: dark on light, light on dark, colour.
var palettes = [][2]color.Color{
	{color.White, color.Black},
	{color.RGBA{245, 240, 225, 255}, color.RGBA{20, 30, 120, 255}}, // blue ink on cream paper
	{color.Black, color.White},
	{color.RGBA{30, 60, 30, 255}, color.RGBA{250, 250, 120, 255}}, // chalk on a board
	{color.RGBA{200, 200, 200, 255}, color.RGBA{150, 0, 0, 255}},  // red on grey
}

// printedDigits makes n inputs of single digits in every font, at several
// sizes, positions, colours and polarities, in every format.
func printedDigits(t testing.TB, n int, seed uint64) ([]Input, []int) {
	return printedDigitsIn(t, fonts, n, seed)
}

// printedDigitsIn draws n digits cycling through the faces fonts.
func printedDigitsIn(t testing.TB, fonts []typeface, n int, seed uint64) ([]Input, []int) {
	rng := rand.New(rand.NewPCG(seed, 9))
	faces := map[string]font.Face{}
	var ins []Input
	var labels []int
	for i := range n {
		f := fonts[i%len(fonts)]
		size := []float64{24, 40, 64, 120}[rng.IntN(4)]
		key := fmt.Sprintf("%s/%v", f.name, size)
		fc, ok := faces[key]
		if !ok {
			fc = face(t, f.ttf, size)
			faces[key] = fc
		}
		digit := (i / len(fonts)) % 10
		w := int(size*0.8) + rng.IntN(int(size)+8)
		h := int(size*1.1) + rng.IntN(int(size)+8)
		pal := palettes[rng.IntN(len(palettes))]
		img := digitImage(fc, fmt.Sprint(digit), w, h, pal[0], pal[1], rng.Float64(), rng.Float64())
		format := formats[i%len(formats)]
		name := fmt.Sprintf("%s-%v-%d.%s", f.name, size, digit, format)
		ins = append(ins, Input{Name: name, Data: encode(t, img, format)})
		labels = append(labels, digit)
	}
	return ins, labels
}
