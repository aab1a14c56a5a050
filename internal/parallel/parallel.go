// Package parallel is the worker crew the compute kernels and ops share:
// work over [0, n) split into one contiguous chunk per core, run by helper
// goroutines that poll for the current job between calls (waking a parked
// goroutine costs tens of microseconds on a virtual machine) and by the
// caller, who covers any chunk a paused helper has not claimed. Chunk i
// always spans the same range, so results do not depend on who ran it.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Workers is the number of chunks the kernels and ops split their work into. It
// defaults to GOMAXPROCS; results depend on it only through the order of
// floating-point sums, and are reproducible for a fixed value.
var Workers = runtime.GOMAXPROCS(0)

// UseCores makes the ops use n cores: n workers, and the Go runtime limited
// to n threads, so that its own work (the garbage collector) shares them
// too. It returns a function that restores the previous setting.
func UseCores(n int) (restore func()) {
	workers, procs := Workers, runtime.GOMAXPROCS(n)
	Workers = n
	return func() { Workers = workers; runtime.GOMAXPROCS(procs) }
}

// For splits [0,n) into at most Workers contiguous chunks and runs
// fn(worker, lo, hi) for each; the split depends only on n and Workers.
func For(n int, fn func(worker, lo, hi int)) { split(n, min(Workers, n), fn) }

// minWork is about how many float operations make waking another goroutine
// worth it (a few microseconds).
const minWork = 16 << 10

// ForCost is For for n items of about cost operations each: small
// jobs (batch-1 inference) run on the calling goroutine. Only use it where
// the result does not depend on the split (no reductions across items).
func ForCost(n, cost int, fn func(worker, lo, hi int)) {
	split(n, min(Workers, n, max(1, n*cost/minWork)), fn)
}

func split(n, w int, fn func(worker, lo, hi int)) {
	if w <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	if runtime.GOMAXPROCS(0) == 1 {
		// One thread: run the chunks in turn (same split, same results), as
		// helpers could only take turns with us.
		for i := range w {
			fn(i, i*n/w, (i+1)*n/w)
		}
		return
	}
	if !crew.busy.CompareAndSwap(false, true) {
		// The crew is working for someone else (ops run concurrently on
		// several graphs): plain goroutines.
		var wg sync.WaitGroup
		for i := range w {
			wg.Go(func() { fn(i, i*n/w, (i+1)*n/w) })
		}
		wg.Wait()
		return
	}
	defer crew.busy.Store(false)
	crew.ensure(w - 1)
	// The chunks go to whoever is free first: the caller starts at once and
	// helpers join when they see the job, so one the operating system has
	// not scheduled yet (or has paused) is covered by the others instead of
	// stalling the op. Chunk i always spans the same range and is passed as
	// the worker index, so results do not depend on who ran it.
	j := &job{fn: fn, n: n, w: w}
	crew.current.Store(j)
	crew.wake()
	j.run()
	for spins := 1; j.done.Load() < int32(w); spins++ {
		if spins%1024 == 0 {
			runtime.Gosched()
		}
	}
}

// job is one parallel call: chunks are claimed in order through next.
type job struct {
	fn         func(worker, lo, hi int)
	n, w       int
	next, done atomic.Int32
}

// run claims and runs chunks until none are left.
func (j *job) run() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.w {
			return
		}
		j.fn(i, i*j.n/j.w, (i+1)*j.n/j.w)
		j.done.Add(1)
	}
}

// crew is a set of long-lived helper goroutines. Ops run back to back, and
// a helper that parks between them must be woken through the OS, which on a
// virtual machine costs tens of microseconds per op; a helper instead spins
// briefly, watching for the next job, before it parks.
var crew helpers

type helpers struct {
	busy    atomic.Bool
	current atomic.Pointer[job] // the latest job; helpers join it when new
	n       int                 // helpers started
	parked  atomic.Int32        // helpers blocked on wakeup
	wakeup  chan struct{}
}

// spinFor is how long an idle helper polls for work before it parks.
const spinFor = 200 * time.Microsecond

// ensure starts helpers until there are n (called with busy held).
func (c *helpers) ensure(n int) {
	if c.wakeup == nil {
		c.wakeup = make(chan struct{}, 64)
	}
	for ; c.n < n; c.n++ {
		go c.helper()
	}
}

// wake unparks the parked helpers.
func (c *helpers) wake() {
	for range c.parked.Load() {
		select {
		case c.wakeup <- struct{}{}:
		default:
		}
	}
}

func (c *helpers) helper() {
	var last *job
	start := time.Now()
	for i := 1; ; i++ {
		// Poll, and only now and then look at the clock and yield: a
		// spinning helper holds its thread, and where other goroutines want
		// it (a server's request handlers between forward passes) they
		// would wait for it to park (serve at concurrency 8: 1.2× the
		// requests/s with the yield).
		if j := c.current.Load(); j != last {
			last = j
			j.run() // a job already finished just has no chunks left
			start = time.Now()
			continue
		}
		if i%4096 != 0 {
			continue
		}
		runtime.Gosched()
		if time.Since(start) > spinFor {
			c.parked.Add(1)
			if c.current.Load() == last { // no job came while parking
				<-c.wakeup
			}
			c.parked.Add(-1)
			start = time.Now()
		}
	}
}

// numWorkers is how many chunks For(n, …) uses.
func NumWorkers(n int) int { return max(1, min(Workers, n)) }

// Range runs fn over [0,n) split among the workers, for work outside the
// ops (the optimizer's update, filling a batch) that should share the
// crew rather than start goroutines of its own. cost is about how many
// float operations each of the n items takes: small jobs run on the
// calling goroutine. fn must not depend on how [0,n) is split.
func Range(n, cost int, fn func(lo, hi int)) {
	ForCost(n, cost, func(_, lo, hi int) { fn(lo, hi) })
}
