package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSweepCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", tinyConfig)
	sw := writeFile(t, dir, "s.yaml", "method: grid\nepochs: 1\nparams:\n  model[0].filters: [2, 4]\n  train.batch_size: [16, 1000]\n")
	out := filepath.Join(dir, "sweep")
	code, stdout, errOut := cnnctl(t, "sweep", "-c", cfg, "-s", sw, "--out", out, "--parallel", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// 4 trials; batch 1000 is more than the 230 training images: recorded as failed, the sweep goes on.
	n := 0
	for _, line := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(line, "trial ") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d trial lines:\n%s", n, errOut)
	}
	if !strings.Contains(stdout, "| 4 |") || !strings.Contains(stdout, "failed: ") || !strings.Contains(stdout, "fewer than train.batch_size 1000") {
		t.Errorf("table:\n%s", stdout)
	}
	for _, f := range []string{"results.csv", "results.md", "best.yaml", "sweep.png", "trial-001/best.ckpt", "trial-004"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// A bad key is refused before any trial runs, naming the sweep file's line.
	bad := writeFile(t, dir, "bad.yaml", "params:\n  model.conv9.filters: [2]\n")
	code, _, errOut = cnnctl(t, "sweep", "-c", cfg, "-s", bad, "--out", filepath.Join(dir, "bad"), "--parallel", "1")
	if code != 1 || !strings.Contains(errOut, bad+":2: model.conv9.filters: no layer is named \"conv9\"") {
		t.Errorf("bad key: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a refused sweep made its folder")
	}
	if code, _, errOut := cnnctl(t, "sweep", "-c", cfg, "-s", sw, "--out", filepath.Join(dir, "p"), "--parallel", "99"); code != 2 || !strings.Contains(errOut, "--parallel must be 1 to") {
		t.Errorf("--parallel 99: exit %d %q", code, errOut)
	}
}

// TestSweepInParallel runs trials side by side in child processes of the
// real binary (each on its share of the cores).
func TestSweepInParallel(t *testing.T) {
	dir := t.TempDir()
	bin := buildCnnctl(t, dir)
	cfg := writeFile(t, dir, "c.yaml", tinyConfig)
	sw := writeFile(t, dir, "s.yaml", "method: random\ntrials: 3\nseed: 2\nepochs: 1\nparams:\n  train.optimizer.lr: {log_uniform: [0.001, 0.1]}\n")
	out, err := exec.Command(bin, "sweep", "-c", cfg, "-s", sw, "--out", filepath.Join(dir, "sweep"), "--parallel", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, "sweep", "trial-00"+string(rune('0'+i)), "best.ckpt")); err != nil {
			t.Errorf("trial %d: %v\n%s", i, err, out)
		}
	}
}
