package config

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Signals are the data fields of source signals: recordings of C channels
// read from CSV or NumPy files, each cut into windows or taken whole.
//
// Dir is a CSV file (one recording per row, a label column), a folder of
// such files, an .npy array of recordings (N×L or N×C×L, with Labels), or a
// folder of class folders of .csv or .npy files. data.shape is
// [channels, length]: one example.
type Signals struct {
	// Labels is the .npy array of integer class indices beside an .npy
	// array of recordings (names in classes.txt beside it, if there is one).
	Labels string `yaml:"labels,omitempty"`
	// LabelColumn is the CSV column holding the class: its header name or
	// its position from 0 (default: label).
	LabelColumn string `yaml:"label_column,omitempty"`
	// Header says whether a CSV file's first row names its columns: yes,
	// no, or auto (a first row with a cell that is not a number).
	Header string `yaml:"header,omitempty"`
	// Channels is how many channels a recording has (a CSV row or an .npy
	// recording holds them one after another). Default data.shape[0]; 1
	// with data.shape [C, L] reads each C·L samples as C rows of L (the
	// tutorial layout of one signal folded into channels).
	Channels int `yaml:"channels,omitempty"`
	// Length crops (from the start) or zero-pads every recording to this
	// many samples a channel; without it recordings of unequal length are
	// an error.
	Length int `yaml:"length,omitempty"`
	// Window cuts each recording into windows of this many samples a
	// channel, Hop apart (default Window: no overlap). The windows of one
	// recording stay in one split.
	Window int `yaml:"window,omitempty"`
	Hop    int `yaml:"hop,omitempty"`
	// Rate is the sampling rate in Hz, for plots (time on the axis).
	Rate float64 `yaml:"rate,omitempty"`
}

// IsSignals says whether the data are signals ([C, L] examples).
func (d *Data) IsSignals() bool { return d.Source == "signals" }

// SamplesPerExample is how many samples of each recording channel one
// example of shape [C, L] takes: L, or C·L from a one-channel recording
// folded into C rows.
func (s Signals) SamplesPerExample(shape []int) int {
	if len(shape) != 2 {
		return 0
	}
	return shape[0] * shape[1] / max(s.Channels, 1)
}

// PerWindow is SamplesPerExample of the data's shape.
func (d *Data) PerWindow() int { return d.SamplesPerExample(d.Shape) }

func (d *Data) signalDefaults() {
	if !d.IsSignals() {
		return
	}
	if d.LabelColumn == "" {
		d.LabelColumn = "label"
	}
	if d.Header == "" {
		d.Header = "auto"
	}
	if len(d.Shape) == 0 {
		if l := cmpOr(d.Window, d.Length); l > 0 {
			d.Shape = []int{max(d.Channels, 1), l}
		}
	}
	if d.Channels == 0 && len(d.Shape) > 0 {
		d.Channels = d.Shape[0]
	}
	if d.Hop == 0 {
		d.Hop = d.Window
	}
	if d.TestDir == "" && d.TestSplit == 0 {
		d.TestSplit = 0.2
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// checkSignals reports the problems of a signals data section, and signal
// fields given to other sources.
func (c *Config) checkSignals(add func(int, string, ...any)) {
	d := c.Data
	if !d.IsSignals() {
		for f, set := range map[string]bool{"labels": d.Labels != "", "label_column": d.LabelColumn != "", "header": d.Header != "",
			"channels": d.Channels != 0, "length": d.Length != 0, "window": d.Window != 0, "hop": d.Hop != 0, "rate": d.Rate != 0} {
			if set {
				add(0, "data.%s applies to source signals, not %s", f, d.Source)
			}
		}
		return
	}
	if d.Dir == "" {
		add(0, "data.dir is required for source signals (a CSV file, a folder of them, an .npy array, or a folder of class folders)")
	}
	if c.Augment != nil {
		add(c.topLine("augment"), "augment applies to images; source signals has no augmentation")
	}
	if !slices.Contains([]string{"auto", "yes", "no"}, d.Header) {
		add(0, "data.header must be auto, yes or no, got %q", d.Header)
	}
	if d.Labels != "" && !strings.HasSuffix(strings.ToLower(d.Dir), ".npy") {
		add(0, "data.labels goes with an .npy array of recordings in data.dir, got %s", d.Dir)
	}
	negative := false
	for _, f := range []struct {
		name string
		v    float64
	}{{"length", float64(d.Length)}, {"window", float64(d.Window)}, {"hop", float64(d.Hop)}, {"channels", float64(d.Channels)}, {"rate", d.Rate}} {
		if f.v < 0 {
			add(0, "data.%s cannot be negative, got %v", f.name, f.v)
			negative = true
		}
	}
	if negative {
		return
	}
	if len(d.Shape) != 2 {
		add(0, "data.shape must be [channels, length] for source signals (or give data.window or data.length), got %v", d.Shape)
		return
	}
	C, L := d.Shape[0], d.Shape[1]
	if C <= 0 || L <= 0 {
		add(0, "data.shape must be positive, got %v", d.Shape)
		return
	}
	if d.Channels != C && (d.Channels != 1 || (C*L)%d.Channels != 0) {
		add(0, "data.channels %d does not fit data.shape %v: give as many channels, or 1 to fold each %d samples into %d rows of %d",
			d.Channels, d.Shape, C*L, C, L)
		return
	}
	if d.Window > 0 && d.Window != d.PerWindow() {
		add(0, "data.window %d does not give data.shape %v: a window of a %d-channel recording needs %d samples",
			d.Window, d.Shape, d.Channels, d.PerWindow())
	}
	if d.Window == 0 && d.Hop > 0 {
		add(0, "data.hop needs data.window")
	}
	if d.Window == 0 && d.Length > 0 && d.Length != d.PerWindow() {
		add(0, "data.length %d does not give data.shape %v (without a window each recording is one example)", d.Length, d.Shape)
	}
	for _, v := range [][]float64{d.Normalize.Mean, d.Normalize.Std} {
		if len(v) > 1 && len(v) != C {
			add(0, "data.normalize mean and std need 1 or %d values (one per channel), got %v", C, v)
		}
	}
	if (len(d.Normalize.Mean) == 0) != (len(d.Normalize.Std) == 0) {
		add(0, "data.normalize needs both mean and std, or neither (computed from the training set)")
	}
}

// topLine is the line of a top-level key in the file, or 0.
func (c *Config) topLine(key string) int {
	n := c.src
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}
