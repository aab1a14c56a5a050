// Package data loads and makes the examples a network trains on: MNIST idx
// files (and fetching them), the seeded X-vs-O generator, folders of images,
// and the batching that turns uint8 pixels into normalised float32 batches.
// Examples stay as uint8 in memory (a quarter of float32's footprint) and are
// scaled per batch.
package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
)

// Dataset is a labelled set of examples of one shape: images as uint8
// pixels, or signals as float32 samples (Values; Shape is then C, 1, L).
type Dataset struct {
	Shape   [3]int  // C, H, W
	Images  []uint8 // N × C·H·W, channel-major per image
	Values  []float32
	Labels  []int
	Classes []string
	// Groups, where set, is each example's recording (windows of one
	// recording share it): splits keep a group on one side.
	Groups []int
	// Sources names where each group came from ("file.csv row 3"), for
	// messages and predictions; nil for images.
	Sources []string
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// Size is the number of values in one example.
func (d *Dataset) Size() int { return d.Shape[0] * d.Shape[1] * d.Shape[2] }

// IsSignals says whether the examples are float signals.
func (d *Dataset) IsSignals() bool { return d.Values != nil }

// Image returns the pixels of example i.
func (d *Dataset) Image(i int) []uint8 { return d.Images[i*d.Size() : (i+1)*d.Size()] }

// Signal returns the samples of example i, channel-major.
func (d *Dataset) Signal(i int) []float32 { return d.Values[i*d.Size() : (i+1)*d.Size()] }

// like is an empty dataset of d's shape, kind and classes.
func (d *Dataset) like(n int) *Dataset {
	s := &Dataset{Shape: d.Shape, Classes: d.Classes, Sources: d.Sources, Labels: make([]int, 0, n)}
	if d.IsSignals() {
		s.Values = make([]float32, 0, n*d.Size())
	} else {
		s.Images = make([]uint8, 0, n*d.Size())
	}
	if d.Groups != nil {
		s.Groups = make([]int, 0, n)
	}
	return s
}

// Subset copies the examples at idx into a new dataset.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := d.like(len(idx))
	for _, i := range idx {
		if d.IsSignals() {
			s.Values = append(s.Values, d.Signal(i)...)
		} else {
			s.Images = append(s.Images, d.Image(i)...)
		}
		s.Labels = append(s.Labels, d.Labels[i])
		if d.Groups != nil {
			s.Groups = append(s.Groups, d.Groups[i])
		}
	}
	return s
}

// Split holds out a fraction of d, chosen by a seeded shuffle, and returns
// (kept, held out). The same seed always gives the same split. It reorders
// d in place and returns two views of it, so a large set is not copied.
// Where d has groups, whole groups are held out (about frac of the
// examples), so windows of one recording never fall on both sides.
func (d *Dataset) Split(frac float64, seed uint64) (*Dataset, *Dataset) {
	n := d.Len()
	k := int(float64(n)*frac + 0.5)
	if frac <= 0 || k == 0 {
		return d, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed5eed))
	var perm []int
	if d.Groups == nil {
		perm = rng.Perm(n)
	} else {
		perm, k = groupPerm(d.Groups, frac, rng)
		if k == 0 || k == n {
			return d, nil
		}
	}
	d.permute(perm)
	return d.slice(k, n), d.slice(0, k)
}

// groupPerm orders the examples group by group, the groups shuffled, and
// returns how many examples the first groups up to frac of them hold.
func groupPerm(groups []int, frac float64, rng *rand.Rand) ([]int, int) {
	members := map[int][]int{}
	var ids []int
	for i, g := range groups {
		if _, ok := members[g]; !ok {
			ids = append(ids, g)
		}
		members[g] = append(members[g], i)
	}
	rng.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
	want := int(float64(len(ids))*frac + 0.5)
	perm := make([]int, 0, len(groups))
	k := 0
	for j, g := range ids {
		perm = append(perm, members[g]...)
		if j < want {
			k = len(perm)
		}
	}
	return perm, k
}

// slice is a view of examples [lo, hi).
func (d *Dataset) slice(lo, hi int) *Dataset {
	size := d.Size()
	s := &Dataset{Shape: d.Shape, Classes: d.Classes, Sources: d.Sources, Labels: d.Labels[lo:hi:hi]}
	if d.IsSignals() {
		s.Values = d.Values[lo*size : hi*size : hi*size]
	} else {
		s.Images = d.Images[lo*size : hi*size : hi*size]
	}
	if d.Groups != nil {
		s.Groups = d.Groups[lo:hi:hi]
	}
	return s
}

// permute reorders d so that new example i is old example perm[i].
func (d *Dataset) permute(perm []int) {
	size := d.Size()
	if d.IsSignals() {
		permuteRows(d.Values, size, perm)
	} else {
		permuteRows(d.Images, size, perm)
	}
	permuteRows(d.Labels, 1, perm)
	if d.Groups != nil {
		permuteRows(d.Groups, 1, perm)
	}
}

// permuteRows reorders rows of size values so that new row i is old row
// perm[i], following the permutation's cycles with one row of scratch.
func permuteRows[T any](v []T, size int, perm []int) {
	tmp := make([]T, size)
	row := func(i int) []T { return v[i*size : (i+1)*size] }
	done := make([]bool, len(perm))
	for start := range perm {
		if done[start] {
			continue
		}
		copy(tmp, row(start))
		i := start
		for {
			done[i] = true
			next := perm[i]
			if next == start {
				copy(row(i), tmp)
				break
			}
			copy(row(i), row(next))
			i = next
		}
	}
}

// Head returns the first n examples (all if n ≤ 0 or n ≥ Len).
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n >= d.Len() {
		return d
	}
	return d.slice(0, n)
}

// Check verifies labels are in range and sizes agree.
func (d *Dataset) Check() error {
	if have := len(d.Images) + len(d.Values); have != d.Len()*d.Size() {
		return fmt.Errorf("dataset has %d values for %d examples of %v", have, d.Len(), d.Shape)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return fmt.Errorf("example %d: label %d is not one of the %d classes", i, l, len(d.Classes))
		}
	}
	return nil
}

// Norm maps a pixel p in [0,255] of channel c to (p/255 − Mean[c])/Std[c],
// and a signal's sample v to (v − Mean[c])/Std[c]. One value serves every
// channel; none is the identity.
type Norm struct {
	Mean, Std []float64
}

// of is channel c's mean and standard deviation.
func (n Norm) of(c int) (float64, float64) {
	m, s := 0.0, 1.0
	if len(n.Mean) > 0 {
		m = n.Mean[min(c, len(n.Mean)-1)]
	}
	if len(n.Std) > 0 {
		s = n.Std[min(c, len(n.Std)-1)]
	}
	return m, s
}

// table precomputes the 256 float32 values of each channel.
func (n Norm) table(channels int) [][256]float32 {
	t := make([][256]float32, channels)
	for c := range channels {
		m, s := n.of(c)
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
	scale []float32 // signals: v·scale[c] + shift[c]
	shift []float32
}

func NewBatcher(d *Dataset, n Norm) *Batcher {
	if d.IsSignals() {
		b := &Batcher{d: d}
		for c := range d.Shape[0] {
			m, s := n.of(c)
			b.scale, b.shift = append(b.scale, float32(1/s)), append(b.shift, float32(-m/s))
		}
		return b
	}
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
		dst := x[r*size : (r+1)*size]
		if b.d.IsSignals() {
			src := b.d.Signal(i)
			for c := range b.d.Shape[0] {
				vec.Affine(src[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane], b.scale[c], b.shift[c], false)
			}
			if y != nil {
				y[r] = float32(b.d.Labels[i])
			}
			continue
		}
		img := b.d.Image(i)
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

// ShapeOf is the dataset shape of a config's input: C, H, W, or C, 1, L
// for signals.
func ShapeOf(d config.Data) [3]int {
	if len(d.Shape) == 2 {
		return [3]int{d.Shape[0], 1, d.Shape[1]}
	}
	return [3]int{d.Shape[0], d.Shape[1], d.Shape[2]}
}

// Random is n seeded random examples of a config's input: uniform pixels,
// or for signals standard normal samples (as normalised ones look), with
// labels drawn from the classes.
func Random(d config.Data, n int, classes []string, rng *rand.Rand) *Dataset {
	s := ShapeOf(d)
	ds := &Dataset{Shape: s, Labels: make([]int, n), Classes: classes}
	if d.IsSignals() {
		ds.Values = make([]float32, n*ds.Size())
		for i := range ds.Values {
			ds.Values[i] = float32(rng.NormFloat64())
		}
	} else {
		ds.Images = make([]uint8, n*ds.Size())
		for i := range ds.Images {
			ds.Images[i] = uint8(rng.IntN(256))
		}
	}
	for i := range ds.Labels {
		ds.Labels[i] = rng.IntN(max(len(classes), 1))
	}
	return ds
}
