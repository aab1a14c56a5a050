package data

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"io"
	"sync"
)

// decodePNGFast decodes the PNGs most files are — 8-bit grey, RGB or RGBA,
// not interlaced, no transparency chunk — into what image/png returns for
// them (*image.Gray, *image.RGBA, *image.NRGBA), with a zlib reader and
// buffers kept between calls: image/png allocates a 32 KB window, a
// decompressor and readers for every image, which for a 28×28 digit is
// most of its 57 KB and much of its time (BenchmarkDecodePNG). Anything
// else, and anything wrong (a bad CRC, a short stream, chunks out of
// order), returns ok false, for image/png to decode or to report: the
// answer is image/png's either way, which TestDecodePNGFast checks.
func decodePNGFast(b []byte) (img image.Image, ok bool) {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(b) < len(sig) || string(b[:len(sig)]) != sig {
		return nil, false
	}
	b = b[len(sig):]
	var (
		w, h, bpp int
		idat      [][]byte
		seenIDAT  bool
	)
	for first := true; ; first = false {
		if len(b) < 12 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		if n > 1<<31-1 || uint64(n)+12 > uint64(len(b)) {
			return nil, false
		}
		typ, payload := string(b[4:8]), b[8:8+n]
		if crc32.ChecksumIEEE(b[4:8+n]) != binary.BigEndian.Uint32(b[8+n:]) {
			return nil, false
		}
		b = b[12+n:]
		if first != (typ == "IHDR") {
			return nil, false
		}
		if seenIDAT && typ != "IDAT" && typ != "IEND" {
			return nil, false // image/png's rules for what may follow IDAT are its own
		}
		switch typ {
		case "IHDR":
			if n != 13 {
				return nil, false
			}
			w, h = int(binary.BigEndian.Uint32(payload)), int(binary.BigEndian.Uint32(payload[4:]))
			depth, colour, method, filter, interlace := payload[8], payload[9], payload[10], payload[11], payload[12]
			if depth != 8 || method != 0 || filter != 0 || interlace != 0 || w <= 0 || h <= 0 ||
				w > fastPNGMaxPixels || h > fastPNGMaxPixels || w*h > fastPNGMaxPixels {
				return nil, false
			}
			switch colour {
			case 0:
				bpp = 1
			case 2:
				bpp = 3
			case 6:
				bpp = 4
			default:
				return nil, false // palette, grey with alpha
			}
		case "IDAT":
			seenIDAT = true
			idat = append(idat, payload)
		case "IEND":
			if !seenIDAT {
				return nil, false
			}
			return unfilterPNG(idat, w, h, bpp)
		case "tRNS", "PLTE":
			return nil, false // transparency changes the image type
		default:
			if typ[0]&0x20 == 0 {
				return nil, false // a critical chunk this path does not know
			}
			// An ancillary chunk (gAMA, tEXt, …): image/png ignores them too.
		}
	}
}

// fastPNGMaxPixels bounds the images the fast path takes: its savings are
// the per-image costs, and its pooled row buffers should stay small.
const fastPNGMaxPixels = 1 << 22

// pngState is what decodePNGFast keeps between calls.
type pngState struct {
	zr         io.ReadCloser // a zlib reader, reset for each image
	in         bytes.Reader
	cat        []byte // the IDAT chunks joined, when there are several
	prev, curr []byte // filtered rows, with their filter byte
}

var pngStates = sync.Pool{New: func() any { return new(pngState) }}

// unfilterPNG inflates the image data and undoes the rows' filters.
func unfilterPNG(idat [][]byte, w, h, bpp int) (image.Image, bool) {
	s := pngStates.Get().(*pngState)
	defer pngStates.Put(s)
	data := idat[0]
	if len(idat) > 1 {
		s.cat = s.cat[:0]
		for _, p := range idat {
			s.cat = append(s.cat, p...)
		}
		data = s.cat
	}
	s.in.Reset(data)
	if s.zr == nil {
		zr, err := zlib.NewReader(&s.in)
		if err != nil {
			return nil, false
		}
		s.zr = zr
	} else if err := s.zr.(zlib.Resetter).Reset(&s.in, nil); err != nil {
		return nil, false
	}
	stride := w * bpp
	if cap(s.prev) < stride+1 {
		s.prev, s.curr = make([]byte, stride+1), make([]byte, stride+1)
	}
	prev, curr := s.prev[:stride+1], s.curr[:stride+1]
	clear(prev)
	var pix []byte
	var img image.Image
	switch bpp {
	case 1:
		g := image.NewGray(image.Rect(0, 0, w, h))
		pix, img = g.Pix, g
	case 3:
		g := image.NewRGBA(image.Rect(0, 0, w, h))
		pix, img = g.Pix, g
	default:
		g := image.NewNRGBA(image.Rect(0, 0, w, h))
		pix, img = g.Pix, g
	}
	for y := range h {
		if _, err := io.ReadFull(s.zr, curr); err != nil {
			return nil, false
		}
		if !unfilterRow(curr[0], curr[1:], prev[1:], bpp) {
			return nil, false
		}
		row := curr[1:]
		switch bpp {
		case 3:
			out := pix[y*4*w : (y+1)*4*w]
			for x := range w {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 0xff
			}
		default:
			copy(pix[y*stride:(y+1)*stride], row)
		}
		prev, curr = curr, prev
	}
	// The stream must end here: its checksum is checked at its end, and
	// more pixel data than the image holds is an error to image/png.
	var one [1]byte
	if n, err := s.zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, false
	}
	return img, true
}

// unfilterRow undoes filter f on cdat, given the previous row pdat
// (zeros for the first), as the PNG specification defines the five
// filters.
func unfilterRow(f byte, cdat, pdat []byte, bpp int) bool {
	switch f {
	case 0:
	case 1: // Sub
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2: // Up
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3: // Average
		for i := range bpp {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4: // Paeth
		for i := range cdat {
			var a, c int
			if i >= bpp {
				a, c = int(cdat[i-bpp]), int(pdat[i-bpp])
			}
			cdat[i] += paeth(a, int(pdat[i]), c)
		}
	default:
		return false
	}
	return true
}

// paeth is the predictor of filter 4: whichever of left a, up b and
// up-left c is nearest a + b − c, in that order of preference.
func paeth(a, b, c int) uint8 {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return uint8(a)
	case pb <= pc:
		return uint8(b)
	}
	return uint8(c)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
