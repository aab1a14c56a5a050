package ops

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines the ops split their work into. It
// defaults to GOMAXPROCS; results depend on it only through the order of
// floating-point sums, and are reproducible for a fixed value.
var Workers = runtime.GOMAXPROCS(0)

// parallel splits [0,n) into at most Workers contiguous chunks and runs
// fn(worker, lo, hi) for each; the split depends only on n and Workers.
func parallel(n int, fn func(worker, lo, hi int)) { split(n, min(Workers, n), fn) }

// minWork is about how many float operations make waking another goroutine
// worth it (a few microseconds).
const minWork = 16 << 10

// parallelCost is parallel for n items of about cost operations each: small
// jobs (batch-1 inference) run on the calling goroutine. Only use it where
// the result does not depend on the split (no reductions across items).
func parallelCost(n, cost int, fn func(worker, lo, hi int)) {
	split(n, min(Workers, n, max(1, n*cost/minWork)), fn)
}

func split(n, w int, fn func(worker, lo, hi int)) {
	if w <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, lo, hi)
		}()
	}
	wg.Wait()
}

// numWorkers is how many chunks parallel(n, …) uses.
func numWorkers(n int) int { return max(1, min(Workers, n)) }

// parallelCols splits n matrix columns between the workers in multiples of
// the GEMM tile width, so no tile straddles two workers.
func parallelCols(n int, fn func(lo, hi int)) {
	nr := microKernel.nr
	tiles := (n + nr - 1) / nr
	parallel(tiles, func(_, lo, hi int) {
		fn(lo*nr, min(hi*nr, n))
	})
}
