package serve

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
)

// job is one request's inputs (preprocessed pixels, or normalised floats)
// waiting for the batcher.
type job struct {
	pixels [][]uint8   // C×H×W bytes each, normalised by the model's recipe
	floats [][]float32 // already normalised inputs
	done   chan result
	queued time.Time
}

type result struct {
	logits [][]float32
	queue  time.Duration // waiting to be batched
	infer  time.Duration // the batch's forward pass
	batch  int
	err    error
}

// batcher gathers concurrent requests into one forward pass: it takes the
// first waiting job, then whatever arrives within maxWait, up to maxBatch
// inputs, and runs them on the smallest prepared graph that holds them (a
// lone request runs at batch 1: its latency is not traded for
// throughput).
type batcher struct {
	st       *checkpoint.State
	norm     data.Norm
	shape    [3]int
	maxBatch int
	maxWait  time.Duration
	jobs     chan *job
	runners  map[int]*eval.Runner // by batch size (batchSizes)
	sizes    []int
	observe  func(batch int) // metrics
	// others counts the requests being served besides this batch's: with
	// none, a lone request runs at once instead of waiting for company.
	others func() int64
}

func newBatcher(st *checkpoint.State, maxBatch int, maxWait time.Duration, observe func(int)) (*batcher, error) {
	s := st.Config.Data.Shape
	b := &batcher{st: st, norm: data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std},
		shape: [3]int{s[0], s[1], s[2]}, maxBatch: maxBatch, maxWait: maxWait, jobs: make(chan *job, 4*maxBatch),
		runners: map[int]*eval.Runner{}, observe: observe}
	for _, n := range batchSizes(maxBatch) {
		r, err := eval.NewRunner(st.Net, n)
		if err == nil {
			b.runners[n] = r
			err = r.Warm() // its buffers faulted in now, not by a request
		}
		if err != nil {
			b.close()
			return nil, err
		}
		b.sizes = append(b.sizes, n)
	}
	return b, nil
}

// batchSizes are the sizes of the graphs prepared for batches of up to max
// inputs: the powers of two and the sizes half-way between them (1, 2, 3, 4,
// 6, 8, 12, 16, 24, …, max): a batch runs on a graph at most half as large
// again (under load at concurrency 64, ~10 % more requests/s than with the
// powers of two alone), and the graphs take about as much memory as three
// and a half of size max (the powers of two: two).
func batchSizes(max int) []int {
	var sizes []int
	for p := 1; p < max; p *= 2 {
		sizes = append(sizes, p)
		if h := p + p/2; h > p && h < max {
			sizes = append(sizes, h)
		}
	}
	return append(sizes, max)
}

func (b *batcher) close() {
	for _, r := range b.runners {
		r.Close()
	}
}

// run serves jobs until ctx ends.
func (b *batcher) run(ctx context.Context) {
	var pending *job // a job that did not fit the last batch
	for {
		first := pending
		pending = nil
		if first == nil {
			select {
			case <-ctx.Done():
				return
			case first = <-b.jobs:
			}
		}
		batch := []*job{first}
		n := first.size()
		if len(b.jobs) == 0 && b.others != nil && b.others() <= 1 {
			b.infer(batch, n) // alone: batch-1 latency
			continue
		}
		deadline := time.NewTimer(b.maxWait)
	gather:
		// Wait for company while requests being served have not joined
		// (they are still being decoded): once every one has, run.
		for n < b.maxBatch && (b.others == nil || int64(len(batch)) < b.others()) {
			select {
			case j := <-b.jobs:
				if n+j.size() > b.maxBatch {
					pending = j
					break gather
				}
				batch = append(batch, j)
				n += j.size()
			case <-deadline.C:
				break gather
			}
		}
		deadline.Stop()
		b.infer(batch, n)
	}
}

func (j *job) size() int { return len(j.pixels) + len(j.floats) }

// infer runs a batch of n inputs and answers each job.
func (b *batcher) infer(batch []*job, n int) {
	start := time.Now()
	size := b.sizes[len(b.sizes)-1]
	for _, s := range b.sizes {
		if s >= n {
			size = s
			break
		}
	}
	r := b.runners[size]
	k := b.st.Net.Classes
	logits := make([]float32, 0, n*k)
	var err error
	// A job larger than the biggest graph (a request of many images) is
	// run in several passes of it.
	ds := &data.Dataset{Shape: b.shape}
	var floats [][]float32
	for _, j := range batch {
		for _, px := range j.pixels {
			ds.Images = append(ds.Images, px...)
			ds.Labels = append(ds.Labels, 0)
		}
		floats = append(floats, j.floats...)
	}
	if ds.Len() > 0 {
		var z []float32
		if z, err = r.Logits(ds, b.norm); err == nil {
			logits = append(logits, z...)
		}
	}
	if err == nil && len(floats) > 0 {
		var z []float32
		if z, err = r.LogitsOf(floats); err == nil {
			logits = append(logits, z...)
		}
	}
	took := time.Since(start)
	b.observe(n)
	// Pixel inputs come first in logits, then float ones, each in job order.
	pi, fi := 0, ds.Len()
	for _, j := range batch {
		res := result{queue: start.Sub(j.queued), infer: took, batch: n, err: err}
		if err == nil {
			for range j.pixels {
				res.logits = append(res.logits, slices.Clone(logits[pi*k:(pi+1)*k]))
				pi++
			}
			for range j.floats {
				res.logits = append(res.logits, slices.Clone(logits[fi*k:(fi+1)*k]))
				fi++
			}
		}
		j.done <- res
	}
}

// submit queues a job and waits for its logits (or ctx).
func (b *batcher) submit(ctx context.Context, j *job) (result, error) {
	j.done = make(chan result, 1)
	j.queued = time.Now()
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	select {
	case r := <-j.done:
		return r, r.err
	case <-ctx.Done():
		return result{}, fmt.Errorf("the request ended before its batch ran: %w", ctx.Err())
	}
}
