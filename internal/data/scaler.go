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
// use). Sizes past maxScalers are not kept.
func CatmullRom(dw, dh, sw, sh int) draw.Scaler {
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

// maxScalers bounds the sizes kept (a recipe that crops to the ink meets
// a few hundred; photos of every size would otherwise grow the map).
const maxScalers = 4096

var (
	scalers     sync.Map // [4]int → draw.Scaler
	keptScalers atomic.Int64
)
