package data

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
)

// pngCorpus encodes images the fast path takes — grey, opaque RGB and RGBA
// with alpha, noise and gradients (so the encoder picks every filter), at
// every compression level, one large enough for several IDAT chunks.
func pngCorpus(t testing.TB) [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	var out [][]byte
	for _, size := range [][2]int{{1, 1}, {3, 5}, {28, 28}, {37, 19}, {64, 64}, {300, 200}} {
		w, h := size[0], size[1]
		for kind := range 3 {
			for _, smooth := range []bool{false, true} {
				v := func(x, y, c int) uint8 {
					if smooth {
						return uint8(x*7 + y*3 + c*50 + rng.IntN(3))
					}
					return uint8(rng.IntN(256))
				}
				var img image.Image
				switch kind {
				case 0:
					g := image.NewGray(image.Rect(0, 0, w, h))
					for y := range h {
						for x := range w {
							g.SetGray(x, y, color.Gray{v(x, y, 0)})
						}
					}
					img = g
				case 1:
					g := image.NewRGBA(image.Rect(0, 0, w, h))
					for y := range h {
						for x := range w {
							g.SetRGBA(x, y, color.RGBA{v(x, y, 0), v(x, y, 1), v(x, y, 2), 255})
						}
					}
					img = g
				default:
					g := image.NewNRGBA(image.Rect(0, 0, w, h))
					for y := range h {
						for x := range w {
							g.SetNRGBA(x, y, color.NRGBA{v(x, y, 0), v(x, y, 1), v(x, y, 2), v(x, y, 3) | 1})
						}
					}
					img = g
				}
				for _, level := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression, png.BestSpeed, png.BestCompression} {
					var buf bytes.Buffer
					if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, img); err != nil {
						t.Fatal(err)
					}
					out = append(out, buf.Bytes())
				}
			}
		}
	}
	return out
}

// chunks lists a PNG's chunk types and the image data's filter bytes.
func chunks(t testing.TB, b []byte) (types []string, filters map[byte]bool) {
	types, filters, _ = chunksRaw(t, b)
	return types, filters
}

// chunksRaw is chunks with the inflated image data.
func chunksRaw(t testing.TB, b []byte) (types []string, filters map[byte]bool, raw []byte) {
	b = b[8:]
	var idat []byte
	var w, bpp int
	for len(b) >= 12 {
		n := binary.BigEndian.Uint32(b)
		typ := string(b[4:8])
		types = append(types, typ)
		switch typ {
		case "IHDR":
			w, bpp = int(binary.BigEndian.Uint32(b[8:])), map[byte]int{0: 1, 2: 3, 6: 4}[b[17]]
		case "IDAT":
			idat = append(idat, b[8:8+n]...)
		}
		b = b[12+n:]
	}
	zr, err := zlib.NewReader(bytes.NewReader(idat))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(zr)
	filters = map[byte]bool{}
	for i := 0; i < len(raw); i += w*bpp + 1 {
		filters[raw[i]] = true
	}
	return types, filters, raw
}

func deflate(raw []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

// withIDAT is PNG b with its image data replaced by one IDAT chunk of z
// (every CRC right).
func withIDAT(b, z []byte) []byte {
	out := bytes.Clone(b[:8+25]) // the signature and IHDR
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(z)))
	chunk = append(append(chunk, "IDAT"...), z...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out = append(out, chunk...)
	return append(out, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82)
}

// TestDecodePNGFast: the fast path decodes every image of the corpus to
// exactly what image/png does (type, bounds, pixels), the corpus using
// all five filters and several IDAT chunks.
func TestDecodePNGFast(t *testing.T) {
	filters, multi := map[byte]bool{}, false
	for i, b := range pngCorpus(t) {
		types, fs := chunks(t, b)
		for f := range fs {
			filters[f] = true
		}
		idats := 0
		for _, typ := range types {
			if typ == "IDAT" {
				idats++
			}
		}
		multi = multi || idats > 1
		want, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodePNGFast(b)
		if !ok {
			t.Fatalf("image %d (%T %v): not taken by the fast path", i, want, want.Bounds())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("image %d (%T %v): the fast path decodes it differently", i, want, want.Bounds())
		}
	}
	for f := range byte(5) {
		if !filters[f] {
			t.Errorf("no image of the corpus uses filter %d", f)
		}
	}
	if !multi {
		t.Error("no image of the corpus has several IDAT chunks")
	}
}

// TestDecodePNGFastDefers: what the fast path does not take — other
// layouts, and every damaged file — it leaves to image/png, so
// DecodeBytes answers as Decode does, error for error.
func TestDecodePNGFastDefers(t *testing.T) {
	var others [][]byte
	for _, img := range []image.Image{
		image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White}),
		image.NewGray16(image.Rect(0, 0, 4, 4)),
		image.NewNRGBA64(image.Rect(0, 0, 4, 4)),
	} {
		var buf bytes.Buffer
		png.Encode(&buf, img)
		others = append(others, buf.Bytes())
	}
	for i, b := range others {
		if _, ok := decodePNGFast(b); ok {
			t.Errorf("other layout %d taken by the fast path", i)
		}
	}
	good := pngCorpus(t)[24] // 3×5 grey noise (24 images a size)
	rng := rand.New(rand.NewPCG(7, 8))
	var damaged [][]byte
	for range 300 {
		b := bytes.Clone(good)
		b[8+rng.IntN(len(b)-8)] ^= byte(1 + rng.IntN(255))
		damaged = append(damaged, b)
	}
	for n := 8; n < len(good); n += 3 {
		damaged = append(damaged, good[:n])
	}
	// Damage the chunks' CRCs do not catch: a wrong zlib checksum, pixel
	// data past the image's end, a row short, an unknown filter.
	_, _, raw := chunksRaw(t, good)
	z := deflate(raw)
	z[len(z)-1] ^= 1
	bad := raw[:len(raw)-1]
	filter := bytes.Clone(raw)
	filter[0] = 5
	damaged = append(damaged, withIDAT(good, z), withIDAT(good, deflate(append(bytes.Clone(raw), 0, 1, 2, 3))),
		withIDAT(good, deflate(bad)), withIDAT(good, deflate(filter)))
	for i, b := range append(others, damaged...) {
		img, err := DecodeBytes(b, "f.png")
		want, wantErr := Decode(bytes.NewReader(b), "f.png")
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) || !reflect.DeepEqual(img, want) {
			t.Fatalf("file %d: DecodeBytes %v, %v; Decode %v, %v", i, img != nil, err, want != nil, wantErr)
		}
	}
}

// FuzzDecodePNGFast: whatever the fast path decodes, image/png decodes to
// the same image.
func FuzzDecodePNGFast(f *testing.F) {
	for _, b := range pngCorpus(f)[:40] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodePNGFast(b)
		if !ok {
			return
		}
		want, err := png.Decode(bytes.NewReader(b))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("the fast path decodes what image/png does not, or differently: %v", err)
		}
	})
}

// BenchmarkDecodePNG is a 28×28 grey digit through each path.
func BenchmarkDecodePNG(b *testing.B) {
	img := pngCorpus(b)[2*24+4] // 28×28 grey gradient
	b.Run("image-png", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Decode(bytes.NewReader(img), "d.png")
		}
	})
	b.Run("DecodeBytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			DecodeBytes(img, "d.png")
		}
	})
}
