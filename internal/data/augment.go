package data

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/cnnctl/cnnctl/internal/config"
)

// Augmenter fills training batches with randomly transformed images: one
// resampling for all the geometry (affine, elastic field, crop offset and
// flips compose into one map from output to source pixels, sampled
// bilinearly with zeros outside the image), then stroke thickness, then
// contrast, brightness and noise, then erasing, then the normalisation.
//
// Every image draws from its own random stream, seeded by the run's seed,
// the epoch and the image's position in the epoch, so a batch is the same
// however the workers share it out, and a resumed run sees the same
// images as one that never stopped.
type Augmenter struct {
	d    *Dataset
	a    config.Augment
	mean []float32
	std  []float32
	seed uint64
	bank [][]float32 // smoothed elastic noise fields, H×W each (see newElasticBank)
	pool sync.Pool   // per-call scratch planes
}

// NewAugmenter prepares augmentation of d's images with the settings a,
// normalised by n, drawing from seed.
func NewAugmenter(d *Dataset, n Norm, a config.Augment, seed uint64) *Augmenter {
	c, h, w := d.Shape[0], d.Shape[1], d.Shape[2]
	g := &Augmenter{d: d, a: a, seed: seed}
	for ch := range c {
		g.mean = append(g.mean, float32(n.Mean[min(ch, len(n.Mean)-1)]))
		g.std = append(g.std, float32(n.Std[min(ch, len(n.Std)-1)]))
	}
	if e := a.Elastic; e != nil && e.Alpha > 0 {
		g.bank = newElasticBank(rand.New(rand.NewPCG(seed, 0xe1a5)), elasticBankSize, h, w, e.Sigma)
	}
	g.pool.New = func() any { return &scratchPlanes{v: make([]float32, 2*c*h*w+2*h*w)} }
	return g
}

type scratchPlanes struct{ v []float32 }

// FillWith writes examples idx, which stand at positions first, first+1, …
// of epoch ep's order, augmented and normalised into x (and their labels
// into y), shared out by parallelFor as Batcher.FillWith does.
func (g *Augmenter) FillWith(parallelFor func(n, cost int, fn func(lo, hi int)), x, y []float32, idx []int, ep, first int) {
	size := g.d.Size()
	fill := func(lo, hi int) {
		sp := g.pool.Get().(*scratchPlanes)
		defer g.pool.Put(sp)
		// One generator for the range, reseeded for each image: the same
		// streams as a fresh one per image, without an allocation each.
		src := rand.NewPCG(0, 0)
		rng := rand.New(src)
		for r := lo; r < hi; r++ {
			i := idx[r]
			src.Seed(g.seed^0x9e3779b97f4a7c15, uint64(ep)<<32|uint64(first+r))
			g.one(rng, g.d.Image(i), x[r*size:(r+1)*size], sp.v)
			if y != nil {
				y[r] = float32(g.d.Labels[i])
			}
		}
	}
	if parallelFor == nil {
		fill(0, len(idx))
		return
	}
	parallelFor(len(idx), 40*size, fill)
}

// Sample is example i as FillWith would augment it at position pos of
// epoch ep, before the normalisation: C×H×W values in [0, 1].
func (g *Augmenter) Sample(i, ep, pos int) []float32 {
	c, h, w := g.d.Shape[0], g.d.Shape[1], g.d.Shape[2]
	out := make([]float32, c*h*w)
	g.FillWith(nil, out, nil, []int{i}, ep, pos)
	for ch := range c {
		for j := range h * w {
			out[ch*h*w+j] = out[ch*h*w+j]*g.std[ch] + g.mean[ch]
		}
	}
	return out
}

// one augments image src (C×H×W bytes) into dst (normalised floats), with
// tmp as scratch of 2·C·H·W + 2·H·W floats.
func (g *Augmenter) one(rng *rand.Rand, src []uint8, dst, tmp []float32) {
	c, h, w := g.d.Shape[0], g.d.Shape[1], g.d.Shape[2]
	a := &g.a
	v := tmp[:c*h*w]
	if m, disp := g.geometry(rng, h, w, tmp[2*c*h*w:]); m.identity() && disp == nil {
		for i, p := range src {
			v[i] = float32(p) / 255
		}
	} else {
		warp(src, v, c, h, w, m, disp)
	}
	if a.Thickness > 0 && rng.Float64() < a.Thickness {
		thicken(v, tmp[c*h*w:], c, h, w, rng.IntN(2) == 0)
	}
	if a.Contrast > 0 || a.Brightness > 0 || a.Noise > 0 {
		k := float32(1 + a.Contrast*(2*rng.Float64()-1))
		b := float32(a.Brightness * (2*rng.Float64() - 1))
		for ch := range c {
			p := v[ch*h*w : (ch+1)*h*w]
			var mean float32
			if a.Contrast > 0 {
				for _, x := range p {
					mean += x
				}
				mean /= float32(len(p))
			}
			for i, x := range p {
				x = (x-mean)*k + mean + b
				if a.Noise > 0 {
					x += float32(a.Noise * rng.NormFloat64())
				}
				p[i] = min(1, max(0, x))
			}
		}
	}
	if e := a.Erase; e != nil && rng.Float64() < e.P {
		erase(rng, v, c, h, w, e.Area[0], e.Area[1])
	}
	for ch := range c {
		m, s := g.mean[ch], g.std[ch]
		for i, x := range v[ch*h*w : (ch+1)*h*w] {
			dst[ch*h*w+i] = (x - m) / s
		}
	}
}

// affine maps an output pixel (x, y) to source coordinates
// (A·x + B·y + C, D·x + E·y + F).
type affine struct{ A, B, C, D, E, F float64 }

func (m affine) identity() bool { return m == affine{A: 1, E: 1} }

// geometry draws the image's map from output to source pixels and its
// elastic displacement field (in buf, 2·H·W floats; nil without one).
func (g *Augmenter) geometry(rng *rand.Rand, h, w int, buf []float32) (affine, []float32) {
	a := &g.a
	cx, cy := float64(w-1)/2, float64(h-1)/2
	rot := a.Rotate * (2*rng.Float64() - 1) * math.Pi / 180
	shear := a.Shear * (2*rng.Float64() - 1) * math.Pi / 180
	s := 1.0
	if len(a.Scale) == 2 {
		s = a.Scale[0] + (a.Scale[1]-a.Scale[0])*rng.Float64()
	}
	tx := a.Translate * float64(w) * (2*rng.Float64() - 1)
	ty := a.Translate * float64(h) * (2*rng.Float64() - 1)
	if a.Crop > 0 { // pad by Crop, crop back: a whole-pixel shift
		tx += float64(rng.IntN(2*a.Crop+1) - a.Crop)
		ty += float64(rng.IntN(2*a.Crop+1) - a.Crop)
	}
	fx, fy := 1.0, 1.0
	if a.HFlip && rng.IntN(2) == 0 {
		fx = -1
	}
	if a.VFlip && rng.IntN(2) == 0 {
		fy = -1
	}
	m := centred(rot, shear, s, fx, fy, tx, ty, cx, cy)
	var disp []float32
	if g.bank != nil {
		disp = g.displacement(rng, buf[:2*h*w])
	}
	return m, disp
}

// centred is the output→source map of the forward transform that flips,
// scales, shears, rotates (counter-clockwise on screen for a positive
// angle) about the centre (cx, cy) and then shifts by (tx, ty).
func centred(rot, shear, s, fx, fy, tx, ty, cx, cy float64) affine {
	// Forward linear part F = R(rot)·Shear(shear)·diag(s·fx, s·fy), with y
	// pointing down: a screen rotation by +rot is R(−rot) in these axes.
	cr, sr := math.Cos(-rot), math.Sin(-rot)
	k := math.Tan(shear)
	// Shear [[1, k], [0, 1]], then scale and flip.
	f00, f01 := cr*s*fx, (cr*k-sr)*s*fy
	f10, f11 := sr*s*fx, (sr*k+cr)*s*fy
	det := f00*f11 - f01*f10
	i00, i01, i10, i11 := f11/det, -f01/det, -f10/det, f00/det
	// source = F⁻¹·(out − c − t) + c
	ox, oy := -cx-tx, -cy-ty
	return affine{A: i00, B: i01, C: i00*ox + i01*oy + cx, D: i10, E: i11, F: i10*ox + i11*oy + cy}
}

// warp samples src (C×H×W bytes) at the mapped position of every output
// pixel, plus its displacement if disp (2×H×W: dx then dy) is given,
// bilinearly, zero outside, into v as values in [0, 1].
func warp(src []uint8, v []float32, c, h, w int, m affine, disp []float32) {
	plane := h * w
	for y := range h {
		for x := range w {
			sx := m.A*float64(x) + m.B*float64(y) + m.C
			sy := m.D*float64(x) + m.E*float64(y) + m.F
			if disp != nil {
				sx += float64(disp[y*w+x])
				sy += float64(disp[plane+y*w+x])
			}
			x0, y0 := math.Floor(sx), math.Floor(sy)
			ux, uy := float32(sx-x0), float32(sy-y0)
			ix, iy := int(x0), int(y0)
			w00, w01 := (1-ux)*(1-uy), ux*(1-uy)
			w10, w11 := (1-ux)*uy, ux*uy
			for ch := range c {
				p := src[ch*plane : (ch+1)*plane]
				at := func(xx, yy int) float32 {
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						return 0
					}
					return float32(p[yy*w+xx])
				}
				var s float32
				if ix >= 0 && iy >= 0 && ix+1 < w && iy+1 < h { // inside: no bounds checks
					o := iy*w + ix
					s = w00*float32(p[o]) + w01*float32(p[o+1]) + w10*float32(p[o+w]) + w11*float32(p[o+w+1])
				} else {
					s = w00*at(ix, iy) + w01*at(ix+1, iy) + w10*at(ix, iy+1) + w11*at(ix+1, iy+1)
				}
				v[ch*plane+y*w+x] = s / 255
			}
		}
	}
}

// thicken makes strokes about a pixel thicker (dilate) or thinner in all:
// each value moves halfway to the largest (smallest) of itself and its 4
// neighbours, half a pixel on each side of a stroke — what separates bold
// and light fonts from MNIST's pen, without erasing its thin strokes.
// tmp holds C·H·W floats.
func thicken(v, tmp []float32, c, h, w int, dilate bool) {
	copy(tmp, v[:c*h*w])
	for ch := range c {
		p, q := tmp[ch*h*w:(ch+1)*h*w], v[ch*h*w:(ch+1)*h*w]
		for y := range h {
			for x := range w {
				o := y*w + x
				best := p[o]
				pick := func(u float32) {
					if dilate {
						best = max(best, u)
					} else {
						best = min(best, u)
					}
				}
				if x > 0 {
					pick(p[o-1])
				}
				if x+1 < w {
					pick(p[o+1])
				}
				if y > 0 {
					pick(p[o-w])
				}
				if y+1 < h {
					pick(p[o+w])
				}
				q[o] = (p[o] + best) / 2
			}
		}
	}
}

// erase sets a rectangle of area fraction lo…hi of the image (aspect ratio
// 0.3…3.3, log-uniform, as torchvision's RandomErasing) to 0 in every
// channel; it gives up after 10 draws that do not fit.
func erase(rng *rand.Rand, v []float32, c, h, w int, lo, hi float64) {
	for range 10 {
		area := float64(h*w) * (lo + (hi-lo)*rng.Float64())
		ratio := math.Exp(math.Log(0.3) + (math.Log(3.3)-math.Log(0.3))*rng.Float64())
		eh, ew := int(math.Round(math.Sqrt(area*ratio))), int(math.Round(math.Sqrt(area/ratio)))
		if eh < 1 || ew < 1 || eh > h || ew > w {
			continue
		}
		eraseRect(v, c, h, w, rng.IntN(h-eh+1), rng.IntN(w-ew+1), eh, ew)
		return
	}
}

func eraseRect(v []float32, c, h, w, y0, x0, eh, ew int) {
	for ch := range c {
		for y := y0; y < y0+eh; y++ {
			clear(v[ch*h*w+y*w+x0 : ch*h*w+y*w+x0+ew])
		}
	}
}
