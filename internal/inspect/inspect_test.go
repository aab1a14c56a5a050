package inspect

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
)

// network builds a network from a YAML model list on input [c,h,w].
func network(t *testing.T, shape string, classes int, layers string) *model.Network {
	t.Helper()
	src := "data: {source: xo, shape: " + shape + "}\n"
	if !strings.HasPrefix(shape, "[1,") {
		src = "data: {source: folder, dir: images, shape: " + shape + "}\npreprocess: {mode: resize, invert: no}\n"
	}
	doc := src + "model:\n" + layers + "train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"
	c, err := config.Parse("m.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.New(c.Layers(), c.Data.Shape, classes, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// unit reads pixels as values in [0, 1]: mean 0, std 1 of px/255.
var unit = data.Norm{Mean: []float64{0}, Std: []float64{1}}

func decode(t *testing.T, img image.Image) image.Image {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	out, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// TestEdgeFilterFeatureMap sets a vertical-edge kernel by hand: on an image
// dark on the left and bright on the right, its feature map is 3 where the
// window straddles the edge and 0 elsewhere — and the drawn map shows it.
func TestEdgeFilterFeatureMap(t *testing.T) {
	n := network(t, "[1, 8, 8]", 2, "  - {type: conv2d, filters: 1, kernel: 3, bias: false}\n  - {type: flatten}\n  - {type: dense, units: 2}\n")
	copy(n.Layers[0].Weight.Data(), []float32{-1, 0, 1, -1, 0, 1, -1, 0, 1})
	px := make([]uint8, 64)
	for y := range 8 {
		for x := 4; x < 8; x++ {
			px[y*8+x] = 255
		}
	}
	lk, err := Examine(n, unit, px, -1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 3, 3, 0, 0}
	for y := range 6 {
		for x := range 6 {
			if got := lk.Outputs[0][y*6+x]; got != want[x] {
				t.Fatalf("feature map (%d,%d) = %v, want %v", y, x, got, want[x])
			}
		}
	}
	if got := MapLayers(n); len(got) != 1 || got[0] != 0 {
		t.Fatalf("MapLayers = %v, want [0]", got)
	}
	pic, err := FeatureMaps(n, lk, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := pic.Grids[0]
	img := decode(t, pic.Image)
	w, h := g.Size()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h || g.Rows != 1 || g.Cols != 1 || g.CellW%6 != 0 || g.CellH != g.CellW {
		t.Fatalf("feature-map sheet %v, grid %+v", b, g)
	}
	z, o := g.CellW/6, g.cellOrigin(0)
	at := func(x, y int) color.RGBA { return rgba(img.At(o.X+x*z+z/2, o.Y+y*z+z/2)) }
	if at(2, 3) != Grey(1) || at(0, 3) != Grey(0) || at(5, 0) != Grey(0) {
		t.Fatalf("edge column drawn %v, flat columns %v %v", at(2, 3), at(0, 3), at(5, 0))
	}
}

// TestSaliencyMatchesFiniteDifferences checks the gradient of a class score
// with respect to the input — through convolution, batch norm at inference,
// tanh, pooling and dense layers — against central differences, and the
// saliency map against the largest |difference| over the channels.
func TestSaliencyMatchesFiniteDifferences(t *testing.T) {
	n := network(t, "[2, 6, 6]", 3, `  - {type: conv2d, filters: 3, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: tanh}
  - {type: avgpool, kernel: 2}
  - {type: conv2d, filters: 2, kernel: 2}
  - {type: sigmoid}
  - {type: flatten}
  - {type: dense, units: 3}
`)
	rng := rand.New(rand.NewPCG(9, 9))
	bn := n.Layers[1].BN
	for c := range bn.RunningMean {
		bn.RunningMean[c], bn.RunningVar[c] = float32(rng.NormFloat64()*0.3), 0.3+rng.Float32()
	}
	px := make([]uint8, 2*36)
	for i := range px {
		px[i] = uint8(rng.IntN(256))
	}
	const class = 1
	lk, err := Examine(n, unit, px, class)
	if err != nil {
		t.Fatal(err)
	}
	p, err := n.BuildProbe(1, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := p.Input.Data().([]float32)
	copy(x, lk.Input)
	p.Select.Data().([]float32)[class] = 1
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	grad := append([]float32(nil), p.InputGradData()...)
	score := func() float64 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		return float64(p.LogitsData()[class])
	}
	const eps = 1e-2
	fd := make([]float64, len(x))
	var scale float64
	for i := range x {
		v := x[i]
		x[i] = v + eps
		up := score()
		x[i] = v - eps
		down := score()
		x[i] = v
		fd[i] = (up - down) / (2 * eps)
		scale = max(scale, math.Abs(fd[i]))
	}
	for i := range fd {
		if d := math.Abs(float64(grad[i]) - fd[i]); d > 1e-3*scale {
			t.Fatalf("∂score/∂x[%d] = %v, central difference %v", i, grad[i], fd[i])
		}
	}
	for i := range 36 {
		want := max(math.Abs(fd[i]), math.Abs(fd[36+i])) / scale
		if d := math.Abs(float64(lk.Saliency[i]) - want); d > 2e-3 {
			t.Fatalf("saliency[%d] = %v, from differences %v", i, lk.Saliency[i], want)
		}
	}
}

// camNetwork has two detectors — channel 0 of horizontal strokes, channel 1
// of vertical ones — and class k looks only at channel k.
func camNetwork(t *testing.T) *model.Network {
	n := network(t, "[1, 12, 12]", 2, "  - {type: conv2d, filters: 2, kernel: 3, padding: 1, bias: false}\n  - {type: relu}\n  - {type: flatten}\n  - {type: dense, units: 2}\n")
	copy(n.Layers[0].Weight.Data(), []float32{
		-1, -1, -1, 2, 2, 2, -1, -1, -1, // horizontal
		-1, 2, -1, -1, 2, -1, -1, 2, -1, // vertical
	})
	w, b := n.Layers[3].Weight.Data(), n.Layers[3].Bias.Data()
	clear(w)
	clear(b)
	for i := range 144 {
		w[i] = 1         // class 0 ← channel 0
		w[288+144+i] = 1 // class 1 ← channel 1
	}
	return n
}

// TestGradCAMFindsTheRegionThatMatters: an image with a horizontal stroke
// top left and a vertical one bottom right. Explaining class 0 (which only
// horizontal strokes move), Grad-CAM must light up the top left; class 1,
// the bottom right. And with α₀ = 1, α₁ = 0 here by construction, the map
// is exactly channel 0's rectified output.
func TestGradCAMFindsTheRegionThatMatters(t *testing.T) {
	n := camNetwork(t)
	if got := CAMLayer(n); got != 1 {
		t.Fatalf("CAMLayer = %d, want 1 (the ReLU after the convolution)", got)
	}
	px := make([]uint8, 144)
	for x := 0; x <= 4; x++ {
		px[2*12+x] = 255 // horizontal stroke, top left
	}
	for y := 7; y <= 11; y++ {
		px[y*12+9] = 255 // vertical stroke, bottom right
	}
	for class, region := range []image.Rectangle{image.Rect(0, 0, 6, 6), image.Rect(6, 6, 12, 12)} {
		lk, err := Examine(n, unit, px, class)
		if err != nil {
			t.Fatal(err)
		}
		var in, all float64
		peak := 0
		for i, v := range lk.CAM {
			all += float64(v)
			if image.Pt(i%12, i/12).In(region) {
				in += float64(v)
			}
			if v > lk.CAM[peak] {
				peak = i
			}
		}
		t.Logf("class %d: %.0f%% of the map in %v", class, 100*in/all, region)
		if in < 0.75*all || !image.Pt(peak%12, peak/12).In(region) {
			t.Errorf("class %d: %.0f%% of the Grad-CAM map in %v, peak at (%d,%d)", class, 100*in/all, region, peak%12, peak/12)
		}
		ch := append([]float32(nil), lk.Outputs[1][class*144:(class+1)*144]...)
		normalise(ch)
		for i := range ch {
			if math.Abs(float64(ch[i]-lk.CAM[i])) > 1e-6 {
				t.Fatalf("class %d: CAM[%d] = %v, channel %d's rectified map %v", class, i, lk.CAM[i], class, ch[i])
			}
		}
		pic, err := GradCAM(n, lk, "x")
		if err != nil {
			t.Fatal(err)
		}
		if w, h := pic.Grids[0].Size(); pic.Image.Bounds() != image.Rect(0, 0, w, h) || pic.Grids[0].Cols != 3 {
			t.Fatalf("Grad-CAM sheet %v, grid %+v", pic.Image.Bounds(), pic.Grids[0])
		}
	}
}

func TestBilinearKeepsSizeAndInterpolates(t *testing.T) {
	m := []float32{0, 1, 2, 3}
	if got := bilinear(m, 2, 2, 2, 2); !equalFloats(got, m) {
		t.Fatalf("same size: %v", got)
	}
	up := bilinear([]float32{0, 4}, 1, 2, 1, 4) // centres at −¼, ¼, ¾, 1¼ of the gap
	if !equalFloats(up, []float32{0, 1, 3, 4}) {
		t.Fatalf("1×2 → 1×4: %v", up)
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// TestFiltersPicture checks filters.png's layout and colours: the first
// convolution's 4 kernels in a 2×2 grid, each weight a square of the
// diverging colour, then the second's kernel norms.
func TestFiltersPicture(t *testing.T) {
	n := network(t, "[1, 8, 8]", 2, "  - {type: conv2d, filters: 4, kernel: 3}\n  - {type: relu}\n  - {type: conv2d, filters: 2, kernel: 3}\n  - {type: flatten}\n  - {type: dense, units: 2}\n")
	pic, err := Filters(n)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, pic.Image)
	g0, g1 := pic.Grids[0], pic.Grids[1]
	w0, h0 := g0.Size()
	w1, h1 := g1.Size()
	if img.Bounds() != image.Rect(0, 0, max(w0, w1), h0+h1) || g0.Rows != 2 || g0.Cols != 2 || g1.Rows != 1 || g1.Cols != 1 {
		t.Fatalf("filters.png %v; grids %+v %+v", img.Bounds(), g0, g1)
	}
	w := n.Layers[0].Weight.Data()
	m := maxAbs(w)
	z := g0.CellW / 3
	for o := range 4 {
		org := g0.cellOrigin(o)
		for k := range 9 {
			got := rgba(img.At(org.X+(k%3)*z+z/2, org.Y+(k/3)*z+z/2))
			if want := Diverging(float64(w[o*9+k]/(2*m)) + 0.5); got != want {
				t.Fatalf("kernel %d weight %d (%v): colour %v, want %v", o, k, w[o*9+k], got, want)
			}
		}
	}
	// Norm cell (output 1, input 3) of the second convolution.
	w2 := n.Layers[2].Weight.Data()
	norm := func(o, i int) float64 {
		var s float64
		for _, v := range w2[(o*4+i)*9 : (o*4+i+1)*9] {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s)
	}
	var hi float64
	for o := range 2 {
		for i := range 4 {
			hi = max(hi, norm(o, i))
		}
	}
	z1, org := g1.CellW/4, g1.cellOrigin(0)
	if got, want := rgba(img.At(org.X+3*z1+z1/2, h0+org.Y+1*z1+z1/2)), Heat(float64(float32(norm(1, 3))/float32(hi))); got != want {
		t.Fatalf("norm cell (1,3): %v, want %v", got, want)
	}
}

// TestFiltersRGB draws 3-channel kernels in colour: a kernel that is +m in
// red, 0 in green and −m in blue is a pure red-ish square (255, 128, 0).
func TestFiltersRGB(t *testing.T) {
	n := network(t, "[3, 8, 8]", 2, "  - {type: conv2d, filters: 2, kernel: 1}\n  - {type: flatten}\n  - {type: dense, units: 2}\n")
	copy(n.Layers[0].Weight.Data(), []float32{0.5, 0, -0.5, 0.1, 0.1, 0.1})
	pic, err := Filters(n)
	if err != nil {
		t.Fatal(err)
	}
	g := pic.Grids[0]
	org := g.cellOrigin(0)
	if got := rgba(pic.Image.At(org.X+1, org.Y+1)); got != (color.RGBA{255, 128, 0, 255}) {
		t.Fatalf("RGB kernel drawn %v", got)
	}
	if _, err := Filters(network(t, "[1, 4, 4]", 2, "  - {type: flatten}\n  - {type: dense, units: 2}\n")); err == nil {
		t.Fatal("a network without convolutions has filters")
	}
}
