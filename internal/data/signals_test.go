package data

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/config"
)

func format(shape [2]int, s config.Signals) SignalFormat {
	if s.LabelColumn == "" {
		s.LabelColumn = "label"
	}
	if s.Header == "" {
		s.Header = "auto"
	}
	if s.Channels == 0 {
		s.Channels = shape[0]
	}
	if s.Hop == 0 {
		s.Hop = s.Window
	}
	return SignalFormat{Signals: s, Shape: shape}
}

func writeText(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeNPY(t *testing.T, path string, v any) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := atomicfile.Write(path, func(w *bufio.Writer) error { return npyio.Write(w, v) }); err != nil {
		t.Fatal(err)
	}
}

// A CSV file: a header, the label in any column, two channels a row
// (channel-major), classes sorted by name.
func TestCSVRecordings(t *testing.T) {
	dir := t.TempDir()
	p := writeText(t, dir, "r.csv", "a0,a1,a2,kind,b0,b1,b2\n1,2,3,pump,4,5,6\n 7, 8, 9, fan,10,11,12\n\n")
	d, err := LoadSignals(p, format([2]int{2, 3}, config.Signals{LabelColumn: "kind"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, []string{"fan", "pump"}) || !slices.Equal(d.Labels, []int{1, 0}) {
		t.Errorf("classes %v labels %v", d.Classes, d.Labels)
	}
	if d.Shape != [3]int{2, 1, 3} || !slices.Equal(d.Signal(1), []float32{7, 8, 9, 10, 11, 12}) {
		t.Errorf("shape %v, example 1 %v", d.Shape, d.Signal(1))
	}
	if !slices.Equal(d.Groups, []int{0, 1}) || d.Sources[1] != p+":3" {
		t.Errorf("groups %v sources %v", d.Groups, d.Sources)
	}
	// By position, without a header; numeric labels sort as numbers.
	p = writeText(t, dir, "n.csv", "10,1,2\n2,3,4\n10,5,6\n")
	d, err = LoadSignals(p, format([2]int{1, 2}, config.Signals{LabelColumn: "0"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, []string{"2", "10"}) || !slices.Equal(d.Labels, []int{1, 0, 1}) {
		t.Errorf("numeric classes %v labels %v", d.Classes, d.Labels)
	}
	// classes.txt beside the file fixes the order.
	writeText(t, dir, "classes.txt", "10\n2\n")
	if d, err = LoadSignals(p, format([2]int{1, 2}, config.Signals{LabelColumn: "0"}), nil); err != nil || !slices.Equal(d.Labels, []int{0, 1, 0}) {
		t.Errorf("with classes.txt: labels %v, %v", d.Labels, err)
	}
}

// Windows of window samples, hop apart, each channel cut alike; data.length
// crops or pads first; one channel folded into several.
func TestSignalWindows(t *testing.T) {
	rec := Recording{Values: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, Len: 10}
	f := format([2]int{2, 4}, config.Signals{Window: 4, Hop: 3})
	v, starts, err := f.Windows(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(starts, []int{0, 3, 6}) || !slices.Equal(v[8:16], []float32{3, 4, 5, 6, 13, 14, 15, 16}) {
		t.Errorf("starts %v, window 1 %v", starts, v[8:16])
	}
	f = format([2]int{2, 12}, config.Signals{Length: 12})
	if v, _, err = f.Windows(rec); err != nil || !slices.Equal(v, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0, 0}) {
		t.Errorf("padded %v, %v", v, err)
	}
	f = format([2]int{2, 3}, config.Signals{Length: 3})
	if v, _, err = f.Windows(rec); err != nil || !slices.Equal(v, []float32{0, 1, 2, 10, 11, 12}) {
		t.Errorf("cropped %v, %v", v, err)
	}
	// A 12-sample window of a one-channel recording read as 3 rows of 4.
	one := Recording{Values: rec.Values, Len: 20}
	f = format([2]int{3, 4}, config.Signals{Channels: 1, Window: 12, Hop: 8})
	if v, starts, err = f.Windows(one); err != nil || !slices.Equal(starts, []int{0, 8}) || !slices.Equal(v[12:], rec.Values[8:20]) {
		t.Errorf("folded %v at %v, %v", v, starts, err)
	}
	if _, _, err = format([2]int{2, 11}, config.Signals{Window: 11}).Windows(rec); err == nil || !strings.Contains(err.Error(), "fewer than data.window 11") {
		t.Errorf("a window longer than the recording: %v", err)
	}
}

// Splits keep a recording's windows together, at about the fraction.
func TestSplitByRecording(t *testing.T) {
	var recs []Recording
	for g := range 50 {
		v := make([]float32, 40)
		for i := range v {
			v[i] = float32(g)
		}
		recs = append(recs, Recording{Values: v, Len: 40, Label: g % 2, Source: "r"})
	}
	d, err := format([2]int{1, 8}, config.Signals{Window: 8, Hop: 4}).Examples(recs, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 50*9 {
		t.Fatalf("%d windows, want 450", d.Len())
	}
	kept, held := d.Split(0.2, 7)
	if held.Len() != 10*9 || kept.Len() != 40*9 {
		t.Errorf("held %d, kept %d windows", held.Len(), kept.Len())
	}
	side := map[int]string{}
	for name, part := range map[string]*Dataset{"kept": kept, "held": held} {
		for i := range part.Len() {
			g := part.Groups[i]
			if s, ok := side[g]; ok && s != name {
				t.Fatalf("recording %d on both sides", g)
			}
			side[g] = name
			if part.Signal(i)[0] != float32(g) || part.Labels[i] != g%2 {
				t.Fatalf("window %d of %s is not recording %d's", i, name, g)
			}
		}
	}
}

// .npy arrays: N×L with labels, N×C×L, and class folders of single
// recordings in integer dtypes.
func TestNPYRecordings(t *testing.T) {
	dir := t.TempDir()
	writeNPY(t, filepath.Join(dir, "x.npy"), []float64{1, 2, 3, 4, 5, 6}) // [6]: reshaped below
	b, _ := os.ReadFile(filepath.Join(dir, "x.npy"))
	recs, err := ParseNPY("x.npy", b, format([2]int{1, 6}, config.Signals{}), nil, 0, &labeller{names: []string{"a"}})
	if err != nil || len(recs) != 1 || recs[0].Len != 6 {
		t.Fatalf("one recording: %v %v", recs, err)
	}
	three := filepath.Join(dir, "three.npy")
	writeNPY(t, three, [][]float32{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}})
	labels := filepath.Join(dir, "labels.npy")
	writeNPY(t, labels, []int32{1, 0, 1})
	d, err := LoadSignals(three, format([2]int{1, 4}, config.Signals{Labels: labels}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, []string{"0", "1"}) || !slices.Equal(d.Labels, []int{1, 0, 1}) || !slices.Equal(d.Signal(2), []float32{9, 10, 11, 12}) {
		t.Errorf("N×L: classes %v labels %v last %v", d.Classes, d.Labels, d.Signal(2))
	}
	// Class folders: one int16 recording of 2 channels a file.
	for i, class := range []string{"ok", "worn", "ok"} {
		writeNPY(t, filepath.Join(dir, "folders", class, string(rune('a'+i))+".npy"), [][]int16{{int16(i), 1, 2}, {3, 4, 5}})
	}
	d, err = LoadSignals(filepath.Join(dir, "folders"), format([2]int{2, 3}, config.Signals{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, []string{"ok", "worn"}) || !slices.Equal(d.Labels, []int{0, 0, 1}) || !slices.Equal(d.Signal(1), []float32{2, 1, 2, 3, 4, 5}) {
		t.Errorf("class folders: classes %v labels %v example 1 %v", d.Classes, d.Labels, d.Signal(1))
	}
}

// The training set's per-channel statistics normalise a batch to zero mean
// and unit variance per channel.
func TestSignalNormalisation(t *testing.T) {
	d := &Dataset{Shape: [3]int{2, 1, 4}, Labels: []int{0, 1}, Classes: []string{"a", "b"},
		Values: []float32{1, 2, 3, 4, 100, 100, 100, 100, 5, 6, 7, 8, 100, 100, 100, 100}}
	n := d.ChannelStats()
	if n.Mean[0] != 4.5 || math.Abs(n.Std[0]-math.Sqrt(5.25)) > 1e-5 || n.Mean[1] != 100 || n.Std[1] != 1 {
		t.Fatalf("stats %+v (a constant channel keeps std 1)", n)
	}
	x := make([]float32, 16)
	NewBatcher(d, n).Fill(x, nil, []int{0, 1})
	var sum, sq float64
	for _, i := range []int{0, 1, 2, 3, 8, 9, 10, 11} {
		sum += float64(x[i])
		sq += float64(x[i]) * float64(x[i])
	}
	if math.Abs(sum) > 1e-5 || math.Abs(sq/8-1) > 1e-5 || x[4] != 0 {
		t.Errorf("normalised channel 0: mean %v, variance %v; channel 1 %v", sum/8, sq/8, x[4])
	}
}
