package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	// klauspost's inflate is about twice the standard library's: the 47 MB
	// of MNIST's training images were most of a short run's start.
	"github.com/klauspost/compress/gzip"
)

// MNIST file names (each may also be present without ".gz").
const (
	TrainImages = "train-images-idx3-ubyte.gz"
	TrainLabels = "train-labels-idx1-ubyte.gz"
	TestImages  = "t10k-images-idx3-ubyte.gz"
	TestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// MNISTFiles lists the four files with their published SHA-256 digests.
var MNISTFiles = []struct{ Name, SHA256 string }{
	{TrainImages, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
	{TrainLabels, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
	{TestImages, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
	{TestLabels, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
}

// DigitClasses are MNIST's class names.
var DigitClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// maxIDXBytes bounds what a header may claim, so a corrupt header cannot
// make the reader allocate gigabytes.
const maxIDXBytes = 1 << 30

// ReadIDX reads an idx file (gzip-compressed or raw): the magic number
// 0x0000 08 NN (unsigned bytes, NN dimensions), big-endian dimensions, then
// the data. It returns the dimensions and data; errors name the file.
func ReadIDX(path string) ([]int, []uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	dims, data, err := parseIDX(f, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// ReadIDXHeader reads only an idx file's dimensions (through its gzip
// stream, if any): what it promises, checked before the data is inflated.
func ReadIDXHeader(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br, gz, err := idxStream(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if gz != nil {
		defer gz.Close()
	}
	dims, _, err := idxHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, nil
}

// idxStream opens the bytes of an idx file, inflating them when they are
// gzip-compressed (gz is then the decompressor).
func idxStream(r io.Reader) (*bufio.Reader, *gzip.Reader, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("a damaged gzip file (%v): download it again", err)
		}
		return bufio.NewReader(gz), gz, nil
	}
	return br, nil, nil
}

// parseIDX reads an idx file of size bytes (0 if unknown) from r.
func parseIDX(r io.Reader, size int64) ([]int, []uint8, error) {
	br, gz, err := idxStream(r)
	if err != nil {
		return nil, nil, err
	}
	if gz != nil {
		defer gz.Close()
	}
	dims, total, err := idxHeader(br)
	if err != nil {
		return nil, nil, err
	}
	// Read what is there (one byte more, to see trailing data), growing the
	// buffer as bytes arrive: memory follows the data, not what a header
	// claims (a few bytes can claim a gigabyte).
	data, err := readUpTo(br, total, size)
	switch {
	case err != nil && gz != nil && errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("the gzip stream ends early, after %d of the %d bytes of data header %v promises (a truncated download?)", len(data), total, dims)
	case err != nil && gz != nil:
		return nil, nil, fmt.Errorf("a damaged gzip file (%v after %d bytes of data): download it again", err, len(data))
	case err != nil:
		return nil, nil, fmt.Errorf("reading the data after header %v: %w", dims, err)
	}
	if len(data) < total {
		return nil, nil, fmt.Errorf("truncated: header %v promises %d bytes of data, found %d", dims, total, len(data))
	}
	if len(data) > total {
		return nil, nil, fmt.Errorf("trailing data after the %d bytes that header %v promises", total, dims)
	}
	return dims, data, nil
}

// readUpTo reads what r holds up to total+1 bytes (one more shows trailing
// data). The buffer starts at the promised size where the file is large
// enough to hold it at a plausible compression (MNIST's images inflate
// 5×): no regrowing copies of 47 MB. Otherwise it grows as bytes arrive,
// so a header claiming a gigabyte costs only what is there.
func readUpTo(r io.Reader, total int, size int64) ([]byte, error) {
	start := int64(total)
	if size > 0 {
		start = min(start, 16*size)
	} else {
		start = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, start+1))
	_, err := buf.ReadFrom(io.LimitReader(r, int64(total)+1))
	return buf.Bytes(), err
}

// idxHeader reads the magic number and dimensions, returning the number of
// data bytes they promise.
func idxHeader(br *bufio.Reader) ([]int, int, error) {
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, 0, fmt.Errorf("too short for an idx header: %w", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, 0, fmt.Errorf("not an idx file (magic %x)", magic)
	}
	if magic[2] != 0x08 {
		return nil, 0, fmt.Errorf("idx element type 0x%02x is not unsigned bytes (0x08)", magic[2])
	}
	nd := int(magic[3])
	if nd < 1 || nd > 4 {
		return nil, 0, fmt.Errorf("idx file has %d dimensions; expected 1 to 4", nd)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, 0, fmt.Errorf("truncated idx header: %w", noEOF(err))
		}
		dims[i] = int(d)
		total *= dims[i] // a 0 dimension means no data (and is then refused by the caller)
		if total > maxIDXBytes {
			return nil, 0, fmt.Errorf("idx header claims %v values, more than this reader accepts", dims)
		}
	}
	return dims, total, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// findMNIST returns the path of an MNIST file in dir, compressed or not.
func findMNIST(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, strings.TrimSuffix(name, ".gz"))} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: MNIST file %s not found (run: cnnctl data mnist --dir %s)", dir, name, dir)
}

// LoadMNISTPair reads an images file and a labels file and checks that they
// agree: 28×28 images, as many labels as images, labels 0–9.
func LoadMNISTPair(imagesPath, labelsPath string) (*Dataset, error) {
	// The two headers first: a mismatch is found before anything is inflated.
	dims, err := ReadIDXHeader(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 || dims[1] != 28 || dims[2] != 28 {
		return nil, fmt.Errorf("%s: expected N×28×28 images, header says %v", imagesPath, dims)
	}
	ldims, err := ReadIDXHeader(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 {
		return nil, fmt.Errorf("%s: expected a 1-D label file, header says %v", labelsPath, ldims)
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("%s: %d labels for %d images in %s", labelsPath, ldims[0], dims[0], imagesPath)
	}
	_, labels, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	_, pix, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Shape: [3]int{1, 28, 28}, Images: pix, Labels: make([]int, len(labels)), Classes: DigitClasses}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d of example %d is not a digit 0–9", labelsPath, l, i)
		}
		d.Labels[i] = int(l)
	}
	return d, nil
}

// LoadMNIST reads the training and test sets from dir.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	var paths [4]string
	for i, f := range MNISTFiles {
		if paths[i], err = findMNIST(dir, f.Name); err != nil {
			return nil, nil, err
		}
	}
	// The test set inflates on another core meanwhile.
	var testErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		test, testErr = LoadMNISTPair(paths[2], paths[3])
	}()
	train, err = LoadMNISTPair(paths[0], paths[1])
	<-done
	if err != nil {
		return nil, nil, err
	}
	if testErr != nil {
		return nil, nil, testErr
	}
	return train, test, nil
}

// WriteIDX writes an idx file of unsigned bytes (gzip-compressed when the
// name ends in .gz); tests use it to make small MNIST-format sets.
func WriteIDX(path string, dims []int, data []uint8) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		gz = gzip.NewWriter(f)
		w = gz
	}
	hdr := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	_, err = w.Write(append(hdr, data...))
	if gz != nil {
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
