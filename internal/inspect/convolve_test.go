package inspect

import (
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveConvolve is the textbook loop: out[c][y][x] = Σ_ij k[i][j]·in[c][y·s+i−p][x·s+j−p],
// zero outside the image.
func naiveConvolve(p Planes, k Kernel, s, pad int) Planes {
	kh, kw := len(k), len(k[0])
	oh, ow := (p.H+2*pad-kh)/s+1, (p.W+2*pad-kw)/s+1
	out := Planes{p.C, oh, ow, make([]float32, p.C*oh*ow)}
	for c := range p.C {
		for y := range oh {
			for x := range ow {
				var sum float64
				for i := range kh {
					for j := range kw {
						iy, ix := y*s+i-pad, x*s+j-pad
						if iy >= 0 && iy < p.H && ix >= 0 && ix < p.W {
							sum += float64(k[i][j]) * float64(p.V[(c*p.H+iy)*p.W+ix])
						}
					}
				}
				out.V[(c*oh+y)*ow+x] = float32(sum)
			}
		}
	}
	return out
}

func randomPlanes(rng *rand.Rand, c, h, w int) Planes {
	p := Planes{c, h, w, make([]float32, c*h*w)}
	for i := range p.V {
		p.V[i] = rng.Float32()
	}
	return p
}

func TestConvolveMatchesNaiveLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kernels := []Kernel{Kernels["sobel-x"], Kernels["sharpen"], {{1, -2, 0.5}, {0.25, 3, -1}}, {{2}}, {{1, 2, 3, 4, 5}}}
	for _, c := range []int{1, 3} {
		for _, k := range kernels {
			for _, s := range []int{1, 2, 3} {
				for _, pad := range []int{0, 1, 2} {
					in := randomPlanes(rng, c, 11, 9)
					got, err := Convolve(in, k, s, pad)
					if err != nil {
						t.Fatal(err)
					}
					want := naiveConvolve(in, k, s, pad)
					if got.C != want.C || got.H != want.H || got.W != want.W {
						t.Fatalf("c%d k%dx%d s%d p%d: output %d×%d×%d, want %d×%d×%d", c, len(k), len(k[0]), s, pad, got.C, got.H, got.W, want.C, want.H, want.W)
					}
					for i := range want.V {
						if math.Abs(float64(got.V[i]-want.V[i])) > 1e-5 {
							t.Fatalf("c%d k%dx%d s%d p%d: [%d] = %v, naive %v", c, len(k), len(k[0]), s, pad, i, got.V[i], want.V[i])
						}
					}
				}
			}
		}
	}
}

// TestConvolveIsTheConv2dLayer runs the same kernel through a conv2d layer
// of a network (the op a model trains with, via Examine's feature maps) and
// through Convolve: the maps are the same numbers.
func TestConvolveIsTheConv2dLayer(t *testing.T) {
	n := network(t, "[1, 10, 10]", 2, "  - {type: conv2d, filters: 1, kernel: [2, 3], stride: 2, padding: 1, bias: false}\n  - {type: flatten}\n  - {type: dense, units: 2}\n")
	k := Kernel{{1, -2, 0.5}, {0.25, 3, -1}}
	copy(n.Layers[0].Weight.Data(), append(append([]float32(nil), k[0]...), k[1]...))
	rng := rand.New(rand.NewPCG(3, 3))
	img := image.NewGray(image.Rect(0, 0, 10, 10))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	lk, err := Examine(n, unit, img.Pix, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Convolve(ImagePlanes(img), k, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.H != n.Layers[0].Out[1] || got.W != n.Layers[0].Out[2] {
		t.Fatalf("Convolve gives %d×%d, the layer %v", got.H, got.W, n.Layers[0].Out)
	}
	for i, v := range lk.Outputs[0] {
		if math.Abs(float64(got.V[i]-v)) > 1e-5 {
			t.Fatalf("[%d]: Convolve %v, conv2d layer %v", i, got.V[i], v)
		}
	}
}

func TestConvolveKnownAnswers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	in := randomPlanes(rng, 1, 6, 6)
	// identity with padding 1 is the image itself.
	got, err := Convolve(in, Kernels["identity"], 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !equalFloats(got.V, in.V) {
		t.Fatal("identity kernel changed the image")
	}
	// A flat image has no edges, and blur keeps its level inside.
	flat := Planes{1, 5, 5, make([]float32, 25)}
	for i := range flat.V {
		flat.V[i] = 0.5
	}
	e, _ := Convolve(flat, Kernels["edge"], 1, 0)
	b, _ := Convolve(flat, Kernels["blur"], 1, 0)
	for i := range e.V {
		if math.Abs(float64(e.V[i])) > 1e-6 || math.Abs(float64(b.V[i])-0.5) > 1e-6 {
			t.Fatalf("flat image: edge %v, blur %v", e.V[i], b.V[i])
		}
	}
	// The seed's example: 28×28, 5×5, stride 1, no padding → 24×24.
	if s := SizeRule(28, 5, 1, 0); !strings.HasSuffix(s, "= 24") {
		t.Fatalf("SizeRule(28,5,1,0) = %s", s)
	}
	if _, err := Convolve(Planes{1, 2, 2, make([]float32, 4)}, Kernels["blur"], 1, 0); err == nil {
		t.Fatal("a 3×3 kernel on a 2×2 image gave an output")
	}
}

func TestParseKernel(t *testing.T) {
	k, err := ParseKernel("[[1, 0, -1], [2, 0, -2]]")
	if err != nil || len(k) != 2 || k[1][2] != -2 {
		t.Fatalf("ParseKernel: %v %v", k, err)
	}
	for _, bad := range []string{"sharp", "[[1,2],[3]]", "[]", "[[]]", "[[1,x]]", "[[1e400]]"} {
		if _, err := ParseKernel(bad); err == nil {
			t.Errorf("ParseKernel(%q) accepted", bad)
		}
	}
	if DefaultScaling(Kernels["sobel-x"]) != Abs || DefaultScaling(Kernels["blur"]) != Clamp || DefaultScaling(Kernel{{2}}) != Stretch {
		t.Fatal("default scalings")
	}
}
