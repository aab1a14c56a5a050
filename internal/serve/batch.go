package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
)

// job is one request's inputs (preprocessed pixels, or normalised floats)
// waiting for a batch.
type job struct {
	pixels [][]uint8   // C×H×W bytes each, normalised by the model's recipe
	floats [][]float32 // already normalised inputs
	done   chan result
	queued time.Time
}

func (j *job) size() int { return len(j.pixels) + len(j.floats) }

type result struct {
	logits [][]float32
	queue  time.Duration // waiting to be batched
	infer  time.Duration // the batch's forward pass
	batch  int
	err    error
}

// batcher gathers concurrent requests into forward passes: a batch takes
// the jobs waiting, then those of the requests still being read and
// decoded, for at most maxWait, up to maxBatch inputs, and runs on the
// smallest prepared graph that holds them (a lone request runs at batch 1:
// its latency is not traded for throughput).
//
// It has no goroutine of its own. The request that queues a job while no
// batch is being gathered or run becomes the leader: it runs batches, its
// own job among them, while the others wait for their answers. A lone
// request so goes from decoding to inference to its answer on one
// goroutine: a hand-off to a goroutine parked on the other core costs tens
// of µs on these virtual machines.
type batcher struct {
	st       *checkpoint.State
	norm     data.Norm
	shape    [3]int
	maxBatch int
	maxWait  time.Duration
	sizes    []int
	runners  map[int]*eval.Runner // by batch size (sizes)
	observe  func(batch int)      // metrics

	mu      sync.Mutex
	queue   []*job // waiting from head on
	head    int
	leading bool // a leader holds the graphs
	closed  bool
	coming  atomic.Int64  // requests being decoded that will queue a job
	arrived chan struct{} // a job was queued or a request gave up: wakes a gathering leader
	// beforeInfer, if set, is called with each batch's size before it
	// runs (tests hold a batch to let others queue).
	beforeInfer atomic.Pointer[func(n int)]
}

func newBatcher(st *checkpoint.State, maxBatch int, maxWait time.Duration, observe func(int)) (*batcher, error) {
	s := st.Config.Data.Shape
	b := &batcher{st: st, norm: data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std},
		shape: [3]int{s[0], s[1], s[2]}, maxBatch: maxBatch, maxWait: maxWait, sizes: batchSizes(maxBatch),
		runners: map[int]*eval.Runner{}, observe: observe, arrived: make(chan struct{}, 1)}
	for _, n := range b.sizes {
		r, err := eval.NewFixedRunner(st.Net, n)
		if err == nil {
			b.runners[n] = r
			err = r.Warm() // its buffers faulted in now, not by a request
		}
		if err != nil {
			b.close()
			return nil, err
		}
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

// close releases the graphs, now or, if a leader holds them, when it is
// done with them.
func (b *batcher) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if !b.leading {
		b.release()
	}
}

func (b *batcher) release() {
	for _, r := range b.runners {
		r.Close()
	}
	b.runners = nil
}

// ticket is a request that will queue a job once its inputs are decoded:
// a batch being gathered waits for it.
type ticket struct {
	b    *batcher
	used bool
}

// expect counts a request in as coming; the caller must submit or drop
// the ticket.
func (b *batcher) expect() *ticket {
	b.coming.Add(1)
	return &ticket{b: b}
}

// drop withdraws a request that will not queue a job (its input was bad);
// after submit it does nothing.
func (t *ticket) drop() {
	if !t.used {
		t.used = true
		t.b.coming.Add(-1)
		t.b.wake()
	}
}

func (b *batcher) wake() {
	select {
	case b.arrived <- struct{}{}:
	default:
	}
}

var errClosed = errors.New("the model is being unloaded")

// submit queues the ticket's job and waits for its logits (or ctx),
// running batches itself if no leader does.
func (t *ticket) submit(ctx context.Context, j *job) (result, error) {
	b := t.b
	j.done = make(chan result, 1)
	j.queued = time.Now()
	b.mu.Lock()
	if t.used || b.closed {
		b.mu.Unlock()
		t.drop()
		return result{}, errClosed
	}
	t.used = true
	b.coming.Add(-1) // under the lock that queues the job: a gathering leader sees it in one place or the other
	b.queue = append(b.queue, j)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if lead {
		b.lead(j)
	} else {
		b.wake()
	}
	select {
	case r := <-j.done:
		return r, r.err
	case <-ctx.Done():
		return result{}, fmt.Errorf("the request ended before its batch ran: %w", ctx.Err())
	}
}

// lead runs batches until own has its answer (own nil: until no job
// waits), then steps down if no job waits, or hands the lead to a new
// goroutine, so that this request is answered now.
func (b *batcher) lead(own *job) {
	for {
		if batch, n := b.gather(); len(batch) > 0 {
			b.infer(batch, n)
		}
		b.mu.Lock()
		if b.waiting() == 0 || b.closed {
			b.leading = false
			if b.closed {
				b.release()
			}
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if own != nil && len(own.done) > 0 {
			go b.lead(nil)
			return
		}
	}
}

// waiting is how many jobs are queued (b.mu held).
func (b *batcher) waiting() int { return len(b.queue) - b.head }

// take moves queued jobs into batch while they fit, the first always (b.mu
// held).
func (b *batcher) take(batch []*job, n int) ([]*job, int) {
	for b.head < len(b.queue) {
		j := b.queue[b.head]
		if len(batch) > 0 && n+j.size() > b.maxBatch {
			break
		}
		b.queue[b.head] = nil
		b.head++
		batch = append(batch, j)
		n += j.size()
	}
	if b.head == len(b.queue) {
		b.queue, b.head = b.queue[:0], 0
	}
	return batch, n
}

// gather takes the queued jobs, up to maxBatch inputs, and while there is
// room and requests are still being decoded, waits for them, at most
// maxWait.
func (b *batcher) gather() (batch []*job, n int) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		batch, n = b.take(batch, n)
		done := len(batch) == 0 || n >= b.maxBatch || b.waiting() > 0 || b.coming.Load() <= 0
		b.mu.Unlock()
		if done {
			return batch, n
		}
		if timer == nil {
			timer = time.NewTimer(b.maxWait)
		}
		select {
		case <-b.arrived:
		case <-timer.C:
			b.mu.Lock()
			batch, n = b.take(batch, n)
			b.mu.Unlock()
			return batch, n
		}
	}
}

// infer runs a batch of n inputs and answers each job.
func (b *batcher) infer(batch []*job, n int) {
	if f := b.beforeInfer.Load(); f != nil {
		(*f)(n)
	}
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
