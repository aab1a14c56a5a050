package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSplitCoversStalledHelper checks that parallel runs every chunk exactly
// once, with the same ranges, also when the helpers are held up: the caller
// then runs their chunks itself rather than wait.
func TestSplitCoversStalledHelper(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 || Workers < 2 {
		t.Skip("needs two workers")
	}
	check := func(t *testing.T) {
		var mu sync.Mutex
		seen := map[int][2]int{}
		For(10, func(wk, lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[wk]; dup {
				t.Errorf("chunk %d ran twice", wk)
			}
			seen[wk] = [2]int{lo, hi}
		})
		w := NumWorkers(10)
		if len(seen) != w {
			t.Fatalf("%d chunks ran, want %d", len(seen), w)
		}
		for i := range w {
			if got, want := seen[i], [2]int{i * 10 / w, (i + 1) * 10 / w}; got != want {
				t.Errorf("chunk %d spans %v, want %v", i, got, want)
			}
		}
	}
	t.Run("helpers free", check)

	// Hold every helper inside a job of its own, as if the operating system
	// had paused them.
	For(2, func(int, int, int) {}) // makes sure the crew exists
	release := make(chan struct{})
	var held atomic.Int32
	blocker := &job{fn: func(int, int, int) { held.Add(1); <-release }, n: Workers - 1, w: Workers - 1}
	crew.current.Store(blocker)
	crew.wake()
	for held.Load() < int32(Workers-1) {
		runtime.Gosched()
	}
	start := time.Now()
	t.Run("helper stalled", check)
	close(release)
	if d := time.Since(start); d > time.Second {
		t.Errorf("parallel waited %v for a stalled helper", d)
	}
}
