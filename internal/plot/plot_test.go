package plot

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func decode(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestPanelsAndConfusion(t *testing.T) {
	dir := t.TempDir()
	curves := filepath.Join(dir, "curves.png")
	err := Panels(curves, []Panel{
		{Title: "loss", Series: []Series{{Name: "train", X: []float64{1, 2, 3}, Y: []float64{1, 0.5, 0.3}},
			{Name: "val", X: []float64{1, 2, 3}, Y: []float64{math.NaN(), math.NaN(), math.NaN()}}}},
		{Title: "acc", LegendBottom: true, Series: []Series{{Name: "train", X: []float64{1}, Y: []float64{90}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := decode(t, curves); w <= h || h < 300 {
		t.Errorf("curves %dx%d", w, h)
	}
	conf := filepath.Join(dir, "conf.png")
	if err := Confusion(conf, [][]int{{5, 1}, {0, 7}}, []string{"o", "x"}, "t"); err != nil {
		t.Fatal(err)
	}
	if w, h := decode(t, conf); w != h {
		t.Errorf("confusion %dx%d, want square", w, h)
	}
	if err := Confusion(filepath.Join(dir, "e.png"), nil, nil, "t"); err == nil {
		t.Error("empty matrix accepted")
	}
}
