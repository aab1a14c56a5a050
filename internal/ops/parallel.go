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
func parallel(n int, fn func(worker, lo, hi int)) {
	w := min(Workers, n)
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
	tiles := (n + nr - 1) / nr
	parallel(tiles, func(_, lo, hi int) {
		fn(lo*nr, min(hi*nr, n))
	})
}
