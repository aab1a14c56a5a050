package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// cnnctl runs the command line in-process and returns the exit status and
// both outputs.
func cnnctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, streams{Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

const tinyConfig = `name: tiny
seed: 2
data: {source: xo, shape: [1, 16, 16], train_size: 256, test_size: 100, validation: 0.1}
model:
  - {type: conv2d, filters: 4, kernel: 3}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 2}
train: {epochs: 2, batch_size: 16, optimizer: {name: adam, lr: 0.01}}
`

// buildCnnctl builds the binary into dir as `make build` does (pure Go,
// trimmed paths), for the tests that need real processes: they run what
// users run, and the build reuses the compile of make test's plain passes.
func buildCnnctl(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "cnnctl")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cnnctl: %v\n%s", err, out)
	}
	return bin
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainThenEval(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "tiny.yaml", tinyConfig)
	run := filepath.Join(dir, "run")
	code, out, errOut := cnnctl(t, "train", "-c", cfg, "--out", run, "--epochs", "3", "--quiet")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "trained tiny: 3 epochs") || !strings.Contains(out, "test accuracy") || errOut != "" {
		t.Errorf("quiet train printed:\n%s\nstderr:\n%s", out, errOut)
	}
	code, out, errOut = cnnctl(t, "eval", "--model", filepath.Join(run, "best.ckpt"), "--json", "--plot", filepath.Join(dir, "c.png"))
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, errOut)
	}
	var res struct {
		Accuracy  float64
		Loss      float64
		N         int
		PerClass  []map[string]any `json:"per_class"`
		Confusion [][]int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if res.N != 100 || len(res.PerClass) != 2 || len(res.Confusion) != 2 || res.Accuracy <= 0.5 {
		t.Errorf("eval result %+v", res)
	}
	if st, err := os.Stat(filepath.Join(dir, "c.png")); err != nil || st.Size() == 0 {
		t.Errorf("confusion plot: %v", err)
	}
	// eval --data reads an image folder too.
	xo := filepath.Join(dir, "xo")
	if code, _, errOut := cnnctl(t, "data", "xo", "--out", xo, "--n", "20", "--size", "16"); code != 0 {
		t.Fatalf("data xo: %s", errOut)
	}
	code, out, _ = cnnctl(t, "eval", "--model", filepath.Join(run, "last.ckpt"), "--data", xo)
	if code != 0 || !strings.Contains(out, "examples  20") || !strings.Contains(out, "confusion matrix") {
		t.Errorf("eval --data: %d\n%s", code, out)
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	dir := t.TempDir()
	cfgOK := writeFile(t, dir, "ok.yaml", tinyConfig)
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(tinyConfig, "kernel: 3}", "kernel: 3, units: 4}", 1))
	big := writeFile(t, dir, "big.yaml", strings.Replace(tinyConfig, "kernel: 3}", "kernel: 30}", 1))
	junk := writeFile(t, dir, "junk.ckpt", "not a checkpoint")
	huge := writeFile(t, dir, "huge.yaml", strings.Replace(tinyConfig, "filters: 4, kernel: 3}", "filters: 100000, kernel: 3}", 1))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train"}, 2, "train needs a config"},
		{[]string{"train", "-c", bad, "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"train", "-c", bad}, 1, bad + ":5: layer 0 (conv2d): field \"units\" does not apply"},
		{[]string{"train", "-c", big}, 1, big + ":5: layer 0 (conv2d): kernel 30×30 is larger than its input 1×16×16"},
		{[]string{"train", "-c", filepath.Join(dir, "none.yaml")}, 1, "none.yaml: no such file"},
		{[]string{"eval", "--model", junk}, 1, junk + ": not a safetensors file"},
		{[]string{"eval"}, 2, "eval needs --model"},
		{[]string{"train", "-c", bad, "extra"}, 2, "takes 0 argument"},
		{[]string{"data", "xo", "--n", "0", "--out", dir}, 2, "--n must be at least 1"},
		{[]string{"train", "-c", bad, "--epochs", "0"}, 2, "--epochs must be at least 1, got 0"},
		{[]string{"export", "--model", junk, "--format", "onnx", "--out", filepath.Join(dir, "m.onnx"), "--module", filepath.Join(dir, "m.py")}, 2, "--module goes with --format safetensors"},
		{[]string{"train", "-c", huge}, 1, huge + ": training this network at batch size 16 needs about"},
		{[]string{"train", "-c", cfgOK, "--max-memory", "0.001"}, 1, "more than the 0.00 GB allowed"},
		{[]string{"train", "-c", bad, "--batch-size", "0"}, 2, "--batch-size must be at least 1, got 0"},
	}
	for _, c := range cases {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
		if strings.Contains(errOut, "goroutine") || strings.Count(strings.TrimSpace(errOut), "\n") > 2 {
			t.Errorf("%v: not a short message:\n%s", c.args, errOut)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range []string{"train", "eval", "data mnist", "data xo"} {
		code, out, _ := cnnctl(t, append(strings.Fields(cmd), "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "cnnctl "+cmd) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
	// train's --help lists every registered layer kind, and the data sources.
	_, out, _ := cnnctl(t, "train", "--help")
	for _, k := range layers.Kinds() {
		if !strings.Contains(out, "  "+k.Name+" ") {
			t.Errorf("train --help does not list the layer kind %s", k.Name)
		}
	}
	for _, src := range config.Sources {
		if !strings.Contains(out, src) {
			t.Errorf("train --help does not name the data source %s", src)
		}
	}
	if code, out, _ := cnnctl(t, "version"); code != 0 || !strings.HasPrefix(out, "cnnctl ") {
		t.Errorf("version: %d %q", code, out)
	}
}
