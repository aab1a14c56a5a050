package data

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/png"
	"runtime"
	"strings"
	"testing"
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
		dims, data, err := parseIDX(bytes.NewReader(b))
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
	_, _, err := parseIDX(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "promises 784000000 bytes of data, found 3") {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("allocated %d bytes for 3 bytes of data", got)
	}
}
