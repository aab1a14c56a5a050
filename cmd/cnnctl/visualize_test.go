package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/inspect"
)

func decodePNG(t *testing.T, path string) image.Image {
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
	return img
}

func TestVisualizeCommand(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, tinyConfig)
	// The run folder holds the filters after training.
	decodePNG(t, filepath.Join(dir, "run", "filters.png"))
	xo := filepath.Join(dir, "xo")
	if code, _, errOut := cnnctl(t, "data", "xo", "--out", xo, "--n", "2", "--size", "40"); code != 0 {
		t.Fatal(errOut)
	}
	img := filepath.Join(xo, "o", "00000.png")
	out := filepath.Join(dir, "seen")
	code, stdout, errOut := cnnctl(t, "visualize", "--model", ckpt, img, "--out", out, "--html")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(stdout, img+": ") {
		t.Errorf("first line %q should name the image and its class", strings.SplitN(stdout, "\n", 2)[0])
	}
	// tinyConfig: conv2d (0), relu, maxpool (2), flatten, dense.
	want := []string{"feature-maps-0.png", "feature-maps-2.png", "filters.png", "gradcam.png", "index.html", "saliency.png"}
	var got []string
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		got = append(got, e.Name())
		if strings.HasSuffix(e.Name(), ".png") {
			decodePNG(t, filepath.Join(out, e.Name()))
		}
		if !strings.Contains(stdout, "wrote "+filepath.Join(out, e.Name())) {
			t.Errorf("stdout does not say it wrote %s", e.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("wrote %v, want %v", got, want)
	}
	// The class to explain can be chosen; without an image only the filters.
	if code, stdout, errOut := cnnctl(t, "visualize", "--model", ckpt, img, "--class", "o", "--out", out); code != 0 || !strings.Contains(stdout, ": o (p = ") {
		t.Errorf("--class o: exit %d %q %s", code, stdout, errOut)
	}
	only := filepath.Join(dir, "only")
	if code, _, errOut := cnnctl(t, "visualize", "--model", ckpt, "--out", only); code != 0 {
		t.Fatal(errOut)
	}
	if entries, _ := os.ReadDir(only); len(entries) != 1 || entries[0].Name() != "filters.png" {
		t.Errorf("model only: %v", entries)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"visualize", "--model", ckpt}, 2, "visualize needs --model CKPT and --out DIR"},
		{[]string{"visualize", "--model", ckpt, img, img, "--out", out}, 2, "at most one image"},
		{[]string{"visualize", "--model", ckpt, img, "--class", "z", "--out", out}, 2, `--class "z": the model's classes are [o x]`},
		{[]string{"visualize", "--model", ckpt, "--class", "o", "--out", out}, 2, "--class needs an IMAGE"},
		{[]string{"visualize", "--model", ckpt, filepath.Join(dir, "missing.png"), "--out", out}, 1, "missing.png"},
		{[]string{"visualize", "--model", filepath.Join(dir, "c.yaml"), "--out", out}, 1, "c.yaml"},
	} {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestConvolveCommand(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 28, 20))
	for y := range 20 {
		for x := 14; x < 28; x++ {
			g.Pix[y*28+x] = 255
		}
	}
	f, err := os.Create(filepath.Join(dir, "in.png"))
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, g)
	f.Close()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.png")
	code, stdout, errOut := cnnctl(t, "convolve", in, "--kernel", "sobel-x", "--stride", "2", "--padding", "1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"input 20×28 (grey), kernel 3×3, stride 2, padding 1",
		"height ⌊(20 + 2·1 − 3)/2⌋ + 1 = 10", "width  ⌊(28 + 2·1 − 3)/2⌋ + 1 = 14", "output 10×14, scaled by abs"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	res := decodePNG(t, out)
	if b := res.Bounds(); b.Dx() != 14 || b.Dy() != 10 {
		t.Fatalf("output %v", b)
	}
	// Sobel-x is bright on the vertical edge (column 14 → output column 7) and dark where it is flat.
	if y, _, _, _ := res.At(7, 5).RGBA(); y>>8 != 255 {
		t.Errorf("edge pixel %d, want 255", y>>8)
	}
	if y, _, _, _ := res.At(3, 5).RGBA(); y != 0 {
		t.Errorf("flat pixel %d, want 0", y>>8)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"convolve", in, "--kernel", "sharp", "--out", out}, 2, `unknown kernel "sharp"`},
		{[]string{"convolve", in, "--kernel", "[[1,2],[3]]", "--out", out}, 2, "row 2 has 1 numbers"},
		{[]string{"convolve", in, "--kernel", "blur", "--stride", "0", "--out", out}, 2, "--stride must be at least 1"},
		{[]string{"convolve", in, "--kernel", "blur", "--scale", "log", "--out", out}, 2, "--scale must be clamp, abs or stretch"},
		{[]string{"convolve", in, "--kernel", "blur"}, 2, "convolve needs --kernel and --out"},
		{[]string{"convolve", in, "--kernel", "[[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]]", "--out", out}, 1, "in.png: kernel 1×30 is larger than its input"},
		{[]string{"convolve", filepath.Join(dir, "none.png"), "--kernel", "blur", "--out", out}, 1, "none.png"},
		{[]string{"convolve", in, "--kernel", "blur", "--out", filepath.Join(dir, "no", "dir", "o.png")}, 1, "write " + filepath.Join(dir, "no", "dir", "o.png")},
	} {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args[1:], code, errOut, c.code, c.want)
		}
	}
}

func TestAugmentCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "a.yaml", tinyConfig+"augment: {rotate: 10, elastic: {alpha: 8, sigma: 3}, erase: {p: 0.5, area: [0.05, 0.2]}}\n")
	out := filepath.Join(dir, "grid.png")
	code, stdout, errOut := cnnctl(t, "augment", "-c", cfg, "--out", out, "--n", "3", "--versions", "4")
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("exit %d: %s %s", code, stdout, errOut)
	}
	// 3 rows of 5 cells of 16×16 images shown at ×6.
	img := decodePNG(t, out)
	g := inspect.Grid{Rows: 3, Cols: 5, CellW: 96, CellH: 96, Title: "augment: rotate ±10°, elastic α 8 σ 3, erase — each row: the original, then epochs 1, 2, …"}
	if w, h := g.Size(); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("grid %v, want %d×%d", img.Bounds(), w, h)
	}
	plain := writeFile(t, dir, "p.yaml", tinyConfig)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"augment", "-c", plain, "--out", out}, 1, "p.yaml: the config has no augment: section"},
		{[]string{"augment", "-c", cfg}, 2, "augment needs -c CONFIG and --out GRID.png"},
		{[]string{"augment", "-c", cfg, "--out", out, "--n", "0"}, 2, "--n and --versions must be 1 to 100"},
	} {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, errOut)
		}
	}
}

func TestDataVibrationCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "vib")
	code, stdout, errOut := cnnctl(t, "data", "vibration", "--out", out, "--n", "8", "--length", "256")
	if code != 0 || !strings.Contains(stdout, "wrote 8 recordings of 256 samples") {
		t.Fatalf("exit %d: %s %s", code, stdout, errOut)
	}
	decodePNG(t, filepath.Join(out, "examples.png"))
	if code, _, errOut := cnnctl(t, "data", "vibration", "--out", out, "--n", "2"); code != 2 || !strings.Contains(errOut, "--n must be at least 4") {
		t.Errorf("--n 2: exit %d %q", code, errOut)
	}
}
