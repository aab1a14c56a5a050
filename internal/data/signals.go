package data

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"

	"github.com/cnnctl/cnnctl/internal/config"
)

// Recording is one signal as read from a file: C channels of Len samples,
// channel-major, with its class and where it came from.
type Recording struct {
	Values []float32
	Len    int // samples a channel
	Label  int // −1 where the file has no label (predict)
	Source string
}

// SignalFormat is how recordings are read and cut into examples: the
// signals fields of a config's data section.
type SignalFormat struct {
	config.Signals
	Shape [2]int // C, L of one example
}

// SignalFormatOf is the format a data section describes.
func SignalFormatOf(d config.Data) SignalFormat {
	f := SignalFormat{Signals: d.Signals}
	if len(d.Shape) == 2 {
		f.Shape = [2]int{d.Shape[0], d.Shape[1]}
	}
	return f
}

// Span is how many samples of each recording channel one example takes.
func (f SignalFormat) Span() int { return f.SamplesPerExample(f.Shape[:]) }

// LoadSignals reads the recordings at path (a CSV or .npy file, a folder of
// CSV files, or a folder of class folders) and cuts them into examples.
// classes, if given, fixes the class names and their order (a test folder
// must have the training folder's).
func LoadSignals(path string, f SignalFormat, classes []string) (*Dataset, error) {
	recs, names, err := ReadRecordings(path, f, classes)
	if err != nil {
		return nil, err
	}
	return f.Examples(recs, names)
}

// Examples cuts recordings into a dataset: each recording whole (cropped or
// padded to data.length if set), or its windows; an example's group is its
// recording.
func (f SignalFormat) Examples(recs []Recording, classes []string) (*Dataset, error) {
	C, W := max(f.Channels, 1), f.Span()
	// The windows are counted first: the examples are allocated once (a
	// growing slice would copy them over and over).
	starts := make([][]int, len(recs))
	total := 0
	for g := range recs {
		recs[g] = f.fitLength(recs[g])
		var err error
		if starts[g], err = f.starts(recs[g], recs[0]); err != nil {
			return nil, err
		}
		total += len(starts[g])
	}
	if need := int64(total) * int64(C*W) * 4; MaxDatasetBytes > 0 && need > MaxDatasetBytes {
		return nil, fmt.Errorf("%s and the rest: %d windows take %.2f GB, more than the %.2f GB a dataset may take: use a larger data.hop or fewer recordings",
			recs[0].Source, total, float64(need)/1e9, float64(MaxDatasetBytes)/1e9)
	}
	d := &Dataset{Shape: [3]int{f.Shape[0], 1, f.Shape[1]}, Classes: classes, Values: make([]float32, 0, total*C*W),
		Labels: make([]int, 0, total), Groups: make([]int, 0, total)}
	for g, r := range recs {
		d.Values = f.appendWindows(d.Values, r, starts[g])
		for range starts[g] {
			d.Labels = append(d.Labels, r.Label)
			d.Groups = append(d.Groups, g)
		}
		d.Sources = append(d.Sources, r.Source)
	}
	if d.Len() == 0 {
		return nil, errors.New("no recordings")
	}
	return d, d.Check()
}

// Windows cuts one recording into examples, as training does (cropped or
// padded to data.length first): their samples, one after another, and the
// sample each starts at.
func (f SignalFormat) Windows(r Recording) ([]float32, []int, error) {
	r = f.fitLength(r)
	starts, err := f.starts(r, r)
	if err != nil {
		return nil, nil, err
	}
	return f.appendWindows(make([]float32, 0, len(starts)*max(f.Channels, 1)*f.Span()), r, starts), starts, nil
}

// appendWindows appends the examples starting at starts: each the
// window of every recording channel, channel after channel.
func (f SignalFormat) appendWindows(v []float32, r Recording, starts []int) []float32 {
	C, W := max(f.Channels, 1), f.Span()
	for _, t := range starts {
		for c := range C {
			v = append(v, r.Values[c*r.Len+t:c*r.Len+t+W]...)
		}
	}
	return v
}

// fitLength crops (from the start) or zero-pads a recording to data.length.
func (f SignalFormat) fitLength(r Recording) Recording {
	L := f.Length
	if L == 0 || L == r.Len {
		return r
	}
	C := max(f.Channels, 1)
	v := make([]float32, C*L)
	for c := range C {
		copy(v[c*L:(c+1)*L], r.Values[c*r.Len:c*r.Len+min(L, r.Len)])
	}
	r.Values, r.Len = v, L
	return r
}

// starts are the first samples of a recording's examples: its windows, or
// the recording whole, which must then be one example long (first is the
// first recording, to name in the message).
func (f SignalFormat) starts(r, first Recording) ([]int, error) {
	W := f.Span()
	if f.Window == 0 {
		switch {
		case r.Len == W:
			return []int{0}, nil
		case r.Len != first.Len:
			return nil, fmt.Errorf("%s has %d samples a channel, %s has %d: recordings differ in length (set data.length to crop or pad them, or data.window to cut windows)",
				r.Source, r.Len, first.Source, first.Len)
		default:
			return nil, fmt.Errorf("%s has %d samples a channel, but data.shape %v takes %d (set data.window to cut windows, or data.length to crop or pad)",
				r.Source, r.Len, f.Shape, W)
		}
	}
	if r.Len < W {
		return nil, fmt.Errorf("%s has %d samples a channel, fewer than data.window %d", r.Source, r.Len, W)
	}
	var s []int
	for t := 0; t+W <= r.Len; t += f.Hop {
		s = append(s, t)
	}
	return s, nil
}

// ReadRecordings reads every recording at path and returns them with the
// class names (classes, if given, else from classes.txt beside the data,
// else the labels found, sorted).
func ReadRecordings(path string, f SignalFormat, classes []string) ([]Recording, []string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data.dir: %w", err)
	}
	if classes == nil {
		classes = classesBeside(path)
	}
	lab := &labeller{fixed: classes != nil, names: slices.Clone(classes)}
	var recs []Recording
	if !st.IsDir() {
		recs, err = readSignalFile(path, f, lab, -1)
	} else {
		recs, err = readSignalFolder(path, f, lab)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s: no recordings", path)
	}
	recs = lab.finish(recs)
	count := make([]int, len(lab.names))
	for _, r := range recs {
		count[r.Label]++
	}
	for k, n := range count {
		if n == 0 {
			return nil, nil, fmt.Errorf("%s: class %q has no recordings", path, lab.names[k])
		}
	}
	return recs, lab.names, nil
}

// readSignalFolder reads a folder of class folders (the label is the
// folder's name) or, without any, a folder of labelled CSV files.
func readSignalFolder(dir string, f SignalFormat, lab *labeller) ([]Recording, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var subdirs, files []string
	for _, e := range entries {
		switch {
		case e.IsDir() && !strings.HasPrefix(e.Name(), "."):
			subdirs = append(subdirs, e.Name())
		case isSignalFile(e.Name()):
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	var recs []Recording
	if len(subdirs) == 0 {
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .csv or .npy files and no class folders", dir)
		}
		for _, p := range files {
			rs, err := readSignalFile(p, f, lab, -1)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rs...)
		}
		return recs, nil
	}
	for _, class := range subdirs {
		k, err := lab.index(class, filepath.Join(dir, class))
		if err != nil {
			return nil, err
		}
		es, err := os.ReadDir(filepath.Join(dir, class))
		if err != nil {
			return nil, err
		}
		n := len(recs)
		for _, e := range es {
			if !e.IsDir() && isSignalFile(e.Name()) {
				rs, err := readSignalFile(filepath.Join(dir, class, e.Name()), f, lab, k)
				if err != nil {
					return nil, err
				}
				recs = append(recs, rs...)
			}
		}
		if len(recs) == n {
			return nil, fmt.Errorf("%s: class folder %s holds no recordings (.csv or .npy files)", dir, class)
		}
	}
	return recs, nil
}

func isSignalFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".csv" || ext == ".npy"
}

// readSignalFile reads one file; label ≥ 0 is its class folder's class.
func readSignalFile(path string, f SignalFormat, lab *labeller, label int) ([]Recording, error) {
	b, err := ReadBounded(path)
	if err != nil {
		return nil, err
	}
	var labels []int64
	if f.Labels != "" && label < 0 && isNPY(path, b) {
		if labels, err = readNPYLabels(f.Labels); err != nil {
			return nil, err
		}
	}
	return ParseRecordings(path, b, f, labels, label, lab)
}

// ReadBounded reads a data file whole, refusing one larger than a dataset
// may take before reading it.
func ReadBounded(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if most := MaxDatasetBytes; most > 0 && st.Size() > most {
		return nil, fmt.Errorf("%s: %.2f GB, more than the %.2f GB a dataset may take", path, float64(st.Size())/1e9, float64(most)/1e9)
	}
	return os.ReadFile(path)
}

// ParseRecordings reads the recordings of one file's bytes: an .npy array
// (by its name or its magic) or CSV text. labels, label and lab are as
// ParseNPY and ParseCSV take them (lab nil: no labels wanted, as predict).
func ParseRecordings(name string, b []byte, f SignalFormat, labels []int64, label int, lab *labeller) ([]Recording, error) {
	if isNPY(name, b) {
		return ParseNPY(name, b, f, labels, label, lab)
	}
	return ParseCSV(name, b, f, label, lab)
}

func isNPY(name string, b []byte) bool {
	return strings.EqualFold(filepath.Ext(name), ".npy") || bytes.HasPrefix(b, []byte("\x93NUMPY"))
}

// ParseCSV reads recordings from CSV text: one a row, the label in the
// label column (unless label ≥ 0: every row is of that class, and a label
// column, if the file has one, is left out), the samples of each channel
// one after another. lab is nil where labels are not wanted (predict).
func ParseCSV(path string, b []byte, f SignalFormat, label int, lab *labeller) ([]Recording, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	col := -1 // the label column
	named := false
	if n, err := strconv.Atoi(f.LabelColumn); err == nil {
		col = n
	} else {
		named = true
	}
	var recs []Recording
	var header []string
	width := 0
	for row := 1; ; row++ {
		cells, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %v", path, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		if row == 1 && isHeader(cells, f.Header) {
			header = slices.Clone(cells)
			if named {
				col = slices.Index(header, f.LabelColumn)
				if col < 0 && label < 0 && lab != nil {
					return nil, fmt.Errorf("%s:1: no column named %q (data.label_column); the columns are %s", path, f.LabelColumn, columnList(header))
				}
			}
			continue
		}
		if len(cells) == 1 && strings.TrimSpace(cells[0]) == "" {
			continue
		}
		if named && header == nil && label < 0 && lab != nil {
			return nil, fmt.Errorf("%s: data.label_column %q names a column, but the file has no header row (set data.header: yes, or give the column's position from 0)", path, f.LabelColumn)
		}
		if col >= len(cells) && label < 0 && lab != nil {
			return nil, fmt.Errorf("%s:%d: row has %d columns, no label column %d", path, line, len(cells), col)
		}
		if width == 0 {
			width = len(cells)
		} else if len(cells) != width && f.Length == 0 && f.Window == 0 {
			return nil, fmt.Errorf("%s:%d: row has %d columns, the rows before it %d (ragged rows; set data.length to crop or pad recordings of different lengths)", path, line, len(cells), width)
		}
		rec := Recording{Label: label, Source: fmt.Sprintf("%s:%d", path, line)}
		rec.Values = make([]float32, 0, len(cells))
		// The label column is left out of the samples when training, in a
		// class folder, or where the header names it; predicting on a file
		// without a header, a label cell is told by not being a number.
		skipLabel := col >= 0 && (label >= 0 || lab != nil || (named && header != nil))
		for j, cell := range cells {
			if j == col && (skipLabel || isLabelCell(cell)) {
				if label < 0 && lab != nil {
					if rec.Label, err = lab.index(strings.TrimSpace(cell), rec.Source); err != nil {
						return nil, err
					}
				}
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 32)
			if err != nil {
				if ne := (*strconv.NumError)(nil); errors.As(err, &ne) && ne.Err == strconv.ErrRange {
					return nil, fmt.Errorf("%s:%d, column %s: %q is out of float32's range", path, line, columnName(header, j), cell)
				}
				return nil, fmt.Errorf("%s:%d, column %s: %q is not a number", path, line, columnName(header, j), cell)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s:%d, column %s: %s is not a finite number", path, line, columnName(header, j), cell)
			}
			rec.Values = append(rec.Values, float32(v))
		}
		if err := f.shapeRecording(&rec); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// isLabelCell says whether a cell in the label column of a file read
// without labels (predict) is a label rather than a sample.
func isLabelCell(cell string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
	return err != nil
}

// isHeader decides whether a first row names the columns.
func isHeader(cells []string, mode string) bool {
	switch mode {
	case "yes":
		return true
	case "no":
		return false
	}
	numbers := 0
	for _, c := range cells {
		if _, err := strconv.ParseFloat(strings.TrimSpace(c), 64); err == nil {
			numbers++
		}
	}
	// A header is mostly names; a data row mostly numbers (a bad cell in
	// it is then reported, not taken for a header).
	return 2*numbers < len(cells)
}

func columnName(header []string, j int) string {
	if j < len(header) && header[j] != "" {
		return fmt.Sprintf("%d (%s)", j, header[j])
	}
	return fmt.Sprint(j)
}

func columnList(h []string) string {
	if len(h) > 6 {
		return strings.Join(h[:5], ", ") + fmt.Sprintf(", … (%d in all)", len(h))
	}
	return strings.Join(h, ", ")
}

// shapeRecording sets a recording's length from its values and channels.
func (f SignalFormat) shapeRecording(r *Recording) error {
	C := max(f.Channels, 1)
	if len(r.Values) == 0 {
		return fmt.Errorf("%s holds no samples", r.Source)
	}
	if len(r.Values)%C != 0 {
		return fmt.Errorf("%s has %d samples, not a whole number for each of its %d channels (data.channels)", r.Source, len(r.Values), C)
	}
	r.Len = len(r.Values) / C
	return nil
}

// npyTypes are the dtypes read from .npy files (any byte order numpy
// writes), as Go slices.
var npyTypes = map[string]func() any{
	"f4": func() any { return new([]float32) }, "f8": func() any { return new([]float64) },
	"i1": func() any { return new([]int8) }, "i2": func() any { return new([]int16) },
	"i4": func() any { return new([]int32) }, "i8": func() any { return new([]int64) },
	"u1": func() any { return new([]uint8) }, "u2": func() any { return new([]uint16) },
	"u4": func() any { return new([]uint32) },
}

// readNPY reads an .npy array of numbers as float64s, with its shape,
// checking that the body holds what the header declares.
func readNPY(path string, b []byte) (v []float64, shape []int, err error) {
	// The reader indexes its header's fields as it finds them: a corrupt
	// header can make it panic. That is a bad file, said in one line.
	defer func() {
		if r := recover(); r != nil {
			v, shape, err = nil, nil, fmt.Errorf("%s: not a NumPy .npy file: its header is corrupt", path)
		}
	}()
	if err := checkNPYPreamble(b); err != nil {
		return nil, nil, fmt.Errorf("%s: not a NumPy .npy file: %v", path, err)
	}
	br := bytes.NewReader(b)
	r, err := npyio.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a NumPy .npy file: %v", path, err)
	}
	h := r.Header.Descr
	dtype := strings.Trim(h.Type, `'"`)
	code := strings.TrimLeft(dtype, "<>|=")
	mk, ok := npyTypes[code]
	if !ok || len(dtype)-len(code) > 1 {
		return nil, nil, fmt.Errorf("%s: dtype %q is not supported (float32/64, int8–64, uint8–32)", path, dtype)
	}
	if h.Fortran {
		return nil, nil, fmt.Errorf("%s: Fortran-order arrays are not supported (save with np.ascontiguousarray)", path)
	}
	n := int64(1)
	for _, d := range h.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/int64(d)) {
			return nil, nil, fmt.Errorf("%s: shape %v is too large", path, h.Shape)
		}
		n *= int64(d)
	}
	size := int64(code[1] - '0')
	if body := int64(br.Len()); body != n*size {
		return nil, nil, fmt.Errorf("%s: the header declares %v values of %s (%d bytes), the body holds %d bytes (truncated or corrupt)", path, h.Shape, dtype, n*size, body)
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("%s: the array is empty (shape %v)", path, h.Shape)
	}
	ptr := mk()
	if err := r.Read(ptr); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return toFloat64(ptr), slices.Clone(h.Shape), nil
}

// checkNPYPreamble checks the magic and that the header the file declares
// fits in it: the reader allocates that length (up to 4 GB in version 2)
// before reading a byte of it.
func checkNPYPreamble(b []byte) error {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return errors.New("no .npy magic")
	}
	n, start := int(binary.LittleEndian.Uint16(b[8:10])), 10
	if b[6] >= 2 {
		if len(b) < 12 {
			return errors.New("truncated preamble")
		}
		n, start = int(binary.LittleEndian.Uint32(b[8:12])), 12
	}
	if n > len(b)-start {
		return fmt.Errorf("the header declares %d bytes, the file holds %d after the preamble", n, len(b)-start)
	}
	return nil
}

func toFloat64(ptr any) []float64 {
	conv := func(n int, at func(int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch v := ptr.(type) {
	case *[]float64:
		return *v
	case *[]float32:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]int8:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]int16:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]int32:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]int64:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]uint8:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]uint16:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	case *[]uint32:
		return conv(len(*v), func(i int) float64 { return float64((*v)[i]) })
	}
	panic(fmt.Sprintf("npy: no conversion from %T", ptr))
}

// ParseNPY reads recordings from an .npy array: [L] or (with several
// channels) [C, L] is one recording; [N, L] (one channel) or [N, C, L] is N.
// Labels come from labels (an array beside it), from label ≥ 0 (a class
// folder), or not at all (lab nil: predict).
func ParseNPY(path string, b []byte, f SignalFormat, labels []int64, label int, lab *labeller) ([]Recording, error) {
	v, shape, err := readNPY(path, b)
	if err != nil {
		return nil, err
	}
	C := max(f.Channels, 1)
	n, per := 1, len(v)
	switch {
	case len(shape) == 1 || (len(shape) == 2 && C > 1 && shape[0] == C):
	case len(shape) == 2 && C == 1:
		n, per = shape[0], shape[1]
	case len(shape) == 3 && shape[1] == C:
		n, per = shape[0], shape[1]*shape[2]
	default:
		return nil, fmt.Errorf("%s: shape %v is not recordings of %d channel(s): give [L], [N, L] (one channel), [C, L] or [N, C, L]", path, shape, C)
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%s: %d labels for the %d recordings of %s", f.Labels, len(labels), n, path)
	}
	if lab != nil && labels == nil && label < 0 {
		return nil, fmt.Errorf("%s: an .npy array of recordings needs data.labels (an .npy array of class indices), or class folders", path)
	}
	recs := make([]Recording, n)
	for i := range n {
		r := Recording{Label: label, Source: fmt.Sprintf("%s recording %d", path, i)}
		if n == 1 {
			r.Source = path
		}
		r.Values = make([]float32, per)
		for j, x := range v[i*per : (i+1)*per] {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%s, sample %d: %v is not a finite number", r.Source, j, x)
			}
			r.Values[j] = float32(x)
		}
		if labels != nil {
			if r.Label, err = lab.number(labels[i], fmt.Sprintf("%s entry %d", f.Labels, i)); err != nil {
				return nil, err
			}
		}
		if err := f.shapeRecording(&r); err != nil {
			return nil, err
		}
		recs[i] = r
	}
	return recs, nil
}

func readNPYLabels(path string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data.labels: %w", err)
	}
	v, shape, err := readNPY(path, b)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("%s: labels must be a 1-D array, got shape %v", path, shape)
	}
	out := make([]int64, len(v))
	for i, x := range v {
		if x != math.Trunc(x) || x < 0 {
			return nil, fmt.Errorf("%s entry %d: %v is not a class index (0, 1, …)", path, i, x)
		}
		out[i] = int64(x)
	}
	return out, nil
}

// classesBeside reads classes.txt next to a data file, or in a data folder.
func classesBeside(path string) []string {
	p := filepath.Join(path, "classes.txt")
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		p = filepath.Join(filepath.Dir(path), "classes.txt")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	return names
}

// labeller turns labels into class indices: against fixed names, or
// collecting the names it meets (ordered at the end).
type labeller struct {
	fixed bool
	names []string
	nums  bool // labels were integers (.npy)
}

func (l *labeller) index(name, where string) (int, error) {
	if k := slices.Index(l.names, name); k >= 0 {
		return k, nil
	}
	if l.fixed {
		return 0, fmt.Errorf("%s: label %q is not one of the classes %s", where, name, strings.Join(l.names, ", "))
	}
	if name == "" {
		return 0, fmt.Errorf("%s: the label is empty", where)
	}
	l.names = append(l.names, name)
	return len(l.names) - 1, nil
}

func (l *labeller) number(k int64, where string) (int, error) {
	if l.fixed {
		if k >= int64(len(l.names)) {
			return 0, fmt.Errorf("%s: class index %d, but there are %d classes (%s)", where, k, len(l.names), strings.Join(l.names, ", "))
		}
		return int(k), nil
	}
	if k > 1<<16 {
		return 0, fmt.Errorf("%s: class index %d is implausibly large", where, k)
	}
	for int64(len(l.names)) <= k {
		l.names = append(l.names, fmt.Sprint(len(l.names)))
	}
	l.nums = true
	return int(k), nil
}

// finish orders collected names (numerically where they are all numbers,
// else alphabetically) and relabels the recordings to match.
func (l *labeller) finish(recs []Recording) []Recording {
	if l.fixed || l.nums {
		return recs
	}
	sorted := slices.Clone(l.names)
	slices.SortFunc(sorted, func(a, b string) int {
		x, ea := strconv.ParseFloat(a, 64)
		y, eb := strconv.ParseFloat(b, 64)
		if ea == nil && eb == nil {
			return cmpFloat(x, y)
		}
		return strings.Compare(a, b)
	})
	for i := range recs {
		if recs[i].Label >= 0 {
			recs[i].Label = slices.Index(sorted, l.names[recs[i].Label])
		}
	}
	l.names = sorted
	return recs
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ChannelStats is each channel's mean and standard deviation over d (the
// training set), to normalise signals by; a constant channel gets std 1.
func (d *Dataset) ChannelStats() Norm {
	C, L := d.Shape[0], d.Shape[1]*d.Shape[2]
	n := Norm{Mean: make([]float64, C), Std: make([]float64, C)}
	for c := range C {
		var sum, sq float64
		for i := range d.Len() {
			for _, v := range d.Signal(i)[c*L : (c+1)*L] {
				sum += float64(v)
			}
		}
		count := float64(d.Len() * L)
		mean := sum / count
		for i := range d.Len() {
			for _, v := range d.Signal(i)[c*L : (c+1)*L] {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
		}
		n.Mean[c] = round6(mean)
		n.Std[c] = round6(math.Sqrt(sq / count))
		if n.Std[c] == 0 {
			n.Std[c] = 1
		}
	}
	return n
}

// round6 keeps six significant digits (the checkpoint's YAML stays readable).
func round6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}
