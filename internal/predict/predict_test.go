package predict

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/train"
)

// xoModel trains a small X-vs-O model once for the tests of this package.
var xoModel = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cnnctl-xo")
	if err != nil {
		return "", err
	}
	c, err := config.Parse("xo-test.yaml", []byte(`
name: xo-test
seed: 1
data: {source: xo, train_size: 3000, test_size: 200, validation: 0.1, normalize: {mean: [0.2], std: [0.3]}}
model:
  - {type: conv2d, filters: 8, kernel: 5, padding: 2}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: conv2d, filters: 16, kernel: 5}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 32}
  - {type: relu}
  - {type: dense, units: 2}
train: {epochs: 4, batch_size: 32, optimizer: {name: adam, lr: 0.002}, schedule: {name: cosine}}
`))
	if err != nil {
		return "", err
	}
	c.Output.Dir = dir
	if _, err := train.Run(context.Background(), train.Options{Config: c}); err != nil {
		return "", err
	}
	return filepath.Join(dir, "best.ckpt"), nil
})

func loadXO(t *testing.T) *checkpoint.State {
	t.Helper()
	path, err := xoModel()
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// drawXO draws an X or an O as a person would on paper: dark (or coloured)
// anti-aliased strokes of a given width on a w×h canvas.
func drawXO(isX bool, w, h int, bg, ink color.RGBA, cx, cy, r, stroke, tilt float64) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{bg}, image.Point{}, draw.Src)
	cos, sin := math.Cos(tilt), math.Sin(tilt)
	for y := range h {
		for x := range w {
			u, v := float64(x)+0.5-cx, float64(y)+0.5-cy
			u, v = cos*u+sin*v, -sin*u+cos*v
			var d float64
			if isX {
				d = math.Min(math.Abs(u-v), math.Abs(u+v)) / math.Sqrt2
				if math.Max(math.Abs(u), math.Abs(v)) > r {
					d = math.Inf(1)
				}
			} else {
				d = math.Abs(math.Hypot(u, v*1.1) - r)
			}
			a := math.Max(0, math.Min(1, stroke/2-d+0.5))
			mix := func(b, i uint8) uint8 { return uint8(float64(b)*(1-a) + float64(i)*a) }
			img.SetRGBA(x, y, color.RGBA{mix(bg.R, ink.R), mix(bg.G, ink.G), mix(bg.B, ink.B), 255})
		}
	}
	return img
}

func xoDrawings(t testing.TB, n int, seed uint64) ([]Input, []int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	inks := [][2]color.RGBA{
		{{255, 255, 255, 255}, {0, 0, 0, 255}},
		{{250, 245, 225, 255}, {20, 40, 160, 255}},
		{{0, 0, 0, 255}, {255, 255, 255, 255}},
		{{220, 230, 255, 255}, {200, 0, 0, 255}},
	}
	var ins []Input
	var labels []int
	for i := range n {
		isX := i%2 == 1
		w := 32 + rng.IntN(300)
		h := 32 + rng.IntN(300)
		s := float64(min(w, h))
		r := s * (0.15 + 0.3*rng.Float64())
		cx := r + (float64(w)-2*r)*rng.Float64()
		cy := r + (float64(h)-2*r)*rng.Float64()
		stroke := math.Max(1.5, r*(0.08+0.25*rng.Float64()))
		pal := inks[rng.IntN(len(inks))]
		img := drawXO(isX, w, h, pal[0], pal[1], cx, cy, r, stroke, 0.5*(rng.Float64()-0.5))
		format := formats[i%len(formats)]
		ins = append(ins, Input{Name: fmt.Sprintf("xo-%d-%v.%s", i, isX, format), Data: encode(t, img, format)})
		labels = append(labels, map[bool]int{false: 0, true: 1}[isX]) // classes are [o x]
	}
	return ins, labels
}

func TestXODrawings(t *testing.T) {
	st := loadXO(t)
	p, err := New(st, st.Config.Preprocess, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ins, labels := xoDrawings(t, 400, 2)
	correct, i := 0, 0
	if _, err := p.Predict(ins, 2, func(pr Prediction, err error) {
		if err != nil {
			t.Errorf("%s: %v", pr.File, err)
		} else if pr.Index == labels[i] && len(pr.Top) == 2 && pr.Top[0].Probability >= pr.Top[1].Probability {
			correct++
		} else {
			t.Logf("wrong: %s → %s %.3f", pr.File, pr.Label, pr.Probability)
		}
		i++
	}); err != nil {
		t.Fatal(err)
	}
	acc := float64(correct) / float64(len(ins))
	t.Logf("X/O drawings: %d/%d = %.2f%%", correct, len(ins), 100*acc)
	if acc < 0.995 {
		t.Errorf("accuracy %.2f%% < 99.5%%", 100*acc)
	}
}

func TestPreprocessPolarityAndPlacement(t *testing.T) {
	st := loadXO(t)
	recipe := config.Preprocess{Mode: "mnist", Invert: "auto"}
	p, err := New(st, recipe, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The same O, dark on light and light on dark, large and off-centre,
	// becomes the same bright, centred 28×28 glyph.
	a := drawXO(false, 300, 200, color.RGBA{255, 255, 255, 255}, color.RGBA{0, 0, 0, 255}, 60, 60, 40, 8, 0)
	b := drawXO(false, 300, 200, color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}, 220, 130, 40, 8, 0)
	pa, err := p.Load(Input{Name: "a.png", Data: encode(t, a, "png")})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := p.Load(Input{Name: "b.png", Data: encode(t, b, "png")})
	var diff, mass float64
	var mx, my float64
	for i := range pa {
		diff = math.Max(diff, math.Abs(float64(pa[i])-float64(pb[i])))
		v := float64(pa[i])
		mass += v
		mx += v * (float64(i%28) + 0.5)
		my += v * (float64(i/28) + 0.5)
	}
	if diff > 8 {
		t.Errorf("polarity-flipped copies differ by %v grey levels", diff)
	}
	if math.Abs(mx/mass-14) > 0.6 || math.Abs(my/mass-14) > 0.6 {
		t.Errorf("centre of mass (%.2f, %.2f), want (14, 14)", mx/mass, my/mass)
	}
	if pa[0] != 0 || pa[14*28+14] != 0 {
		t.Errorf("background not dark or ring interior filled: corner %d centre %d", pa[0], pa[14*28+14])
	}
	// The ink fits in 20×20: rows and columns outside [4,24) are empty.
	for i, v := range pa {
		x, y := i%28, i/28
		if v > 40 && (x < 3 || x > 24 || y < 3 || y > 24) {
			t.Fatalf("ink at (%d,%d) outside the 20×20 box", x, y)
		}
	}
}

// pngWithSize makes a PNG whose header declares w×h (with a valid CRC).
func pngWithSize(w, h uint32) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := b.Bytes()
	binary.BigEndian.PutUint32(raw[16:], w)
	binary.BigEndian.PutUint32(raw[20:], h)
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	return raw
}

func TestBadInputs(t *testing.T) {
	st := loadXO(t)
	p, err := New(st, st.Config.Preprocess, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dir := t.TempDir()
	good := encode(t, drawXO(true, 50, 50, color.RGBA{255, 255, 255, 255}, color.RGBA{0, 0, 0, 255}, 25, 25, 15, 4, 0), "png")
	files := map[string][]byte{
		"good.png":      good,
		"truncated.png": good[:len(good)/2],
		"text.png":      []byte("this is not an image\n"),
		"zero.gif":      []byte("GIF89a\x00\x00\x05\x00\x00\x00\x00;"), // a 0×5 logical screen
		"bomb.png":      pngWithSize(200000, 200000),
	}
	var ins []Input
	for _, name := range []string{"good.png", "truncated.png", "text.png", "zero.gif", "bomb.png", "missing.png"} {
		path := filepath.Join(dir, name)
		if b, ok := files[name]; ok {
			os.WriteFile(path, b, 0o644)
		}
		ins = append(ins, Input{Name: path})
	}
	want := map[string]string{
		"truncated.png": "not enough pixel data",
		"text.png":      "not an image in a supported format",
		"zero.gif":      "image has no pixels (0×5)",
		"bomb.png":      "declares 200000×200000 pixels",
		"missing.png":   "no such file",
	}
	got := map[string]string{}
	failed, err := p.Predict(ins, 1, func(pr Prediction, err error) {
		base := filepath.Base(pr.File)
		if err != nil {
			got[base] = err.Error()
			if !strings.Contains(err.Error(), pr.File) {
				t.Errorf("%s: error %q does not name the file", base, err)
			}
		} else {
			got[base] = "ok " + pr.Label
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if failed != 5 || got["good.png"] != "ok x" {
		t.Errorf("failed %d, good.png: %q", failed, got["good.png"])
	}
	for name, w := range want {
		if !strings.Contains(got[name], w) {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
}

func TestWebPAndAllFormatsDecode(t *testing.T) {
	st := loadXO(t)
	p, _ := New(st, st.Config.Preprocess, 1)
	defer p.Close()
	px, err := p.Load(Input{Name: "testdata/seven.webp"})
	if err != nil {
		t.Fatal(err)
	}
	var ink int
	for _, v := range px {
		if v > 128 {
			ink++
		}
	}
	if ink < 20 {
		t.Errorf("WebP digit has %d ink pixels after preprocessing", ink)
	}
	img := drawXO(true, 40, 30, color.RGBA{255, 255, 255, 255}, color.RGBA{0, 0, 0, 255}, 20, 15, 10, 3, 0)
	for _, f := range formats {
		if _, err := p.Load(Input{Name: "x." + f, Data: encode(t, img, f)}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.png", "a.jpg", "notes.txt", "sub/c.png"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	names := func(ins []Input) string {
		var s []string
		for _, in := range ins {
			s = append(s, strings.TrimPrefix(in.Name, dir+"/"))
		}
		return strings.Join(s, " ")
	}
	ins, errs := Expand([]string{dir}, false, nil)
	if names(ins) != "a.jpg b.png" || len(errs) != 0 {
		t.Errorf("flat: %s %v", names(ins), errs)
	}
	ins, _ = Expand([]string{dir, "-"}, true, strings.NewReader("img"))
	if names(ins) != "a.jpg b.png sub/c.png -" || string(ins[3].Data) != "img" {
		t.Errorf("recursive + stdin: %s", names(ins))
	}
	empty := t.TempDir()
	if _, errs := Expand([]string{empty}, false, nil); len(errs) != 1 || !strings.Contains(errs[0].Error(), "no image files") {
		t.Errorf("empty dir: %v", errs)
	}
}
