package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// pattern is a 5×5 image with every pixel distinct.
func pattern() []uint8 {
	px := make([]uint8, 25)
	for i := range px {
		px[i] = uint8(10 * i)
	}
	return px
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 }

// TestRotate90 rotates a 5×5 image by 90° counter-clockwise about its
// centre: pixel (x, y) comes from (4−y, x), exactly (np.rot90).
func TestRotate90(t *testing.T) {
	src := pattern()
	v := make([]float32, 25)
	warp(src, v, 1, 5, 5, centred(math.Pi/2, 0, 1, 1, 1, 0, 0, 2, 2), nil)
	for y := range 5 {
		for x := range 5 {
			if want := float32(src[x*5+(4-y)]) / 255; !near(v[y*5+x], want) {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, v[y*5+x]*255, want*255)
			}
		}
	}
}

// TestFlipsShiftsAndScale: a horizontal flip mirrors exactly; a shift by
// whole pixels moves the image and fills zeros; scale 2 about the centre
// of a 5×5 image puts the centre pixel's neighbour (x+½) at x+1.
func TestFlipsShiftsAndScale(t *testing.T) {
	src := pattern()
	v := make([]float32, 25)
	warp(src, v, 1, 5, 5, centred(0, 0, 1, -1, 1, 0, 0, 2, 2), nil)
	for y := range 5 {
		for x := range 5 {
			if !near(v[y*5+x], float32(src[y*5+4-x])/255) {
				t.Fatalf("hflip (%d,%d)", x, y)
			}
		}
	}
	warp(src, v, 1, 5, 5, centred(0, 0, 1, 1, 1, 2, 1, 2, 2), nil) // 2 right, 1 down
	for y := range 5 {
		for x := range 5 {
			want := float32(0)
			if x >= 2 && y >= 1 {
				want = float32(src[(y-1)*5+x-2]) / 255
			}
			if !near(v[y*5+x], want) {
				t.Fatalf("shift (%d,%d) = %v, want %v", x, y, v[y*5+x], want)
			}
		}
	}
	warp(src, v, 1, 5, 5, centred(0, 0, 2, 1, 1, 0, 0, 2, 2), nil)
	if want := (float32(src[12]) + float32(src[13])) / 2 / 255; !near(v[13], want) {
		t.Fatalf("scale 2: (3,2) = %v, want %v", v[13], want)
	}
}

// TestElasticZeroIsIdentity: α = 0 leaves the image as the plain batcher
// gives it (to float32 rounding), and a zero field through the sampler
// leaves every pixel bit for bit.
func TestElasticZeroIsIdentity(t *testing.T) {
	d := &Dataset{Shape: [3]int{1, 5, 5}, Images: pattern(), Labels: []int{0}, Classes: []string{"a"}}
	n := Norm{Mean: []float64{0.1}, Std: []float64{0.3}}
	want := make([]float32, 25)
	NewBatcher(d, n).Fill(want, nil, []int{0})
	got := make([]float32, 25)
	NewAugmenter(d, n, config.Augment{Elastic: &config.Elastic{Alpha: 0, Sigma: 4}}, 1).FillWith(nil, got, nil, []int{0}, 1, 0)
	for i := range want {
		if !near(got[i], want[i]) {
			t.Fatalf("α = 0 changed pixel %d: %v, want %v", i, got[i], want[i])
		}
	}
	v := make([]float32, 25)
	warp(d.Images, v, 1, 5, 5, affine{A: 1, E: 1}, make([]float32, 50))
	for i, p := range d.Images {
		if v[i] != float32(p)/255 {
			t.Fatalf("a zero field moved pixel %d", i)
		}
	}
	// A field that is not zero does move pixels, by about α·0.04 px for σ = 4 (the smoothed noise's spread).
	bank := newElasticBank(rand.New(rand.NewPCG(1, 2)), 8, 28, 28, 4)
	var sq float64
	for _, v := range bank[0][10*28+10 : 10*28+18] {
		sq += float64(v) * float64(v)
	}
	if rms := math.Sqrt(sq / 8); rms < 0.01 || rms > 0.1 {
		t.Errorf("smoothed field rms %v", rms)
	}
}

// TestEraseRemovesTheStatedArea: erasing a 3×4 rectangle zeroes exactly 12
// pixels per channel; a random erase of a quarter of an 8×8 image zeroes a
// rectangle of 16 ± rounding pixels.
func TestEraseRemovesTheStatedArea(t *testing.T) {
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	zeros := func(v []float32) int {
		n := 0
		for _, x := range v {
			if x == 0 {
				n++
			}
		}
		return n
	}
	v := ones(2 * 64)
	eraseRect(v, 2, 8, 8, 2, 3, 3, 4)
	if zeros(v[:64]) != 12 || zeros(v[64:]) != 12 || v[2*8+3] != 0 || v[4*8+6] != 0 || v[5*8+3] != 1 || v[2*8+7] != 1 {
		t.Fatalf("erased %d and %d pixels", zeros(v[:64]), zeros(v[64:]))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		v := ones(64)
		erase(rng, v, 1, 8, 8, 0.25, 0.25)
		if z := zeros(v); z < 12 || z > 20 {
			t.Fatalf("a quarter of 64 pixels: erased %d", z)
		}
	}
}

// TestThickness: a dilation spreads a lone pixel half-way to its four
// neighbours; an erosion halves a lone pixel and leaves a solid block's
// inside as it is.
func TestThickness(t *testing.T) {
	v := make([]float32, 25)
	v[12] = 1
	thicken(v, make([]float32, 25), 1, 5, 5, true)
	for i, want := range map[int]float32{12: 1, 7: 0.5, 11: 0.5, 13: 0.5, 17: 0.5, 6: 0, 0: 0} {
		if v[i] != want {
			t.Fatalf("dilated [%d] = %v, want %v", i, v[i], want)
		}
	}
	v = make([]float32, 25)
	for _, i := range []int{6, 7, 8, 11, 12, 13, 16, 17, 18} {
		v[i] = 1
	}
	thicken(v, make([]float32, 25), 1, 5, 5, false)
	if v[12] != 1 || v[6] != 0.5 || v[7] != 0.5 || v[0] != 0 {
		t.Fatalf("eroded block %v", v)
	}
}

// TestAugmentIsReproducible: the same seed, epoch and positions give the
// same batch, however the workers share it; another epoch gives another.
func TestAugmentIsReproducible(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := &Dataset{Shape: [3]int{1, 12, 12}, Classes: []string{"a", "b"}}
	for i := range 40 {
		for range 144 {
			d.Images = append(d.Images, uint8(rng.IntN(256)))
		}
		d.Labels = append(d.Labels, i%2)
	}
	a := config.Augment{Rotate: 15, Scale: []float64{0.9, 1.1}, Translate: 0.1, Shear: 5, Elastic: &config.Elastic{Alpha: 8, Sigma: 3},
		HFlip: true, Crop: 2, Brightness: 0.1, Contrast: 0.2, Noise: 0.05, Erase: &config.Erase{P: 0.5, Area: []float64{0.05, 0.2}}, Thickness: 0.5}
	n := Norm{Mean: []float64{0.5}, Std: []float64{0.25}}
	idx := rng.Perm(40)[:32]
	batch := func(seed uint64, ep int, par func(n, cost int, fn func(lo, hi int))) []float32 {
		x := make([]float32, 32*144)
		NewAugmenter(d, n, a, seed).FillWith(par, x, nil, idx, ep, 64)
		return x
	}
	one := batch(7, 3, nil)
	if !slices.Equal(one, batch(7, 3, parallel.Range)) || !slices.Equal(one, batch(7, 3, nil)) {
		t.Fatal("the same seed and epoch gave another batch")
	}
	if slices.Equal(one, batch(7, 4, nil)) || slices.Equal(one, batch(8, 3, nil)) {
		t.Fatal("another epoch or seed gave the same batch")
	}
	for _, v := range one {
		if p := v*0.25 + 0.5; p < -1e-6 || p > 1+1e-6 || math.IsNaN(float64(v)) {
			t.Fatalf("pixel value %v outside [0, 1]", p)
		}
	}
}

// TestPhotometric: brightness alone shifts a flat image by one amount in
// ±b; contrast alone leaves a flat image as it is.
func TestPhotometric(t *testing.T) {
	d := &Dataset{Shape: [3]int{1, 4, 4}, Images: make([]uint8, 16), Labels: []int{0}, Classes: []string{"a"}}
	for i := range d.Images {
		d.Images[i] = 128
	}
	unit := Norm{Mean: []float64{0}, Std: []float64{1}}
	for ep := range 10 {
		x := make([]float32, 16)
		NewAugmenter(d, unit, config.Augment{Brightness: 0.2}, 1).FillWith(nil, x, nil, []int{0}, ep, 0)
		if x[0] < 128.0/255-0.2 || x[0] > 128.0/255+0.2 || slices.Max(x) != slices.Min(x) {
			t.Fatalf("brightness: %v", x)
		}
		NewAugmenter(d, unit, config.Augment{Contrast: 0.5}, 1).FillWith(nil, x, nil, []int{0}, ep, 0)
		if !near(x[5], 128.0/255) {
			t.Fatalf("contrast moved a flat image: %v", x[5])
		}
	}
}
