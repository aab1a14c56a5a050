package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
)

const tinyXO = `
name: tiny
seed: 4
data: {source: xo, shape: [1, 16, 16], train_size: 320, test_size: 64, validation: 0.2}
model:
  - {type: conv2d, filters: 4, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dropout, rate: 0.3}
  - {type: dense, units: 2}
train:
  epochs: 2
  batch_size: 16
  optimizer: {name: adam, lr: 0.01}
  schedule: {name: cosine}
`

func tinyConfig(t *testing.T, dir string, edit func(*config.Config)) *config.Config {
	t.Helper()
	c, err := config.Parse("tiny.yaml", []byte(tinyXO))
	if err != nil {
		t.Fatal(err)
	}
	c.Output.Dir = dir
	if edit != nil {
		edit(c)
	}
	return c
}

func TestTrainWritesRunFolder(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	res, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, nil), Progress: NewProgress(&log, false, false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"best.ckpt", "last.ckpt", "metrics.csv", "curves.png", "config.yaml"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	rows, err := ReadMetrics(filepath.Join(dir, "metrics.csv"))
	if err != nil || len(rows) != 2 || rows[1].Epoch != 2 || rows[0].ImgPerSec <= 0 {
		t.Fatalf("metrics %+v, %v", rows, err)
	}
	if res.TestAcc < 0.8 {
		t.Errorf("test accuracy %.3f after 2 epochs on X-vs-O", res.TestAcc)
	}
	// Off a terminal: one plain line per epoch, no carriage returns.
	out := log.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, "epoch 1/2  loss ") {
		t.Errorf("progress output off a terminal:\n%q", out)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last.ckpt"))
	if err != nil || ck.Epoch != 2 {
		t.Fatalf("last.ckpt: %v", err)
	}
}

// stopAfter interrupts a run (as Ctrl-C would) once an epoch has ended.
type stopAfter struct {
	quietProgress
	epoch  int
	cancel context.CancelFunc
}

func (s stopAfter) EndEpoch(st EpochStats, _ int, _ bool) {
	if st.Epoch == s.epoch {
		s.cancel()
	}
}

// TestResumeIsExact trains 2 epochs straight, and 2 epochs interrupted after
// the first and resumed (dropout, shuffling, the cosine schedule, BN
// statistics and Adam state all matter), and requires bit-identical weights.
func TestResumeIsExact(t *testing.T) { resumeIsExact(t, nil) }

// With augmentation the images of epoch 2 are drawn from (seed, epoch,
// position): the resumed run sees the same ones.
func TestResumeIsExactWithAugmentation(t *testing.T) {
	resumeIsExact(t, func(c *config.Config) {
		c.Augment = &config.Augment{Rotate: 10, Elastic: &config.Elastic{Alpha: 6, Sigma: 3}, Thickness: 0.3, Noise: 0.02}
	})
}

func resumeIsExact(t *testing.T, edit func(*config.Config)) {
	straight, split := t.TempDir(), t.TempDir()
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, straight, edit)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, Options{Config: tinyConfig(t, split, edit), Progress: stopAfter{epoch: 1, cancel: cancel}})
	if err == nil || !strings.Contains(err.Error(), "interrupted in epoch 2 at batch 0") {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, split, edit), Resume: filepath.Join(split, "last.ckpt")}); err != nil {
		t.Fatal(err)
	}
	a, err := checkpoint.Load(filepath.Join(straight, "last.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(filepath.Join(split, "last.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range a.Net.Params() {
		if !slices.Equal(p.Data(), b.Net.Params()[i].Data()) {
			t.Errorf("%s differs between straight and resumed training", p.Name)
		}
	}
	if !slices.Equal(a.Net.Layers[1].BN.RunningVar, b.Net.Layers[1].BN.RunningVar) {
		t.Error("BN running variance differs")
	}
	rows, _ := ReadMetrics(filepath.Join(split, "metrics.csv"))
	if len(rows) != 2 {
		t.Errorf("resumed metrics has %d rows", len(rows))
	}
}

func TestNaNStopsAndKeepsLastGoodCheckpoint(t *testing.T) {
	dir := t.TempDir()
	sgd := func(c *config.Config) {
		c.Train.Optimizer = config.Optimizer{Name: "sgd", LR: 0.01}
		c.Train.Epochs = 1
	}
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, sgd)}); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(dir, "last.ckpt")
	before, _ := os.ReadFile(last)
	_, err := Run(context.Background(), Options{Resume: last, Config: tinyConfig(t, dir, func(c *config.Config) {
		sgd(c)
		c.Train.Epochs = 2
		c.Train.Optimizer.LR = 1e30
	})})
	if !errors.Is(err, ErrNaN) || !strings.Contains(err.Error(), "in epoch 2 at batch") ||
		!strings.Contains(err.Error(), "last good checkpoint "+last+" (epoch 1) is kept") {
		t.Fatalf("error %v", err)
	}
	after, _ := os.ReadFile(last)
	if !bytes.Equal(before, after) {
		t.Error("last.ckpt changed by the failed epoch")
	}
}

func TestResumeRefusesAnotherModel(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, func(c *config.Config) { c.Train.Epochs = 1 })}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Options{Resume: filepath.Join(dir, "last.ckpt"), Config: tinyConfig(t, dir, func(c *config.Config) {
		c.Model[0].Filters = 5
	})})
	if err == nil || !strings.Contains(err.Error(), "model differs") {
		t.Errorf("error %v", err)
	}
	_, err = Run(context.Background(), Options{Resume: filepath.Join(dir, "last.ckpt"), Config: tinyConfig(t, dir, func(c *config.Config) {
		c.Train.Epochs = 1
	})})
	if err == nil || !strings.Contains(err.Error(), "already holds 1 epochs") {
		t.Errorf("error %v", err)
	}
}

func TestInterruptKeepsCheckpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Config: tinyConfig(t, t.TempDir(), nil)})
	if err == nil || !strings.Contains(err.Error(), "interrupted in epoch 1 at batch 0") {
		t.Errorf("error %v", err)
	}
}

func TestBatchLargerThanTrainingSet(t *testing.T) {
	_, err := Run(context.Background(), Options{ConfigPath: "tiny.yaml", Config: tinyConfig(t, t.TempDir(), func(c *config.Config) {
		c.Train.BatchSize = 1000
	})})
	if err == nil || !strings.Contains(err.Error(), "fewer than train.batch_size 1000") {
		t.Errorf("error %v", err)
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true, false)
	p.StartEpoch(2, 3, 10)
	for i := 1; i <= 10; i++ {
		p.Batch(i, 0.5, 0.9, 1234)
	}
	p.EndEpoch(EpochStats{Epoch: 2, TrainLoss: 0.5, TrainAcc: 0.9, ValLoss: 0.4, ValAcc: 0.95, LR: 0.01, Seconds: 1, ImgPerSec: 640}, 3, true)
	out := b.String()
	// A live bar redraws with carriage returns and ends with the epoch line.
	for _, want := range []string{"\r", "epoch 2/3  loss 0.5000", "val_acc 95.00%", "*best"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
}

// A run folder in use by a live process is refused, naming the process; a
// lock left by a process that is gone is taken over; and a finished run
// leaves no lock behind.
func TestRunFolderLock(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, lockName)
	os.WriteFile(lock, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644) // "another run": this very process
	_, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, nil)})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("is in use by another cnnctl train (process %d)", os.Getpid())) {
		t.Fatalf("locked folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "last.ckpt")); err == nil {
		t.Fatal("a locked run folder was written to")
	}
	// A process that has exited: its pid is free.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1) to make a dead pid")
	}
	os.WriteFile(lock, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, nil)}); err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Error("the lock outlived the run")
	}
}

// A resumed run that fails before finishing an epoch leaves config.yaml as
// it was (it describes last.ckpt), and a temporary file a killed save left
// behind is removed when the next run starts.
func TestConfigYAMLFollowsTheCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, dir, nil)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	leftover := filepath.Join(dir, ".best.ckpt.tmp123")
	os.WriteFile(leftover, nil, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted before its first batch
	_, err := Run(ctx, Options{Config: tinyConfig(t, dir, func(c *config.Config) { c.Train.Epochs = 5 }), Resume: filepath.Join(dir, "last.ckpt")})
	if err == nil {
		t.Fatal("an interrupted run succeeded")
	}
	after, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if string(before) != string(after) {
		t.Errorf("config.yaml changed by a run that trained nothing:\n%s\n---\n%s", before, after)
	}
	if _, err := os.Stat(leftover); err == nil {
		t.Error("the leftover temporary file is still there")
	}
}

// TestInitFromAndFreeze trains a model, then a second one with another head
// (3 classes would not fit xo, so a wider hidden layer) initialised from it
// with its convolution and batch norm frozen: the frozen weights and
// statistics come out bit for bit as loaded, the rest trains, the optimizer
// keeps no state for what is frozen, and a resume that unfreezes says the
// newly trained layers start without optimizer state.
func TestInitFromAndFreeze(t *testing.T) {
	src := t.TempDir()
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, src, nil)}); err != nil {
		t.Fatal(err)
	}
	from, err := checkpoint.Load(filepath.Join(src, "best.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var log bytes.Buffer
	cfg := tinyConfig(t, dir, func(c *config.Config) {
		c.Train.InitFrom = filepath.Join(src, "best.ckpt")
		c.Train.FreezeUntil = "1"
		c.Model = append(c.Model[:5], config.Layer{Type: "dense", Units: 8}, config.Layer{Type: "relu"}, c.Model[6])
		c.SetDefaults()
	})
	if errs := cfg.Check("tiny.yaml"); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := Run(context.Background(), Options{Config: cfg, Log: &log}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"initialised from " + cfg.Train.InitFrom + ": 2 layer(s) loaded (0, 1), 2 initialised fresh: 5 (5.weight is not in the file); 7 (7.weight is not in the file)",
		"frozen: 0, 1 (48 of 2122 parameters)", "2122 (48 frozen) parameters"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	got, err := checkpoint.Load(filepath.Join(dir, "last.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		a, b := from.Net.Layers[i], got.Net.Layers[i]
		for k, p := range a.Params() {
			if !slices.Equal(p.Data(), b.Params()[k].Data()) {
				t.Errorf("frozen %s changed", p.Name)
			}
		}
		if a.BN != nil && (!slices.Equal(a.BN.RunningMean, b.BN.RunningMean) || a.BN.NumBatches != b.BN.NumBatches) {
			t.Error("frozen batch norm's statistics changed")
		}
	}
	for k := range got.OptimizerSlots {
		if strings.HasPrefix(k, "0.") || strings.HasPrefix(k, "1.") {
			t.Errorf("optimizer state %s kept for a frozen layer", k)
		}
	}
	if len(got.OptimizerSlots) != 2*4 { // adam: 2 slots for 5.weight, 5.bias, 7.weight, 7.bias
		t.Errorf("%d optimizer slots", len(got.OptimizerSlots))
	}
	// Unfreeze and train further from last.ckpt.
	cfg.Train.FreezeUntil, cfg.Train.Epochs = "", 3
	log.Reset()
	if _, err := Run(context.Background(), Options{Config: cfg, Log: &log, Resume: filepath.Join(dir, "last.ckpt")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "holds no optimizer state for 0.weight, 0.bias, 1.weight, 1.bias (frozen before): it starts at zero") {
		t.Errorf("resume log:\n%s", log.String())
	}
}

func TestFreezeErrors(t *testing.T) {
	notCkpt := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notCkpt, []byte("hello, these are not weights"), 0o644)
	for _, c := range []struct {
		edit func(*config.Config)
		want string
	}{
		{func(c *config.Config) { c.Train.Freeze = []string{"conv9"} }, `train.freeze: no layer is named "conv9" (the layers are 0, 1, 2, 3, 4, 5, 6)`},
		{func(c *config.Config) { c.Train.FreezeUntil = "x" }, `train.freeze_until: no layer is named "x"`},
		{func(c *config.Config) { c.Train.Freeze, c.Train.FreezeUntil = []string{"0"}, "1" }, "give one of them"},
		{func(c *config.Config) { c.Train.FreezeUntil = "6" }, "train.freeze_until: every layer with parameters is frozen"},
		{func(c *config.Config) { c.Train.InitFrom = notCkpt }, notCkpt + ": not a safetensors file"},
	} {
		_, err := Run(context.Background(), Options{Config: tinyConfig(t, t.TempDir(), c.edit), ConfigPath: "tiny.yaml"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// TestStages trains a head first (the convolution and its batch norm
// frozen, a higher learning rate), then everything: the frozen layers move
// only in the second stage, each stage starts its schedule at its own
// learning rate, and a run stopped at the stage boundary or inside the
// second stage resumes to the same weights as one run straight through.
func TestStages(t *testing.T) {
	staged := func(c *config.Config) {
		c.Train.Epochs = 0
		c.Train.Stages = []config.Stage{{Epochs: 1, LR: 0.02, FreezeUntil: "1"}, {Epochs: 2, LR: 0.005}}
		c.SetDefaults()
	}
	straight := t.TempDir()
	var log bytes.Buffer
	if _, err := Run(context.Background(), Options{Config: tinyConfig(t, straight, staged), Log: &log}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stage 1/2: epochs 1–1, lr 0.02\nfrozen: 0, 1 (", "stage 2/2: epochs 2–3, lr 0.005\nfrozen: none"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	rows, _ := ReadMetrics(filepath.Join(straight, "metrics.csv"))
	if len(rows) != 3 || rows[0].LR != 0.02 || rows[1].LR != 0.005 || rows[2].LR >= 0.005 {
		t.Errorf("learning rates %v", rows)
	}
	final, _ := checkpoint.Load(filepath.Join(straight, "last.ckpt"))
	for _, stop := range []int{1, 2} {
		split := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := Run(ctx, Options{Config: tinyConfig(t, split, staged), Progress: stopAfter{epoch: stop, cancel: cancel}}); err == nil {
			t.Fatal("the run was not interrupted")
		}
		if stop == 1 {
			// After stage 1 the convolution is as initialised; after stage 2 it is not.
			first, _ := checkpoint.Load(filepath.Join(split, "last.ckpt"))
			c := tinyConfig(t, split, staged)
			initial, err := model.New(c.Layers(), c.Data.Shape, 2, rand.New(rand.NewPCG(c.Seed, initStream)))
			if err != nil {
				t.Fatal(err)
			}
			w0, w1, w3 := initial.Layers[0].Weight.Data(), first.Net.Layers[0].Weight.Data(), final.Net.Layers[0].Weight.Data()
			if !slices.Equal(w0, w1) || slices.Equal(w1, w3) {
				t.Errorf("the convolution: trained in stage 1 %v, in stage 2 %v", !slices.Equal(w0, w1), !slices.Equal(w1, w3))
			}
		}
		if _, err := Run(context.Background(), Options{Config: tinyConfig(t, split, staged), Resume: filepath.Join(split, "last.ckpt")}); err != nil {
			t.Fatal(err)
		}
		got, _ := checkpoint.Load(filepath.Join(split, "last.ckpt"))
		for i, p := range final.Net.Params() {
			if !slices.Equal(p.Data(), got.Net.Params()[i].Data()) {
				t.Errorf("stopped after epoch %d: %s differs from the straight run", stop, p.Name)
			}
		}
	}
}

// TestEarlyStopping: a min_delta no epoch can beat stops the run after
// patience epochs, says why, and keeps the first epoch as the best.
func TestEarlyStopping(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	cfg := tinyConfig(t, dir, func(c *config.Config) {
		c.Train.Epochs = 5
		c.Train.EarlyStopping = &config.EarlyStopping{Monitor: "val_loss", Patience: 2, MinDelta: 10}
	})
	res, err := Run(context.Background(), Options{Config: cfg, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	want := "early stopping after epoch 3: val_loss has not improved by more than 10 for 2 epochs (best "
	if res.Epochs != 3 || res.BestEpoch != 1 || !strings.HasPrefix(res.Stopped, want) || !strings.Contains(log.String(), want) || !math.IsNaN(res.BestValAcc) || res.BestValLoss <= 0 {
		t.Fatalf("result %+v\nlog %s", res, log.String())
	}
	best, _ := checkpoint.Load(filepath.Join(dir, "best.ckpt"))
	if best.Epoch != 1 {
		t.Errorf("best.ckpt holds epoch %d", best.Epoch)
	}
	if rows, _ := ReadMetrics(filepath.Join(dir, "metrics.csv")); len(rows) != 3 {
		t.Errorf("%d metrics rows", len(rows))
	}
	// No validation set: nothing to watch.
	cfg = tinyConfig(t, t.TempDir(), func(c *config.Config) {
		c.Data.Validation = 0
		c.Train.EarlyStopping = &config.EarlyStopping{Monitor: "val_acc", Patience: 2}
	})
	if _, err := Run(context.Background(), Options{Config: cfg, ConfigPath: "tiny.yaml"}); err == nil || !strings.Contains(err.Error(), "there is none (set data.validation)") {
		t.Errorf("early stopping without validation: %v", err)
	}
}

// imbalancedFolder writes 36 images of class "a" (blank) and 12 of "b" (a bar).
func imbalancedFolder(t *testing.T) string {
	dir := t.TempDir()
	d := &data.Dataset{Shape: [3]int{1, 8, 8}, Classes: []string{"a", "b"}}
	for i := range 48 {
		img := make([]uint8, 64)
		label := 0
		if i%4 == 3 {
			label = 1
			for y := range 8 {
				img[y*8+3] = 255
			}
		}
		img[i%64] = uint8(i)
		d.Images = append(d.Images, img...)
		d.Labels = append(d.Labels, label)
	}
	if err := data.WriteFolder(d, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestClassWeightsSmoothingAndClipping trains on imbalanced classes with
// class_weights auto (inverse frequency in the training split of 24 a and
// 8 b: 32/(2·24) and 32/(2·8)), label
// smoothing and gradient clipping; the epoch lines show per-class recall.
func TestClassWeightsSmoothingAndClipping(t *testing.T) {
	folder := imbalancedFolder(t)
	doc := strings.Replace(tinyXO, "data: {source: xo, shape: [1, 16, 16], train_size: 320, test_size: 64, validation: 0.2}",
		"data: {source: folder, dir: "+folder+", shape: [1, 8, 8], validation: 0.25, test_split: 0.1}\npreprocess: {mode: resize, invert: no}", 1)
	doc = strings.Replace(doc, "optimizer: {name: adam, lr: 0.01}", "optimizer: {name: adam, lr: 0.01}\n  class_weights: auto\n  label_smoothing: 0.1\n  clip_grad_norm: 1", 1)
	cfg, err := config.Parse("w.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Output.Dir = t.TempDir()
	var log, progress bytes.Buffer
	if _, err := Run(context.Background(), Options{Config: cfg, Log: &log, Progress: NewProgress(&progress, false, false)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "class weights (auto, N/(K·n_class)): a 0.667, b 2\n") {
		t.Errorf("log:\n%s", log.String())
	}
	if !regexp.MustCompile(`recall a \d+\.\d% b \d+\.\d%`).MatchString(progress.String()) {
		t.Errorf("epoch lines without recall:\n%s", progress.String())
	}
	cfg.Train.ClassWeights = &config.ClassWeights{Values: []float64{1, 2, 3}}
	if _, err := Run(context.Background(), Options{Config: cfg, ConfigPath: "w.yaml"}); err == nil || !strings.Contains(err.Error(), "train.class_weights has 3 values, the data has 2 classes (a, b)") {
		t.Errorf("3 weights for 2 classes: %v", err)
	}
}

func TestClipGradNorm(t *testing.T) {
	g := [][]float32{{3, 0}, {0, 4}} // norm 5
	if n := ClipGradNorm(g, 10); n != 5 || g[0][0] != 3 {
		t.Fatalf("below the limit: norm %v, %v", n, g)
	}
	ClipGradNorm(g, 1)
	if math.Abs(float64(g[0][0])-0.6) > 1e-6 || math.Abs(float64(g[1][1])-0.8) > 1e-6 {
		t.Fatalf("clipped to norm 1: %v", g)
	}
}
