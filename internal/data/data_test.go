package data

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// writeMNIST writes a tiny MNIST-format set of n images into dir.
func writeMNIST(t *testing.T, dir, imagesName, labelsName string, n int) ([]uint8, []uint8) {
	t.Helper()
	pix := make([]uint8, n*28*28)
	labels := make([]uint8, n)
	for i := range n {
		labels[i] = uint8(i % 10)
		for j := range 28 * 28 {
			pix[i*784+j] = uint8((i*7 + j) % 256)
		}
	}
	if err := WriteIDX(filepath.Join(dir, imagesName), []int{n, 28, 28}, pix); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDX(filepath.Join(dir, labelsName), []int{n}, labels); err != nil {
		t.Fatal(err)
	}
	return pix, labels
}

func TestReadIDXGzipAndRaw(t *testing.T) {
	dir := t.TempDir()
	pix, labels := writeMNIST(t, dir, "a-images.gz", "a-labels", 12)
	d, err := LoadMNISTPair(filepath.Join(dir, "a-images.gz"), filepath.Join(dir, "a-labels"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 12 || !bytes.Equal(d.Images, pix) || d.Labels[11] != int(labels[11]) {
		t.Errorf("read back %d images, labels %v", d.Len(), d.Labels)
	}
}

func TestReadIDXCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := func() []byte {
		var b bytes.Buffer
		b.Write([]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28})
		b.Write(make([]byte, 2*784))
		return b.Bytes()
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short for an idx header"},
		{"bad magic", append([]byte{1, 2, 8, 3}, good()[4:]...), "not an idx file"},
		{"float type", append([]byte{0, 0, 0x0d, 3}, good()[4:]...), "element type 0x0d is not unsigned bytes"},
		{"truncated data", good()[:100], "truncated: header [2 28 28] promises 1568 bytes of data, found 84"},
		{"truncated header", good()[:9], "truncated idx header"},
		{"trailing", append(good(), 1), "trailing data"},
		{"huge header", []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28}, "more than this reader accepts"},
		{"bad gzip", []byte{0x1f, 0x8b, 1, 2, 3}, "a damaged gzip file"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadIDX(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want %q and the file name", c.name, err, c.want)
		}
	}
}

func TestLoadMNISTMismatches(t *testing.T) {
	dir := t.TempDir()
	writeMNIST(t, dir, "i.gz", "l.gz", 5)
	if err := WriteIDX(filepath.Join(dir, "l4.gz"), []int{4}, []uint8{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDX(filepath.Join(dir, "lbad.gz"), []int{5}, []uint8{1, 2, 3, 4, 10}); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDX(filepath.Join(dir, "small.gz"), []int{5, 14, 14}, make([]uint8, 5*196)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ images, labels, want string }{
		{"i.gz", "l4.gz", "4 labels for 5 images"},
		{"i.gz", "lbad.gz", "label 10 of example 4 is not a digit"},
		{"small.gz", "l.gz", "expected N×28×28 images, header says [5 14 14]"},
		{"i.gz", "i.gz", "expected a 1-D label file"},
	} {
		_, err := LoadMNISTPair(filepath.Join(dir, c.images), filepath.Join(dir, c.labels))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s + %s: error %v, want %q", c.images, c.labels, err, c.want)
		}
	}
	if _, _, err := LoadMNIST(t.TempDir()); err == nil || !strings.Contains(err.Error(), "cnnctl data mnist") {
		t.Errorf("missing files: %v", err)
	}
}

// moduleZip builds a Go module zip holding the given files under data/.
func moduleZip(t *testing.T, prefix string, files map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, content := range files {
		w, err := zw.Create(prefix + "/data/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
	}
	zw.Close()
	return b.Bytes()
}

func TestFetchFromProxyAndMirror(t *testing.T) {
	a, b := []byte("first file"), []byte("second file")
	const mod, ver = "example.com/Data", "v1.0.0"
	zipBytes := moduleZip(t, mod+"@"+ver, map[string][]byte{"a.gz": a})
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.Path)
		switch r.URL.Path {
		case "/proxy/example.com/!data/@v/v1.0.0.zip":
			w.Write(zipBytes)
		case "/mirror/b.gz":
			w.Write(b)
		case "/bad/b.gz":
			w.Write([]byte("tampered"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := &Fetcher{
		Files:  []FileSum{{"a.gz", sha256Hex(a)}, {"b.gz", sha256Hex(b)}},
		Module: mod, Version: ver, ModDir: "data",
		Mirrors: []string{srv.URL + "/bad/", srv.URL + "/mirror/"},
		GoProxy: "off," + srv.URL + "/proxy",
	}
	dir := t.TempDir()
	if err := f.Fetch(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"a.gz": a, "b.gz": b} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	// A second fetch finds everything in place and asks no server.
	hits = nil
	if err := f.Fetch(context.Background(), dir); err != nil || len(hits) != 0 {
		t.Errorf("refetch: %v, requests %v", err, hits)
	}
	// A file no source serves with the right digest is an error naming it.
	f.Files = append(f.Files, FileSum{"c.gz", sha256Hex([]byte("c"))})
	err := f.Fetch(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "could not obtain c.gz") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.gz")); err == nil {
		t.Error("unverified file written")
	}
}

func TestGenerateXO(t *testing.T) {
	a := GenerateXO(20, 28, 28, 5)
	b := GenerateXO(20, 28, 28, 5)
	c := GenerateXO(20, 28, 28, 6)
	if !bytes.Equal(a.Images, b.Images) {
		t.Error("same seed, different images")
	}
	if bytes.Equal(a.Images, c.Images) {
		t.Error("different seeds, same images")
	}
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	// Ink is bright on a dark ground: the centre region holds more ink on
	// average than the corners.
	var centre, corner float64
	for i := range a.Len() {
		img := a.Image(i)
		centre += float64(img[14*28+14]) + float64(img[10*28+10]) + float64(img[17*28+17])
		corner += float64(img[0]) + float64(img[27]) + float64(img[27*28])
	}
	if centre <= corner {
		t.Errorf("centre %v ≤ corner %v", centre, corner)
	}
	big := GenerateXO(2, 64, 48, 1)
	if big.Shape != [3]int{1, 64, 48} || len(big.Images) != 2*64*48 {
		t.Errorf("shape %v", big.Shape)
	}
}

func TestFolderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := GenerateXO(10, 28, 28, 3)
	if err := WriteFolder(d, dir); err != nil {
		t.Fatal(err)
	}
	// Extra files of other kinds are ignored; a JPEG of another size is resized.
	os.WriteFile(filepath.Join(dir, "x", "notes.txt"), []byte("hi"), 0o644)
	big := image.NewRGBA(image.Rect(0, 0, 56, 40))
	for i := range big.Pix {
		big.Pix[i] = 200
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, big, nil)
	os.WriteFile(filepath.Join(dir, "o", "zz-big.jpg"), jb.Bytes(), 0o644)

	back, err := LoadFolder(dir, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 11 || strings.Join(back.Classes, ",") != "o,x" {
		t.Fatalf("%d images, classes %v", back.Len(), back.Classes)
	}
	// The PNGs come back exactly (same size: resampling is the identity).
	// Class o holds d's even examples, then the JPEG; class x the odd ones.
	for i := range 5 {
		if !bytes.Equal(back.Image(i), d.Image(2*i)) || !bytes.Equal(back.Image(6+i), d.Image(2*i+1)) {
			t.Fatalf("image %d differs after a PNG round trip", i)
		}
	}
	last := back.Image(5) // the JPEG, after the o PNGs
	if last[0] < 190 || last[0] > 210 {
		t.Errorf("resized JPEG pixel %d, want ≈200", last[0])
	}
	rgb, err := LoadFolder(dir, [3]int{3, 14, 14})
	if err != nil || rgb.Size() != 3*14*14 {
		t.Fatalf("RGB load: %v", err)
	}
}

func TestFolderErrors(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	if _, err := LoadFolder(dir, [3]int{1, 8, 8}); err == nil || !strings.Contains(err.Error(), "class folder has no images") {
		t.Errorf("empty class: %v", err)
	}
	var pb bytes.Buffer
	png.Encode(&pb, image.NewGray(image.Rect(0, 0, 3, 3)))
	os.WriteFile(filepath.Join(dir, "a", "1.png"), pb.Bytes(), 0o644)
	if _, err := LoadFolder(dir, [3]int{1, 8, 8}); err == nil || !strings.Contains(err.Error(), "found 1 class folders") {
		t.Errorf("one class: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	bad := filepath.Join(dir, "b", "broken.png")
	os.WriteFile(bad, pb.Bytes()[:20], 0o644)
	if _, err := LoadFolder(dir, [3]int{1, 8, 8}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken image: %v", err)
	}
}

func TestDecodeRefusesHugeDeclaredSize(t *testing.T) {
	// A PNG header declaring 100000×100000 pixels, with no pixel data.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := b.Bytes()
	// IHDR's type and data are bytes 12..28 (width and height at 16..23),
	// its CRC at 29..32.
	copy(raw[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	p := filepath.Join(t.TempDir(), "bomb.png")
	os.WriteFile(p, raw, 0o644)
	if _, err := DecodeFile(p); err == nil || !strings.Contains(err.Error(), "100000×100000") {
		t.Errorf("bomb: %v", err)
	}
}

func TestBatcherNormalises(t *testing.T) {
	d := &Dataset{Shape: [3]int{2, 1, 2}, Images: []uint8{0, 255, 51, 102, 255, 0, 0, 0}, Labels: []int{1, 0}, Classes: []string{"a", "b"}}
	b := NewBatcher(d, Norm{Mean: []float64{0.5, 0}, Std: []float64{0.5, 0.2}})
	x := make([]float32, 8)
	y := make([]float32, 2)
	b.Fill(x, y, []int{1, 0})
	want := []float32{1, -1, 0, 0, -1, 1, 1, 2}
	for i := range want {
		if diff := x[i] - want[i]; diff > 1e-6 || diff < -1e-6 {
			t.Fatalf("x = %v, want %v", x, want)
		}
	}
	if y[0] != 0 || y[1] != 1 {
		t.Errorf("labels %v", y)
	}
	// Shared out one example per call, the batch comes out the same.
	calls := 0
	each := func(n, _ int, fn func(lo, hi int)) {
		for i := range n {
			fn(i, i+1)
			calls++
		}
	}
	x2, y2 := make([]float32, 8), make([]float32, 2)
	b.FillWith(each, x2, y2, []int{1, 0})
	if calls != 2 || !slices.Equal(x2, x) || !slices.Equal(y2, y) {
		t.Errorf("FillWith: x %v y %v in %d calls, want %v %v", x2, y2, calls, x, y)
	}
}

func TestSplitIsSeededAndDisjoint(t *testing.T) {
	tagged := func() *Dataset {
		d := GenerateXO(100, 8, 8, 1)
		for i := range d.Labels {
			d.Images[i*64] = uint8(i) // tag each image
			d.Labels[i] = i % 2
		}
		return d
	}
	a, b := tagged().Split(0.2, 9)
	a2, b2 := tagged().Split(0.2, 9)
	if a.Len() != 80 || b.Len() != 20 || !bytes.Equal(b.Images, b2.Images) || !bytes.Equal(a.Images, a2.Images) {
		t.Fatal("split not reproducible or wrong size")
	}
	seen := map[uint8]bool{}
	for _, s := range []*Dataset{a, b} {
		for i := range s.Len() {
			tag := s.Image(i)[0]
			if seen[tag] {
				t.Fatalf("example %d in both parts", tag)
			}
			seen[tag] = true
			if s.Labels[i] != int(tag)%2 {
				t.Fatalf("example %d lost its label", tag)
			}
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d examples after the split", len(seen))
	}
	if _, c := tagged().Split(0.2, 10); bytes.Equal(c.Images, b.Images) {
		t.Error("another seed gave the same split")
	}
}

// Images keep 2 or 4 channels when the config asks: grey and alpha, or
// RGBA, unpremultiplied; ToImage writes them back (defect 13 of the
// hardening issue).
func TestChannelsWithAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(src.Pix, []uint8{200, 100, 50, 128, 10, 20, 30, 255})
	rgba := Resize(src, 4, 1, 2)
	want := []uint8{200, 10, 100, 20, 50, 30, 128, 255}
	for i := range want {
		if d := int(rgba[i]) - int(want[i]); d < -2 || d > 2 { // premultiplying and back rounds
			t.Fatalf("RGBA planes %v, want %v", rgba, want)
		}
	}
	ga := Resize(src, 2, 1, 2)
	if ga[2] != 128 || ga[3] != 255 || ga[0] < 110 || ga[0] > 130 {
		t.Errorf("grey+alpha planes %v", ga)
	}
	back := ToImage(rgba, 4, 1, 2).(*image.NRGBA)
	if back.Pix[3] != rgba[6] || back.Pix[0] != rgba[0] {
		t.Errorf("ToImage: %v from %v", back.Pix, rgba)
	}
	// A folder of 4-channel images trains as C = 4 (the alpha is the signal).
	dir := t.TempDir()
	d := &Dataset{Shape: [3]int{4, 6, 6}, Classes: []string{"clear", "opaque"}}
	for i := range 8 {
		px := make([]uint8, 4*36)
		for j := range 36 {
			px[j], px[36+j], px[72+j] = 90, 90, 90
			px[108+j] = uint8(40 + 200*(i%2))
		}
		d.Images = append(d.Images, px...)
		d.Labels = append(d.Labels, i%2)
	}
	if err := WriteFolder(d, dir); err != nil {
		t.Fatal(err)
	}
	back4, err := LoadFolder(dir, [3]int{4, 6, 6})
	if err != nil {
		t.Fatal(err)
	}
	for i := range back4.Len() {
		if a := back4.Image(i)[108]; (back4.Labels[i] == 1) != (a > 200) {
			t.Errorf("image %d (class %d): alpha %d", i, back4.Labels[i], a)
		}
	}
}

// TestLabelCountCheckedBeforeInflating: images that inflate to 63 MB with
// a label file of 2 labels are refused on the headers alone — allocating
// a few MB, not the 63 — and a gzip file cut short or damaged says so.
func TestLabelCountCheckedBeforeInflating(t *testing.T) {
	dir := t.TempDir()
	const n = 80_000 // 80,000 × 784 bytes ≈ 63 MB inflated, ~60 KB compressed
	if err := WriteIDX(filepath.Join(dir, "i.gz"), []int{n, 28, 28}, make([]uint8, n*784)); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDX(filepath.Join(dir, "l.gz"), []int{2}, []uint8{1, 2}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := LoadMNISTPair(filepath.Join(dir, "i.gz"), filepath.Join(dir, "l.gz"))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "2 labels for 80000 images") {
		t.Fatalf("error %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("refusing the pair allocated %d MB", grew>>20)
	}

	raw, _ := os.ReadFile(filepath.Join(dir, "i.gz"))
	cut := filepath.Join(dir, "cut.gz")
	os.WriteFile(cut, raw[:len(raw)/2], 0o644)
	if _, _, err := ReadIDX(cut); err == nil || !strings.Contains(err.Error(), "the gzip stream ends early, after ") || !strings.Contains(err.Error(), "(a truncated download?)") {
		t.Errorf("truncated gzip: %v", err)
	}
	bad := slices.Clone(raw)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0xa5
	}
	damaged := filepath.Join(dir, "damaged.gz")
	os.WriteFile(damaged, bad, 0o644)
	if _, _, err := ReadIDX(damaged); err == nil || !strings.Contains(err.Error(), "a damaged gzip file (") || !strings.Contains(err.Error(), "download it again") {
		t.Errorf("damaged gzip: %v", err)
	}
}

// TestFolderTooLargeForMemory: a folder whose images, as bytes of the input
// shape, exceed the dataset bound is refused before any is decoded.
func TestFolderTooLargeForMemory(t *testing.T) {
	dir := t.TempDir()
	var pb bytes.Buffer
	png.Encode(&pb, image.NewGray(image.Rect(0, 0, 3, 3)))
	for _, c := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, c), 0o755)
		for i := range 3 {
			os.WriteFile(filepath.Join(dir, c, fmt.Sprint(i, ".png")), pb.Bytes(), 0o644)
		}
	}
	defer func(v int64) { MaxDatasetBytes = v }(MaxDatasetBytes)
	MaxDatasetBytes = 6*3*4096*4096 - 1
	_, err := LoadFolder(dir, [3]int{3, 4096, 4096})
	if err == nil || !strings.Contains(err.Error(), dir+": 6 images of 3×4096×4096 take 0.30 GB as the network's input, more than the 0.30 GB a dataset may take") {
		t.Fatalf("error %v", err)
	}
	if _, err := LoadFolder(dir, [3]int{1, 8, 8}); err != nil {
		t.Fatalf("a small shape: %v", err)
	}
}
