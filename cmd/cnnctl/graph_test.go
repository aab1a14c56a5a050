package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// graphConfig is a small residual network on X-vs-O: a named stem, a block
// used twice, an add and global pooling.
const graphConfig = `name: tinyres
seed: 2
data: {source: xo, shape: [1, 16, 16], train_size: 256, test_size: 100, validation: 0.1}
blocks:
  res:
    - {type: conv2d, filters: 4, kernel: 3, padding: 1, bias: false}
    - {type: batchnorm, name: bn}
    - {type: add, inputs: [bn, input]}
    - {type: relu}
model:
  - {type: conv2d, name: stem, filters: 4, kernel: 3, padding: 1}
  - {type: relu}
  - {type: block, block: res, name: res1}
  - {type: block, block: res, name: res2}
  - {type: global_avgpool}
  - {type: dense, units: 2}
train: {epochs: 2, batch_size: 16, optimizer: {name: adam, lr: 0.01}}
`

// Each bad graph gives one line naming the file and line and what is
// wrong, exit 1, and no run folder: nothing is trained.
func TestBadGraphConfigs(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, old, new, want string
	}{
		{"add of mismatched shapes", "  - {type: block, block: res, name: res2}",
			"  - {type: conv2d, name: wide, filters: 8, kernel: 3, padding: 1}\n  - {type: add, inputs: [wide, res1]}",
			":15: layer 7 (add): inputs must have the same shape, but wide gives 8×16×16 and res1.3 gives 4×16×16"},
		{"input that does not exist", "inputs: [bn, input]", "inputs: [bn, nowhere]",
			":8: block res, layer 2 (add): inputs: no layer before it is named \"nowhere\""},
		{"input that comes later", "  - {type: relu}\n  - {type: block",
			"  - {type: relu, inputs: [res1]}\n  - {type: block",
			":12: layer 1 (relu): inputs: \"res1\" comes later (line 13)"},
		{"cycle", "  - {type: relu}\n  - {type: block", "  - {type: relu, name: r, inputs: [r]}\n  - {type: block",
			":12: layer r (relu): inputs: a layer cannot take its own output (that would be a cycle)"},
		{"groups that do not divide", "name: stem, filters: 4, kernel: 3, padding: 1}", "name: stem, filters: 4, kernel: 3, padding: 1, groups: 3}",
			":11: layer stem (conv2d): groups 3 does not divide filters 4"},
		{"groups that do not divide the input", "  - {type: global_avgpool}",
			"  - {type: conv2d, filters: 6, kernel: 1, groups: 3}\n  - {type: global_avgpool}",
			":15: layer 10 (conv2d): groups 3 does not divide its 4 input channels"},
		{"transposed conv with an empty output", "  - {type: global_avgpool}",
			"  - {type: conv_transpose2d, filters: 2, kernel: 1, padding: 9}\n  - {type: global_avgpool}",
			":15: layer 10 (conv_transpose2d): output would be empty (-2×-2)"},
		{"unknown block", "block: res, name: res2", "block: ress, name: res2",
			":14: layer res2 (block): no block is named \"ress\" (known: res)"},
		{"join with one input", "inputs: [bn, input]", "inputs: [bn]",
			":8: block res, layer 2 (add): add joins two or more layers: give inputs: [a, b]"},
		{"name used twice", "name: res2}", "name: res1}", ":14: layer res1 (block): the name \"res1\" is used twice"},
		{"dangling branch", "  - {type: global_avgpool}",
			"  - {type: conv2d, name: lost, filters: 2, kernel: 1}\n  - {type: global_avgpool, inputs: [res2]}",
			":15: layer lost (conv2d): no layer takes its output"},
		{"padding same with stride 2", "kernel: 3, padding: 1}", "kernel: 3, padding: same, stride: 2}",
			":11: layer stem (conv2d): padding same needs stride 1, got stride 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(graphConfig, c.old) {
				t.Fatalf("config lacks %q", c.old)
			}
			path := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "-")+".yaml", strings.Replace(graphConfig, c.old, c.new, 1))
			out := filepath.Join(dir, "run-"+strings.ReplaceAll(c.name, " ", "-"))
			code, _, errOut := cnnctl(t, "train", "-c", path, "--out", out, "--quiet")
			if code != 1 || !strings.Contains(errOut, path+c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, errOut, path+c.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("not one line:\n%s", errOut)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a run folder was made")
			}
		})
	}
}

// The residual network trains, evaluates, fuses (every batch norm sits
// before an add) and exports.
func TestGraphTrainFuseExport(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "res.yaml", graphConfig)
	run := filepath.Join(dir, "run")
	if code, _, errOut := cnnctl(t, "train", "-c", cfg, "--out", run, "--quiet"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	best := filepath.Join(run, "best.ckpt")
	code, out, errOut := cnnctl(t, "fuse", "--model", best, "--out", filepath.Join(dir, "f.ckpt"))
	if code != 0 || !strings.Contains(out, "folded    layer res1.bn (batchnorm) into layer res1.0") ||
		!strings.Contains(out, "folded    layer res2.bn (batchnorm) into layer res2.0") || !strings.Contains(out, "changed predictions 0 of") {
		t.Fatalf("fuse: %d\n%s%s", code, out, errOut)
	}
	for _, ck := range []string{best, filepath.Join(dir, "f.ckpt")} {
		if code, out, errOut := cnnctl(t, "eval", "--model", ck); code != 0 || !strings.Contains(out, "accuracy") {
			t.Errorf("eval %s: %d %s%s", ck, code, out, errOut)
		}
		if code, _, errOut := cnnctl(t, "export", "--model", ck, "--format", "onnx", "--out", ck+".onnx"); code != 0 {
			t.Errorf("export %s: %s", ck, errOut)
		}
	}
	code, out, errOut = cnnctl(t, "export", "--model", best, "--format", "safetensors", "--out", filepath.Join(dir, "w.safetensors"))
	if code != 0 || !strings.Contains(out, `_put(self, "res1.0", nn.Conv2d(4, 4, kernel_size=3, stride=1, padding=1, bias=False))`) ||
		!strings.Contains(out, "h4 = h3 + h1") {
		t.Errorf("export safetensors: %d\n%s%s", code, out, errOut)
	}
}
