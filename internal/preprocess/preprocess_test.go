package preprocess

import (
	"image"
	"image/color"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"golang.org/x/image/draw"
)

// bar draws a dark vertical bar on white, proportioned to the image.
func bar(side int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := side / 5; y < 4*side/5; y++ {
		for x := 9 * side / 20; x < 11*side/20; x++ {
			img.SetGray(x, y, color.Gray{})
		}
	}
	return img
}

// TestHugeImageIsShrunkFirst: a 4096×4096 scan is worked on at 1024 px —
// the recipe's copies are those of a 1024 px scan, not 16 times more — and
// comes out as the same 28×28 digit as a 1024 px scan.
func TestHugeImageIsShrunkFirst(t *testing.T) {
	r := Recipe(config.Preprocess{Mode: "mnist", Invert: "auto"})
	big, small := bar(4096), bar(1024)
	allocs := func(img image.Image) ([]uint8, uint64) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out := Apply(r, img, 1, 28, 28)
		runtime.ReadMemStats(&after)
		return out, after.TotalAlloc - before.TotalAlloc
	}
	a, bigBytes := allocs(big)
	b, smallBytes := allocs(small)
	// 16× the pixels, but worked on at the small one's size: about the
	// same allocation plus the 4 MB shrunk copy (not 16× it; the race
	// detector's bookkeeping inflates both).
	t.Logf("4096²: %d MB, 1024²: %d MB", bigBytes>>20, smallBytes>>20)
	if bigBytes > 3*smallBytes+(8<<20) {
		t.Errorf("preprocessing a 4096² image allocated %d MB, a 1024² one %d MB", bigBytes>>20, smallBytes>>20)
	}
	// The same digit, give or take a row at its edges.
	var inkA, inkB, differ int
	for i := range a {
		inkA, inkB = inkA+int(a[i]), inkB+int(b[i])
		if d := int(a[i]) - int(b[i]); d > 24 || d < -24 {
			differ++
		}
	}
	if differ > 28 || inkA < inkB*95/100 || inkA > inkB*105/100 {
		t.Fatalf("%d pixels differ; ink %d from the big scan, %d from the small one", differ, inkA, inkB)
	}
	if s := shrink(big, 1024).Bounds(); s.Dx() != 1024 || s.Dy() != 1024 {
		t.Errorf("shrunk to %v", s)
	}
	if shrink(small, 1024) != image.Image(small) {
		t.Error("a small image was resampled")
	}
}

// TestLuminanceFastPaths: the decoders' image types read directly give
// what the colour.Color of every pixel gives, on sub-images too.
func TestLuminanceFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := image.Rect(3, 2, 40, 31)
	gray, nrgba, rgba := image.NewGray(r), image.NewNRGBA(r), image.NewRGBA(r)
	for i := range gray.Pix {
		gray.Pix[i] = uint8(rng.IntN(256))
	}
	for i := range nrgba.Pix {
		nrgba.Pix[i], rgba.Pix[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
	}
	for i := 3; i < len(rgba.Pix); i += 4 { // premultiplied: no channel above alpha
		a := rgba.Pix[i]
		for c := i - 3; c < i; c++ {
			rgba.Pix[c] = min(rgba.Pix[c], a)
		}
	}
	for _, img := range []image.Image{gray, nrgba, rgba, gray.SubImage(image.Rect(5, 4, 20, 30)), nrgba.SubImage(image.Rect(10, 3, 39, 12))} {
		got := luminance(img)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				want := lum(img.At(x, y).RGBA())
				if v := got.pix[(y-b.Min.Y)*got.w+x-b.Min.X]; v != want {
					t.Fatalf("%T at (%d, %d): %v, want %v", img, x, y, v, want)
				}
			}
		}
	}
}

// BenchmarkApply is the grey MNIST recipe on a 28×28 drawing, what a
// server does for each request.
func BenchmarkApply(b *testing.B) {
	img := bar(28)
	r := config.Preprocess{Mode: "mnist", Invert: "auto", Fill: 0.7}
	for b.Loop() {
		Apply(r, img, 1, 28, 28)
	}
}

// scale goes through RGBA for x/image/draw's fast path: it must give the
// levels that scaling into Gray gives, whatever the sizes and the part.
func TestScaleSameAsIntoGray(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		w, h := 1+rng.IntN(60), 1+rng.IntN(60)
		im := image.NewGray(image.Rect(0, 0, w, h))
		for i := range im.Pix {
			im.Pix[i] = uint8(rng.IntN(256))
		}
		x0, y0 := rng.IntN(w), rng.IntN(h)
		r := image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0))
		ow, oh := 1+rng.IntN(40), 1+rng.IntN(40)
		want := image.NewGray(image.Rect(0, 0, ow, oh))
		draw.CatmullRom.Scale(want, want.Bounds(), im, r, draw.Src, nil)
		if got := scale(im, r, ow, oh); !slices.Equal(got, want.Pix) {
			t.Fatalf("%v of a %d×%d image to %d×%d: %v, want %v", r, w, h, ow, oh, got, want.Pix)
		}
	}
}
