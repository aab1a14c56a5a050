// Package checkpoint saves and restores everything a run needs to continue
// or to be used: the config, class names, weights, batch-norm statistics,
// optimizer state, epoch and random-number state. The file is in the
// safetensors layout (an 8-byte little-endian header length, a JSON header
// of tensor names, dtypes, shapes and byte ranges plus a string map of
// metadata, then raw little-endian data) with PyTorch state_dict names, so
// other tools can read the weights directly.
package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
)

// Tensor is one named array: float32 (F32) or int64 (I64) data.
type Tensor struct {
	Shape []int
	F32   []float32
	I64   []int64
}

func (t Tensor) dtype() string {
	if t.I64 != nil {
		return "I64"
	}
	return "F32"
}

func (t Tensor) numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Safetensors is the content of a safetensors file.
type Safetensors struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
}

type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// maxHeader bounds the JSON header a reader accepts (the format's own limit).
const maxHeader = 100 << 20

// Write encodes s; tensors are laid out in name order.
func (s *Safetensors) Write(w *bufio.Writer) error {
	names := make([]string, 0, len(s.Tensors))
	for n := range s.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(s.Metadata) > 0 {
		header["__metadata__"] = s.Metadata
	}
	off := 0
	for _, n := range names {
		t := s.Tensors[n]
		if (t.F32 != nil && len(t.F32) != t.numel()) || (t.I64 != nil && len(t.I64) != t.numel()) {
			return fmt.Errorf("tensor %s: %d values for shape %v", n, max(len(t.F32), len(t.I64)), t.Shape)
		}
		size := t.numel() * 4
		if t.I64 != nil {
			size = t.numel() * 8
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = headerEntry{DType: t.dtype(), Shape: shape, DataOffsets: [2]int{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // keep the data 8-byte aligned
		hb = append(hb, ' ')
	}
	if err := binary.Write(w, binary.LittleEndian, uint64(len(hb))); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	var buf [8]byte
	for _, n := range names {
		t := s.Tensors[n]
		for _, v := range t.F32 {
			binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(v))
			if _, err := w.Write(buf[:4]); err != nil {
				return err
			}
		}
		for _, v := range t.I64 {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			if _, err := w.Write(buf[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadSafetensors reads and validates a safetensors file; every error says
// what is wrong with which file.
func ReadSafetensors(path string) (*Safetensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSafetensors decodes a safetensors file held in memory.
func ParseSafetensors(b []byte) (*Safetensors, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("not a safetensors file (%d bytes, too short for a header)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n < 2 || n > maxHeader {
		return nil, fmt.Errorf("not a safetensors file (its first 8 bytes are not a header length)")
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("truncated: the header alone needs %d bytes, the file has %d", n+8, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("not a safetensors file (header is not JSON: %v)", err)
	}
	data := b[8+n:]
	s := &Safetensors{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
	type span struct{ lo, hi int }
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &s.Metadata); err != nil {
				return nil, fmt.Errorf("bad metadata: %v", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %s: bad header entry: %v", name, err)
		}
		t := Tensor{Shape: e.Shape}
		size := 4
		switch e.DType {
		case "F32":
		case "I64":
			size = 8
		default:
			return nil, fmt.Errorf("tensor %s: dtype %s is not supported (F32, I64)", name, e.DType)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > len(data) {
			return nil, fmt.Errorf("tensor %s: data [%d,%d) lies outside the %d data bytes (truncated file?)", name, lo, hi, len(data))
		}
		// The element count is multiplied out with a bound, so that a
		// hostile shape ([2^62], say) cannot wrap around to a small size.
		numel := 1
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %s: negative dimension in %v", name, e.Shape)
			}
			if d > 0 && numel > (hi-lo)/size/d {
				return nil, fmt.Errorf("tensor %s: shape %v needs more than the %d bytes the header gives it", name, e.Shape, hi-lo)
			}
			numel *= d
		}
		if numel*size != hi-lo {
			return nil, fmt.Errorf("tensor %s: shape %v needs %d bytes, header gives %d", name, e.Shape, numel*size, hi-lo)
		}
		spans = append(spans, span{lo, hi})
		p := data[lo:hi]
		if size == 4 {
			t.F32 = make([]float32, t.numel())
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
			}
		} else {
			t.I64 = make([]int64, t.numel())
			for i := range t.I64 {
				t.I64[i] = int64(binary.LittleEndian.Uint64(p[8*i:]))
			}
		}
		s.Tensors[name] = t
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	end := 0
	for _, sp := range spans {
		if sp.lo != end {
			return nil, fmt.Errorf("tensor data overlaps or leaves a gap at byte %d", end)
		}
		end = sp.hi
	}
	if end != len(data) {
		return nil, fmt.Errorf("%d bytes after the last tensor", len(data)-end)
	}
	return s, nil
}
