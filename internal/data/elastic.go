package data

import (
	"math"
	"math/rand/v2"
)

// elasticBankSize is how many smoothed noise fields an Augmenter keeps.
const elasticBankSize = 48

// newElasticBank draws n fields of Simard et al.'s elastic distortion
// before scaling: uniform noise in ±1 per pixel, smoothed by a Gaussian of
// σ pixels (the X-vs-O drawings' blur: edges clamped).
//
// Smoothing a fresh field for every image costs more than the rest of the
// augmentation together (two fields, two passes of ~6σ taps per pixel), so
// an image's field is made from the bank instead: d = cos θ·F_i + sin θ·F_j
// for random i ≠ j and θ. The fields are sums of many independent terms,
// close to Gaussian, and this mix has the same mean (0) and covariance as
// each field: statistically a fresh smoothed field, at the cost of 2·H·W
// multiply-adds.
func newElasticBank(rng *rand.Rand, n, h, w int, sigma float64) [][]float32 {
	bank := make([][]float32, n)
	noise := make([]float64, h*w)
	tmp := make([]float64, h*w)
	for f := range bank {
		for i := range noise {
			noise[i] = 2*rng.Float64() - 1
		}
		gaussianBlur(noise, tmp, h, w, sigma)
		field := make([]float32, h*w)
		for i, v := range noise {
			field[i] = float32(v)
		}
		bank[f] = field
	}
	return bank
}

// displacement writes an image's elastic field, α·(cos θ·F_i + sin θ·F_j)
// for dx and the same with other fields and angle for dy, into buf
// (2·H·W: dx then dy) and returns it.
func (g *Augmenter) displacement(rng *rand.Rand, buf []float32) []float32 {
	n := len(g.bank)
	alpha := g.a.Elastic.Alpha
	plane := len(g.bank[0])
	for axis := range 2 {
		i := rng.IntN(n)
		j := (i + 1 + rng.IntN(n-1)) % n
		th := 2 * math.Pi * rng.Float64()
		a, b := float32(alpha*math.Cos(th)), float32(alpha*math.Sin(th))
		d := buf[axis*plane : (axis+1)*plane]
		for p := range d {
			d[p] = a*g.bank[i][p] + b*g.bank[j][p]
		}
	}
	return buf
}
