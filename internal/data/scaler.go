package data

import (
	"sync"
	"sync/atomic"

	"golang.org/x/image/draw"
)

// CatmullRom is draw.CatmullRom's scaler for these sizes. draw.CatmullRom.Scale
// builds its filter tables and a buffer on every call (for a 28×28 digit
// most of the resampling's time); a scaler made once for a size does the
// same arithmetic with both kept (its buffers pooled: safe for concurrent
// use). Only small sources are kept, and at most maxScalers sizes: a
// scaler's tables grow with its source (a photo shrunk to 28×28 has
// hundreds of taps a pixel), and a server meets sizes without end.
func CatmullRom(dw, dh, sw, sh int) draw.Scaler {
	if sw*sh > maxKeptSource || dw*dh > maxKeptSource {
		return draw.CatmullRom
	}
	k := [4]int{dw, dh, sw, sh}
	if s, ok := scalers.Load(k); ok {
		return s.(draw.Scaler)
	}
	s := draw.CatmullRom.NewScaler(dw, dh, sw, sh)
	if keptScalers.Add(1) <= maxScalers {
		scalers.Store(k, s)
	}
	return s
}

// maxScalers and maxKeptSource bound what is kept (a recipe that crops to
// the ink meets a few hundred sizes, each of at most its input's pixels):
// ~25 KB of tables a scaler at most.
const (
	maxScalers    = 1024
	maxKeptSource = 256 * 256
)

var (
	scalers     sync.Map // [4]int → draw.Scaler
	keptScalers atomic.Int64
)
