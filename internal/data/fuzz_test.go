package data

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/png"
	"math"
	"runtime"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"

	"github.com/cnnctl/cnnctl/internal/config"
)

// FuzzParseIDX: any bytes (plain or gzip) give an idx array whose size
// matches its dimensions, or an error; never a panic.
func FuzzParseIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3})
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte{0, 0, 8, 1, 0, 0, 0, 2, 7, 9})
	w.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, data, err := parseIDX(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("dims %v but %d values", dims, len(data))
		}
	})
}

// FuzzDecodeImage: any bytes decode to an image within the pixel limit or
// give an error naming the file.
func FuzzDecodeImage(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Pix[5] = 200
	var buf bytes.Buffer
	png.Encode(&buf, img)
	f.Add(buf.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("GIF89a"))
	f.Add([]byte("BM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(bytes.NewReader(b), "f.img")
		_ = img
		if err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("f.img")) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if r := img.Bounds(); r.Dx()*r.Dy() > MaxImagePixels || r.Empty() {
			t.Fatalf("decoded %v", r)
		}
	})
}

// A header that claims far more data than follows costs memory for the
// data that is there, not for the claim (defect 8 of the hardening issue).
func TestIDXClaimIsNotAllocated(t *testing.T) {
	b := []byte{0, 0, 8, 2, 0, 0x0f, 0x42, 0x40, 0, 0, 3, 0x10, 1, 2, 3} // 1,000,000 × 784 bytes claimed, 3 given
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := parseIDX(bytes.NewReader(b), int64(len(b)))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "promises 784000000 bytes of data, found 3") {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("allocated %d bytes for 3 bytes of data", got)
	}
}

// FuzzParseCSV: any text gives recordings whose values are finite and a
// whole number of samples per channel, each labelled with a known class,
// or an error naming the file; never a panic.
func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("label,s0,s1,s2,s3\na,1,2,3,4\nb,5,6,7,8\n"), uint8(1))
	f.Add([]byte("1,2,x\n3,4,y\n"), uint8(2))
	f.Add([]byte("label,a\n\"q,1\n"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, channels uint8) {
		c := int(channels%4) + 1
		fm := SignalFormat{Signals: config.Signals{LabelColumn: "label", Header: "auto", Channels: c}, Shape: [2]int{c, 2}}
		lab := &labeller{}
		recs, err := ParseCSV("f.csv", b, fm, -1, lab)
		if err != nil {
			if !strings.Contains(err.Error(), "f.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range recs {
			if r.Len*c != len(r.Values) || r.Label < 0 || r.Label >= len(lab.names) {
				t.Fatalf("recording %+v of %d channels, %d classes", r, c, len(lab.names))
			}
			for _, v := range r.Values {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s holds %v", r.Source, v)
				}
			}
		}
	})
}

// FuzzParseNPY: any bytes give recordings of finite values whose sizes
// match the declared shape, or an error naming the file; never a panic
// and never an allocation the body does not back.
func FuzzParseNPY(f *testing.F) {
	for _, v := range []any{[]float32{1, 2, 3, 4}, []int16{1, 2}, []float64{0.5}, []uint8{7, 8, 9}} {
		var buf bytes.Buffer
		npyio.Write(&buf, v)
		f.Add(buf.Bytes())
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999,), }"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fm := SignalFormat{Signals: config.Signals{Channels: 1}, Shape: [2]int{1, 2}}
		recs, err := ParseNPY("f.npy", b, fm, nil, 0, &labeller{names: []string{"a"}, fixed: true})
		if err != nil {
			if !strings.Contains(err.Error(), "f.npy") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		total := 0
		for _, r := range recs {
			total += len(r.Values)
			if r.Len != len(r.Values) {
				t.Fatalf("recording of %d values, length %d", len(r.Values), r.Len)
			}
		}
		if total > len(b) { // at least one byte of body a value
			t.Fatalf("%d values from %d bytes", total, len(b))
		}
	})
}
