package checkpoint

import (
	"os"
	"testing"
)

// FuzzParseSafetensors: any bytes give tensors whose sizes match their
// shapes and a checkpoint (or an error); never a panic or an allocation a
// header or an embedded config merely claims. Seeds: the release-1 fixture.
func FuzzParseSafetensors(f *testing.F) {
	if b, err := os.ReadFile(release1); err == nil {
		f.Add(b)
	}
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSafetensors(b)
		if err != nil {
			return
		}
		for name, ts := range s.Tensors {
			if len(ts.F32)+len(ts.I64) != ts.numel() {
				t.Fatalf("tensor %s: %d values for shape %v", name, len(ts.F32)+len(ts.I64), ts.Shape)
			}
		}
		// And the whole load: a mutated embedded config may describe a
		// network of any size, but it is built only up to the values the
		// file holds.
		st, err := fromSafetensors("fuzz.ckpt", s)
		if err == nil && st.Net == nil {
			t.Fatal("loaded without a network")
		}
	})
}
