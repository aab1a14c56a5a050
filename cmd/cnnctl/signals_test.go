package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
)

// trainTinySignals trains a small 1-D network on 1×16 recordings (a sine
// against noise, in a CSV file) and returns its checkpoint.
func trainTinySignals(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("label")
	for i := range 16 {
		fmt.Fprintf(&b, ",s%d", i)
	}
	b.WriteString("\n")
	for r := range 64 {
		class := []string{"sine", "noise"}[r%2]
		b.WriteString(class)
		for i := range 16 {
			v := math.Sin(float64(i+r) * 0.8)
			if class == "noise" {
				v = math.Sin(float64(i*i*7+r*13)) * 0.5
			}
			fmt.Fprintf(&b, ",%.4f", v)
		}
		b.WriteString("\n")
	}
	csv := writeFile(t, dir, "tiny.csv", b.String())
	return trainTiny(t, dir, "name: tiny-signals\nseed: 1\ndata: {source: signals, dir: "+csv+", shape: [1, 16], validation: 0.1}\n"+
		"model:\n  - {type: conv1d, filters: 4, kernel: 3}\n  - {type: batchnorm}\n  - {type: relu}\n  - {type: global_avgpool}\n  - {type: dense, units: 2}\n"+
		"train: {epochs: 2, batch_size: 8, optimizer: {name: adam, lr: 0.01}}\n")
}

// signalsConfig trains on the synthetic vibration set in dir, windowed.
func signalsConfig(dir string) string {
	return `name: vib
seed: 3
data: {source: signals, dir: ` + filepath.Join(dir, "vibration.csv") + `, window: 128, hop: 64, shape: [1, 128], rate: 12000, validation: 0.1}
model:
  - {type: conv1d, filters: 8, kernel: 16, stride: 4, padding: 6}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool1d, kernel: 2}
  - {type: conv1d, filters: 8, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: relu}
  - {type: global_avgpool}
  - {type: dense, units: 4}
train: {epochs: 2, batch_size: 16, optimizer: {name: adam, lr: 0.005}}
`
}

// TestSignalsEndToEnd: the vibration set, trained from its CSV file, then
// eval, predict on the CSV and on the .npy copy (the same windows, the
// same answers), the plot, and fuse with its proof, as a user runs them.
func TestSignalsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	vib := filepath.Join(dir, "vib")
	if code, _, errOut := cnnctl(t, "data", "vibration", "--out", vib, "--n", "40", "--length", "512", "--seed", "5"); code != 0 {
		t.Fatal(errOut)
	}
	cfgPath := writeFile(t, dir, "vib.yaml", signalsConfig(vib))
	run := filepath.Join(dir, "run")
	code, _, errOut := cnnctl(t, "train", "-c", cfgPath, "--out", run)
	if code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	// 40 recordings of 7 windows: 8 recordings held out for test, 3 of the
	// rest for validation, whole.
	for _, want := range []string{"signals normalised per channel by the training set", "203 training, 21 validation, 56 test examples"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("train output lacks %q:\n%s", want, errOut)
		}
	}
	ckpt := filepath.Join(run, "best.ckpt")
	st, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	// The statistics in the checkpoint are the training split's.
	cfg, _ := config.Load(cfgPath)
	train, _, err := data.Load(cfg.Data, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	train, _ = train.Split(cfg.Data.Validation, cfg.Seed)
	stats := train.ChannelStats()
	if !slices.Equal(st.Config.Data.Normalize.Mean, stats.Mean) || !slices.Equal(st.Config.Data.Normalize.Std, stats.Std) {
		t.Errorf("checkpoint normalises by %+v, the training split's statistics are %+v", st.Config.Data.Normalize, stats)
	}
	if code, out, errOut := cnnctl(t, "eval", "--model", ckpt); code != 0 || !strings.Contains(out, "confusion matrix") || !strings.Contains(out, "outer_race") {
		t.Errorf("eval: %d %s %s", code, out, errOut)
	}

	plotPath := filepath.Join(dir, "windows.png")
	code, csvOut, errOut := cnnctl(t, "predict", "--model", ckpt, "--json", "--top", "2", "--plot", plotPath, filepath.Join(vib, "vibration.csv"))
	if code != 0 {
		t.Fatalf("predict csv: %s", errOut)
	}
	code, npyOut, errOut := cnnctl(t, "predict", "--model", ckpt, "--json", "--top", "2", filepath.Join(vib, "signals.npy"))
	if code != 0 {
		t.Fatalf("predict npy: %s", errOut)
	}
	type line struct {
		File        string
		Label       string
		Probability float64
		Top         []struct{ Label string }
		Window      *struct{ Start, End int }
		Windows     int
	}
	parse := func(s string) []line {
		var ls []line
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			var x line
			if err := json.Unmarshal([]byte(l), &x); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			ls = append(ls, x)
		}
		return ls
	}
	fromCSV, fromNPY := parse(csvOut), parse(npyOut)
	// 40 recordings × (7 windows + the recording's line).
	if len(fromCSV) != 40*8 || len(fromNPY) != 40*8 {
		t.Fatalf("%d and %d lines, want 320 each", len(fromCSV), len(fromNPY))
	}
	for i, c := range fromCSV {
		n := fromNPY[i]
		if i%8 < 7 {
			if c.Window == nil || c.Window.Start != 64*(i%8) || c.Window.End != c.Window.Start+128 || len(c.Top) != 2 {
				t.Fatalf("line %d: %+v", i, c)
			}
		} else if c.Windows != 7 || c.Window != nil {
			t.Fatalf("recording line %d: %+v", i, c)
		}
		// The CSV holds 7 significant digits of the .npy's float64s.
		if c.Label != n.Label || math.Abs(c.Probability-n.Probability) > 1e-3 {
			t.Fatalf("line %d: the CSV gives %s %.4f, the .npy %s %.4f", i, c.Label, c.Probability, n.Label, n.Probability)
		}
	}
	if fromCSV[0].File != filepath.Join(vib, "vibration.csv")+":2" || fromNPY[0].File != filepath.Join(vib, "signals.npy")+" recording 0" {
		t.Errorf("recordings named %q and %q", fromCSV[0].File, fromNPY[0].File)
	}
	f, err := os.Open(plotPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dy() < 8*100 {
		t.Errorf("plot: %v, %v (8 recordings drawn, one row each)", err, img.Bounds())
	}

	// Batch norm folds into conv1d, and the proof runs on the test split.
	code, out, errOut := cnnctl(t, "fuse", "--model", ckpt, "--out", filepath.Join(dir, "fused.ckpt"))
	if code != 0 || !strings.Contains(out, "folded    layer 1 (batchnorm) into layer 0 (conv1d 8@16 s4 p6)") ||
		!strings.Contains(out, "the test split of signals: 56 inputs") || !strings.Contains(out, "changed predictions 0 of 56") {
		t.Errorf("fuse: %d\n%s%s", code, out, errOut)
	}
	// --plot draws recordings: an image model refuses it as a usage error.
	if code, _, errOut := cnnctl(t, "predict", "--model", trainTiny(t, t.TempDir(), tinyConfig), "--plot", plotPath, filepath.Join(vib, "examples.png")); code != 2 ||
		!strings.Contains(errOut, "--plot draws the windows of signal recordings") {
		t.Errorf("predict --plot on an image model: exit %d, %q", code, errOut)
	}
	// Images to a signal model, and a signal model to the image tools, are refused in one line.
	for _, args := range [][]string{
		{"predict", "--model", ckpt, "--debug-dir", dir, filepath.Join(vib, "vibration.csv")},
		{"visualize", "--model", ckpt, filepath.Join(vib, "examples.png"), "--out", dir},
	} {
		if code, _, errOut := cnnctl(t, args...); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}
