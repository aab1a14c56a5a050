package data

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// TestCatmullRomKept: the kept scaler for a size resamples exactly as
// draw.CatmullRom.Scale does, on the first call and on later ones with
// other images (its pooled buffer reused), growing and shrinking, and
// past the sizes kept.
func TestCatmullRomKept(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sz := range [][4]int{{20, 20, 13, 17}, {28, 28, 300, 200}, {7, 5, 7, 5}, {64, 48, 31, 29}, {28, 28, 600, 400}} {
		dw, dh, sw, sh := sz[0], sz[1], sz[2], sz[3]
		for range 3 {
			src := image.NewRGBA(image.Rect(0, 0, sw+3, sh+2))
			for i := range src.Pix {
				src.Pix[i] = uint8(rng.IntN(256))
			}
			sr := image.Rect(2, 1, 2+sw, 1+sh)
			want, got := image.NewRGBA(image.Rect(0, 0, dw, dh)), image.NewRGBA(image.Rect(0, 0, dw, dh))
			draw.CatmullRom.Scale(want, want.Bounds(), src, sr, draw.Src, nil)
			CatmullRom(dw, dh, sw, sh).Scale(got, got.Bounds(), src, sr, draw.Src, nil)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("%v: the kept scaler resamples differently", sz)
			}
		}
	}
}
