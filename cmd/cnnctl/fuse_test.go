package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
)

const bnConfig = `name: bn
seed: 3
data: {source: xo, shape: [1, 16, 16], train_size: 256, test_size: 100, validation: 0.1}
model:
  - {type: conv2d, filters: 4, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: batchnorm}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 8, bias: false}
  - {type: batchnorm}
  - {type: relu}
  - {type: dense, units: 2}
train: {epochs: 2, batch_size: 16, optimizer: {name: momentum, lr: 0.02}}
`

func trainTiny(t *testing.T, dir, doc string) string {
	t.Helper()
	cfg := writeFile(t, dir, "c.yaml", doc)
	run := filepath.Join(dir, "run")
	if code, _, errOut := cnnctl(t, "train", "-c", cfg, "--out", run, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	return filepath.Join(run, "best.ckpt")
}

func TestFuse(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, bnConfig)
	out := filepath.Join(dir, "fused.ckpt")
	code, stdout, errOut := cnnctl(t, "fuse", "--model", ckpt, "--out", out)
	if code != 0 {
		t.Fatalf("fuse: %s", errOut)
	}
	for _, want := range []string{
		"folded    layer 1 (batchnorm) into layer 0 (conv2d 4@3×3 s1 p0)",
		"kept      layer 3 (batchnorm): it follows relu (layer 2), not a conv1d, conv2d, conv_transpose2d or dense layer",
		"folded    layer 7 (batchnorm) into layer 6 (dense 8)",
		"proof on  the test split of xo: 100 inputs",
		"changed predictions 0 of 100",
		"parameters          ",
		"img/s",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("fuse output lacks %q:\n%s", want, stdout)
		}
	}
	// The accuracy line shows the same figure twice.
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "accuracy") {
			f := strings.Fields(line)
			if len(f) != 4 || f[1] != f[3] {
				t.Errorf("accuracy changed: %q", line)
			}
		}
	}
	// The fused checkpoint is ordinary: eval and fine-tuning take it.
	if code, stdout, _ := cnnctl(t, "eval", "--model", out); code != 0 || !strings.Contains(stdout, "examples  100") {
		t.Errorf("eval of fused: %d\n%s", code, stdout)
	}
	code, stdout, errOut = cnnctl(t, "train", "--resume", out, "--epochs", "3", "--out", filepath.Join(dir, "tuned"), "--quiet")
	if code != 0 {
		t.Errorf("fine-tuning the fused model: %s", errOut)
	}
	// The summary counts the epochs this run trained, after the checkpoint's.
	m := regexp.MustCompile(`trained bn: (\d) (epochs?) \(resumed after epoch (\d)\)`).FindStringSubmatch(stdout)
	if m == nil || m[1] == "1" != (m[2] == "epoch") || int(m[1][0]-'0')+int(m[3][0]-'0') != 3 {
		t.Errorf("resumed run's summary:\n%s", stdout)
	}
}

func TestFuseNothingToFold(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, tinyConfig)
	code, stdout, _ := cnnctl(t, "fuse", "--model", ckpt)
	if code != 0 || !strings.Contains(stdout, "nothing to fold") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(strings.TrimSuffix(ckpt, ".ckpt") + ".fused.ckpt"); err == nil {
		t.Error("wrote a checkpoint though nothing was folded and no --out was given")
	}
}

func TestFuseBadInputs(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, bnConfig)
	b, _ := os.ReadFile(ckpt)
	trunc := writeFile(t, dir, "trunc.ckpt", string(b[:len(b)/2]))
	junk := writeFile(t, dir, "junk.ckpt", "hello")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"fuse", "--model", junk}, junk + ": not a safetensors file"},
		{[]string{"fuse", "--model", trunc}, trunc + ": tensor"},
		{[]string{"fuse", "--model", ckpt, "--out", filepath.Join(dir, "no", "such", "dir", "f.ckpt")}, "writing " + filepath.Join(dir, "no", "such", "dir", "f.ckpt")},
	}
	for _, c := range cases {
		code, _, errOut := cnnctl(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errOut, c.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestExportBadInputs(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, bnConfig)
	b, _ := os.ReadFile(ckpt)
	trunc := writeFile(t, dir, "trunc.ckpt", string(b[:100]))
	junk := writeFile(t, dir, "junk.ckpt", "hello")
	nowhere := filepath.Join(dir, "missing-dir", "m.onnx")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--model", junk, "--format", "onnx", "--out", filepath.Join(dir, "a.onnx")}, 1, junk + ": not a safetensors file"},
		{[]string{"export", "--model", trunc, "--format", "onnx", "--out", filepath.Join(dir, "a.onnx")}, 1, trunc + ": truncated: the header alone needs"},
		{[]string{"export", "--model", ckpt, "--format", "onnx", "--out", nowhere}, 1, "writing " + nowhere},
		{[]string{"export", "--model", ckpt, "--format", "tflite", "--out", filepath.Join(dir, "a")}, 2, "unknown --format \"tflite\""},
	}
	for _, c := range cases {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".onnx") || strings.Contains(e.Name(), ".tmp") || e.Name() == "a" {
			t.Errorf("left behind %s", e.Name())
		}
	}
	// And the good case writes both formats, with the preprocessing recipe.
	st, err := checkpoint.ReadSafetensors(func() string {
		out := filepath.Join(dir, "meta.safetensors")
		cnnctl(t, "export", "--model", ckpt, "--format", "safetensors", "--out", out)
		return out
	}())
	if err != nil || st.Metadata["cnnctl.preprocess"] != `{"mode":"fit","invert":"auto","fill":0.6}` {
		t.Errorf("export metadata %v (%v)", st.Metadata, err)
	}
	for _, f := range []string{"onnx", "safetensors"} {
		out := filepath.Join(dir, "m."+f)
		if code, stdout, errOut := cnnctl(t, "export", "--model", ckpt, "--format", f, "--out", out); code != 0 || !strings.Contains(stdout, "wrote "+out) {
			t.Errorf("export %s: %d %s %s", f, code, stdout, errOut)
		}
	}
}

// A checkpoint whose weights are not finite is refused by every command that
// loads it, naming the tensor, rather than predicting NaN or "proving" a fold
// with max |Δlogit| NaN.
func TestNonFiniteWeightsAreRefused(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, bnConfig)
	st, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	st.Net.Layers[6].Weight.Data()[3] = float32(math.NaN())
	bad := filepath.Join(dir, "nan.ckpt")
	if err := checkpoint.Save(bad, st); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cnnctl(t, "data", "xo", "--out", filepath.Join(dir, "xo"), "--n", "2", "--size", "16"); code != 0 {
		t.Fatal(errOut)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "xo", "*", "*.png"))
	img := pngs[0]
	for _, args := range [][]string{
		{"eval", "--model", bad},
		{"predict", "--model", bad, img},
		{"fuse", "--model", bad, "--out", filepath.Join(dir, "f.ckpt")},
		{"export", "--model", bad, "--format", "onnx", "--out", filepath.Join(dir, "m.onnx")},
	} {
		code, _, errOut := cnnctl(t, args...)
		if code != 1 || !strings.Contains(errOut, bad+": tensor 6.weight holds NaN at index 3") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "f.ckpt")); err == nil {
		t.Error("fuse wrote a checkpoint")
	}
}
