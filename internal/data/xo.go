package data

import (
	"math"
	"math/rand/v2"
)

// XOClasses are the X-vs-O class names, in folder (sorted) order.
var XOClasses = []string{"o", "x"}

// GenerateXO draws n seeded X and O images of h×w pixels, alternating
// classes: bright ink on a dark ground, like MNIST. Each drawing varies in
// size, position, aspect, stroke width, rotation, ink and ground level,
// blur and noise, so a network must learn the shapes rather than a template.
// The same seed always gives the same images.
func GenerateXO(n, h, w int, seed uint64) *Dataset {
	d := &Dataset{Shape: [3]int{1, h, w}, Images: make([]uint8, n*h*w), Labels: make([]int, n), Classes: XOClasses}
	rng := rand.New(rand.NewPCG(seed, 0x786f))
	buf := make([]float64, h*w)
	tmp := make([]float64, h*w)
	for i := range n {
		label := i % 2
		d.Labels[i] = label
		drawXO(buf, tmp, h, w, label == 1, rng)
		img := d.Image(i)
		for j, v := range buf {
			img[j] = uint8(math.Round(255 * math.Min(1, math.Max(0, v))))
		}
	}
	return d
}

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// drawXO renders one glyph into img (h×w) as an anti-aliased stroke: each
// pixel's ink is how far it lies inside half the stroke width of the shape.
func drawXO(img, tmp []float64, h, w int, isX bool, rng *rand.Rand) {
	s := float64(min(h, w))
	r := uniform(rng, 0.2, 0.4) * s        // half the glyph's size
	aspect := uniform(rng, 0.75, 1.25)     // height/width
	stroke := uniform(rng, 0.05, 0.14) * s // line width
	theta := uniform(rng, -0.45, 0.45)     // rotation, radians
	cx := float64(w)/2 + uniform(rng, -0.15, 0.15)*s
	cy := float64(h)/2 + uniform(rng, -0.15, 0.15)*s
	ink := uniform(rng, 0.75, 1)
	ground := uniform(rng, 0, 0.12)
	cos, sin := math.Cos(theta), math.Sin(theta)
	rx, ry := r, r*aspect
	for y := range h {
		for x := range w {
			// Pixel centre in the glyph's rotated frame.
			px, py := float64(x)+0.5-cx, float64(y)+0.5-cy
			u, v := cos*px+sin*py, -sin*px+cos*py
			var dist float64
			if isX {
				dist = math.Min(segDist(u, v, -rx, -ry, rx, ry), segDist(u, v, -rx, ry, rx, -ry))
			} else {
				dist = ellipseDist(u, v, rx, ry)
			}
			cover := math.Min(1, math.Max(0, stroke/2-dist+0.5))
			img[y*w+x] = ground + (ink-ground)*cover
		}
	}
	if sigma := uniform(rng, 0, 0.9) * s / 28; sigma > 0.2 {
		gaussianBlur(img, tmp, h, w, sigma)
	}
	noise := uniform(rng, 0, 0.08)
	for i := range img {
		img[i] += noise * rng.NormFloat64()
	}
}

// segDist is the distance from (px,py) to the segment (ax,ay)–(bx,by).
func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Min(1, math.Max(0, t))
	return math.Hypot(px-ax-t*dx, py-ay-t*dy)
}

// ellipseDist approximates the distance from (u,v) to the ellipse with
// semi-axes rx, ry by the first-order (gradient-scaled) estimate.
func ellipseDist(u, v, rx, ry float64) float64 {
	f := math.Hypot(u/rx, v/ry)
	if f == 0 {
		return math.Min(rx, ry)
	}
	g := math.Hypot(u/(rx*rx), v/(ry*ry)) / f // |∇f|
	return math.Abs(f-1) / g
}

// gaussianBlur blurs img in place with a separable kernel, clamping at edges.
func gaussianBlur(img, tmp []float64, h, w int, sigma float64) {
	rad := int(math.Ceil(2.5 * sigma))
	k := make([]float64, 2*rad+1)
	var sum float64
	for i := range k {
		x := float64(i - rad)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	for y := range h {
		for x := range w {
			var acc float64
			for i, kv := range k {
				acc += kv * img[y*w+min(w-1, max(0, x+i-rad))]
			}
			tmp[y*w+x] = acc
		}
	}
	for y := range h {
		for x := range w {
			var acc float64
			for i, kv := range k {
				acc += kv * tmp[min(h-1, max(0, y+i-rad))*w+x]
			}
			img[y*w+x] = acc
		}
	}
}
