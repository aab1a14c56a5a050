package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register decoders
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/machine"
	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// ImageExts are the file endings read as images.
var ImageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// IsImageFile reports whether a name has an image ending.
func IsImageFile(name string) bool {
	return slices.Contains(ImageExts, strings.ToLower(filepath.Ext(name)))
}

// MaxDatasetBytes bounds the bytes an image folder's dataset may take.
var MaxDatasetBytes = machine.Budget()

// MaxImagePixels and MaxImageBytes bound the declared size of an image we
// agree to decode, and the memory its pixels take decoded (checked from
// the header, before any pixel is allocated): a 0.5 MB PNG can declare
// 8000×8000 16-bit RGBA, half a gigabyte.
const (
	MaxImagePixels = 64 << 20
	MaxImageBytes  = 256 << 20
)

// decodedBytesPerPixel is what a decoder allocates per pixel for a colour
// model (the worst case of its layouts: YCbCr may be 4:4:4).
func decodedBytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // 16-bit RGBA, or a model we do not know: assume the widest
}

// DecodeFile decodes an image file of any supported format, refusing ones
// whose header declares more than MaxImagePixels pixels.
func DecodeFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() <= maxReadWhole {
		b, err := io.ReadAll(f)
		if err != nil {
			return nil, err
		}
		return DecodeBytes(b, path)
	}
	return Decode(f, path)
}

// maxReadWhole is the largest file DecodeFile reads into memory whole (to
// try the fast PNG path on); larger ones are streamed to the decoders.
const maxReadWhole = 16 << 20

// DecodeBytes is Decode on an image held in memory; the common PNGs take a
// faster path with the same result (decodePNGFast).
func DecodeBytes(b []byte, name string) (image.Image, error) {
	if img, ok := decodePNGFast(b); ok {
		return img, nil
	}
	return Decode(bytes.NewReader(b), name)
}

// Decode reads an image, checking the size its header declares before any
// pixel is allocated (a decompression bomb is refused cheaply). Errors
// start with name.
func Decode(r io.ReadSeeker, name string) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("%s: not an image in a supported format (%s)", name, strings.Join(ImageExts, " "))
		}
		return nil, fmt.Errorf("%s: not a readable image: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: image has no pixels (%d×%d)", name, cfg.Width, cfg.Height)
	}
	if cfg.Width*cfg.Height > MaxImagePixels {
		return nil, fmt.Errorf("%s: image declares %d×%d pixels, more than the %d allowed", name, cfg.Width, cfg.Height, MaxImagePixels)
	}
	if b := cfg.Width * cfg.Height * decodedBytesPerPixel(cfg.ColorModel); b > MaxImageBytes {
		return nil, fmt.Errorf("%s: a %d×%d image of %d bytes per pixel takes %d MB decoded, more than the %d MB allowed",
			name, cfg.Width, cfg.Height, decodedBytesPerPixel(cfg.ColorModel), b>>20, MaxImageBytes>>20)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bufio.NewReader(r))
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s: the image data ends early (%d×%d declared; a truncated file?)", name, cfg.Width, cfg.Height)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return img, nil
}

// Resize scales img to w×h with Catmull-Rom filtering (which, unlike
// approximate bilinear, does not alias when shrinking) and returns its
// pixels as C planes: C = 1 luminance and C = 3 red, green, blue, with
// alpha composited onto black; C = 2 luminance and alpha, C = 4 red, green,
// blue and alpha, the colours unpremultiplied (as the file stores them).
func Resize(img image.Image, c, h, w int) []uint8 {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	CatmullRom(w, h, img.Bounds().Dx(), img.Bounds().Dy()).Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	out := make([]uint8, c*h*w)
	plane := func(k int) []uint8 { return out[k*h*w : (k+1)*h*w] }
	for y := range h {
		for x := range w {
			i := y*w + x
			p := dst.RGBAAt(x, y) // premultiplied: alpha composited onto black
			switch c {
			case 1:
				plane(0)[i] = color.GrayModel.Convert(p).(color.Gray).Y
			case 3:
				plane(0)[i], plane(1)[i], plane(2)[i] = p.R, p.G, p.B
			case 2, 4:
				q := color.NRGBAModel.Convert(p).(color.NRGBA)
				if c == 2 {
					plane(0)[i] = color.GrayModel.Convert(color.RGBA{q.R, q.G, q.B, 255}).(color.Gray).Y
					plane(1)[i] = q.A
					continue
				}
				plane(0)[i], plane(1)[i], plane(2)[i], plane(3)[i] = q.R, q.G, q.B, q.A
			}
		}
	}
	return out
}

// ToImage is the inverse of Resize for viewing: C planes (1 to 4, as Resize
// lays them out) as an image.
func ToImage(px []uint8, c, h, w int) image.Image {
	if c == 1 {
		return &image.Gray{Pix: px[:h*w], Stride: w, Rect: image.Rect(0, 0, w, h)}
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for j := range h * w {
		v := img.Pix[4*j : 4*j+4]
		switch c {
		case 2:
			v[0], v[1], v[2], v[3] = px[j], px[j], px[j], px[h*w+j]
		case 3:
			v[0], v[1], v[2], v[3] = px[j], px[h*w+j], px[2*h*w+j], 255
		default:
			v[0], v[1], v[2], v[3] = px[j], px[h*w+j], px[2*h*w+j], px[3*h*w+j]
		}
	}
	return img
}

// LoadFolder reads a folder with one subfolder of images per class (the
// subfolder names, sorted, are the classes) and converts every image to
// shape C×H×W. Files that are not images by their ending are skipped; an
// image that fails to decode is an error naming the file.
func LoadFolder(dir string, shape [3]int) (*Dataset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Shape: shape}
	var files []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		n := 0
		for _, f := range sub {
			if !f.IsDir() && IsImageFile(f.Name()) {
				files = append(files, filepath.Join(dir, e.Name(), f.Name()))
				d.Labels = append(d.Labels, len(d.Classes))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: class folder has no images (%s)", filepath.Join(dir, e.Name()), strings.Join(ImageExts, " "))
		}
		d.Classes = append(d.Classes, e.Name())
	}
	if len(d.Classes) < 2 {
		return nil, fmt.Errorf("%s: found %d class folders; an image folder needs one subfolder per class, at least 2", dir, len(d.Classes))
	}
	// The images are held as bytes of the input shape: refuse, before
	// decoding any, a folder that would not fit (a 4096×4096 shape, say).
	if need, most := int64(len(files))*int64(d.Size()), MaxDatasetBytes; most > 0 && need > most {
		return nil, fmt.Errorf("%s: %d images of %d×%d×%d take %.2f GB as the network's input, more than the %.2f GB a dataset may take (80 %% of the machine's memory): use a smaller data.shape or fewer images",
			dir, len(files), shape[0], shape[1], shape[2], float64(need)/1e9, float64(most)/1e9)
	}
	d.Images = make([]uint8, len(files)*d.Size())
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				img, err := DecodeFile(files[i])
				if err != nil {
					errs[i] = err
					continue
				}
				copy(d.Image(i), Resize(img, shape[0], shape[1], shape[2]))
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// WriteFolder writes a dataset as PNG files in one subfolder per class, so
// a user can look at it and LoadFolder can read it back.
func WriteFolder(d *Dataset, dir string) error {
	for _, c := range d.Classes {
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			return err
		}
	}
	c, h, w := d.Shape[0], d.Shape[1], d.Shape[2]
	for i := range d.Len() {
		img := ToImage(d.Image(i), c, h, w)
		name := filepath.Join(dir, d.Classes[d.Labels[i]], fmt.Sprintf("%05d.png", i))
		if err := atomicfile.Write(name, func(bw *bufio.Writer) error { return png.Encode(bw, img) }); err != nil {
			return err
		}
	}
	return nil
}
