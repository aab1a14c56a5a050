// Package data loads and makes the examples a network trains on: MNIST idx
// files (and fetching them), the seeded X-vs-O generator, folders of images,
// and the batching that turns uint8 pixels into normalised float32 batches.
// Examples stay as uint8 in memory (a quarter of float32's footprint) and are
// scaled per batch.
package data

import (
	"fmt"
	"math/rand/v2"
)

// Dataset is a labelled set of images of one shape, as uint8 pixels.
type Dataset struct {
	Shape   [3]int  // C, H, W
	Images  []uint8 // N × C·H·W, channel-major per image
	Labels  []int
	Classes []string
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// Size is the number of values in one image.
func (d *Dataset) Size() int { return d.Shape[0] * d.Shape[1] * d.Shape[2] }

// Image returns the pixels of example i.
func (d *Dataset) Image(i int) []uint8 { return d.Images[i*d.Size() : (i+1)*d.Size()] }

// Subset copies the examples at idx into a new dataset.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Shape: d.Shape, Classes: d.Classes, Images: make([]uint8, 0, len(idx)*d.Size()), Labels: make([]int, 0, len(idx))}
	for _, i := range idx {
		s.Images = append(s.Images, d.Image(i)...)
		s.Labels = append(s.Labels, d.Labels[i])
	}
	return s
}

// Split holds out a fraction of d, chosen by a seeded shuffle, and returns
// (kept, held out). The same seed always gives the same split. It reorders
// d in place and returns two views of it, so a large set is not copied.
func (d *Dataset) Split(frac float64, seed uint64) (*Dataset, *Dataset) {
	n := d.Len()
	k := int(float64(n)*frac + 0.5)
	if frac <= 0 || k == 0 {
		return d, nil
	}
	perm := rand.New(rand.NewPCG(seed, 0x5eed5eed)).Perm(n)
	d.permute(perm)
	size := d.Size()
	held := &Dataset{Shape: d.Shape, Classes: d.Classes, Images: d.Images[: k*size : k*size], Labels: d.Labels[:k:k]}
	kept := &Dataset{Shape: d.Shape, Classes: d.Classes, Images: d.Images[k*size:], Labels: d.Labels[k:]}
	return kept, held
}

// permute reorders d so that new example i is old example perm[i],
// following the permutation's cycles with one image of scratch.
func (d *Dataset) permute(perm []int) {
	size := d.Size()
	tmp := make([]uint8, size)
	done := make([]bool, len(perm))
	for start := range perm {
		if done[start] {
			continue
		}
		copy(tmp, d.Image(start))
		label := d.Labels[start]
		i := start
		for {
			done[i] = true
			next := perm[i]
			if next == start {
				copy(d.Image(i), tmp)
				d.Labels[i] = label
				break
			}
			copy(d.Image(i), d.Image(next))
			d.Labels[i] = d.Labels[next]
			i = next
		}
	}
}

// Head returns the first n examples (all if n ≤ 0 or n ≥ Len).
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n >= d.Len() {
		return d
	}
	return &Dataset{Shape: d.Shape, Classes: d.Classes, Images: d.Images[:n*d.Size()], Labels: d.Labels[:n]}
}

// Check verifies labels are in range and sizes agree.
func (d *Dataset) Check() error {
	if len(d.Images) != d.Len()*d.Size() {
		return fmt.Errorf("dataset has %d pixels for %d images of %v", len(d.Images), d.Len(), d.Shape)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return fmt.Errorf("example %d: label %d is not one of the %d classes", i, l, len(d.Classes))
		}
	}
	return nil
}

// Norm maps a pixel p in [0,255] of channel c to (p/255 − Mean[c])/Std[c].
type Norm struct {
	Mean, Std []float64
}

// table precomputes the 256 float32 values of each channel.
func (n Norm) table(channels int) [][256]float32 {
	t := make([][256]float32, channels)
	for c := range channels {
		m, s := n.Mean[min(c, len(n.Mean)-1)], n.Std[min(c, len(n.Std)-1)]
		for p := range 256 {
			t[c][p] = float32((float64(p)/255 - m) / s)
		}
	}
	return t
}

// Batcher fills float32 batches from a dataset without allocating.
type Batcher struct {
	d     *Dataset
	table [][256]float32
}

func NewBatcher(d *Dataset, n Norm) *Batcher {
	return &Batcher{d: d, table: n.table(d.Shape[0])}
}

// Fill writes the examples idx into x (len(idx)·C·H·W values) and their
// labels into y (as float32 class indices; y may be nil). Rows of x past
// len(idx) are left as they are.
func (b *Batcher) Fill(x, y []float32, idx []int) { b.FillWith(nil, x, y, idx) }

// FillWith is Fill with the examples shared out by parallelFor (such as
// parallel.Range: n items of about cost operations each, fn on disjoint
// ranges); nil fills them on the calling goroutine.
func (b *Batcher) FillWith(parallelFor func(n, cost int, fn func(lo, hi int)), x, y []float32, idx []int) {
	size := b.d.Size()
	if parallelFor == nil {
		b.fill(x, y, idx)
		return
	}
	parallelFor(len(idx), 4*size, func(lo, hi int) {
		var yr []float32
		if y != nil {
			yr = y[lo:hi]
		}
		b.fill(x[lo*size:hi*size], yr, idx[lo:hi])
	})
}

func (b *Batcher) fill(x, y []float32, idx []int) {
	size := b.d.Size()
	plane := b.d.Shape[1] * b.d.Shape[2]
	for r, i := range idx {
		img := b.d.Image(i)
		dst := x[r*size : (r+1)*size]
		for c := range b.d.Shape[0] {
			t := &b.table[c]
			for j, p := range img[c*plane : (c+1)*plane] {
				dst[c*plane+j] = t[p]
			}
		}
		if y != nil {
			y[r] = float32(b.d.Labels[i])
		}
	}
}
