package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestBadInputCorpus runs every file of testdata/bad through the command
// that reads it (expected.tsv lists file, command, exit status and what
// the message says) and checks what a user sees: the stated exit status,
// exactly one line, naming the file, no stack trace or internal error, and
// a peak memory under 100 MB.
// The corpus was made once by hand-written rules (configs, idx folders,
// images, checkpoints) and is part of the repository.
// maxCaseRSS bounds the memory a bad input may make a command take (the
// issue's bar is 500 MB; every case stays near 35 MB).
const maxCaseRSS = 100 << 20

func TestBadInputCorpus(t *testing.T) {
	f, err := os.Open("testdata/bad/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	model := trainTiny(t, dir, tinyConfig)
	// Each case runs in its own process of the real binary, so that its
	// peak memory can be measured.
	bin := filepath.Join(dir, "cnnctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building cnnctl: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		col := strings.Split(line, "\t")
		file, cmd, want := filepath.Join("testdata/bad", col[0]), col[1], col[3]
		code, _ := strconv.Atoi(col[2])
		n++
		t.Run(col[0], func(t *testing.T) {
			var args []string
			named := file
			switch cmd {
			case "train":
				args = []string{"train", "-c", file, "--out", filepath.Join(dir, "run-"+strconv.Itoa(n)), "--quiet"}
			case "eval-mnist":
				cfg := writeFile(t, dir, "mnist-"+strconv.Itoa(n)+".yaml", strings.Replace(tinyConfig,
					"data: {source: xo, shape: [1, 16, 16], train_size: 256, test_size: 100, validation: 0.1}",
					"data: {source: mnist, dir: "+file+"}", 1))
				args = []string{"train", "-c", cfg, "--out", filepath.Join(dir, "run-"+strconv.Itoa(n)), "--quiet"}
			case "predict":
				args = []string{"predict", "--model", model, file}
			case "eval":
				args = []string{"eval", "--model", file}
			case "visualize":
				args = []string{"visualize", "--model", model, file, "--out", filepath.Join(dir, "vis-"+strconv.Itoa(n))}
			case "visualize-model":
				args = []string{"visualize", "--model", file, "--out", filepath.Join(dir, "vis-"+strconv.Itoa(n))}
			case "convolve":
				args = []string{"convolve", file, "--kernel", "blur", "--out", filepath.Join(dir, "conv-"+strconv.Itoa(n)+".png")}
			default:
				t.Fatalf("unknown command %q", cmd)
			}
			proc := exec.Command(bin, args...)
			var stderr strings.Builder
			proc.Stderr = &stderr
			proc.Run()
			got := proc.ProcessState.ExitCode()
			rss := proc.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			t.Logf("peak RSS %d MB", rss>>20)
			if rss > maxCaseRSS {
				t.Errorf("peak RSS %d MB, more than %d MB", rss>>20, maxCaseRSS>>20)
			}
			msg := strings.TrimSpace(stderr.String())
			if cmd == "predict" {
				// predict names each file it could not read, then sums up.
				msg = strings.TrimSuffix(msg, "\ncnnctl: 1 input(s) could not be classified")
			}
			if got != code {
				t.Errorf("exit %d, want %d: %s", got, code, msg)
			}
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("more than one line:\n%s", msg)
			}
			if !strings.Contains(msg, named) || !strings.Contains(msg, want) {
				t.Errorf("message %q should name %s and say %q", msg, named, want)
			}
			for _, bad := range []string{"goroutine", "panic", "internal error", "runtime error"} {
				if strings.Contains(msg, bad) {
					t.Errorf("message shows %q: %s", bad, msg)
				}
			}
		})
	}
	if n < 60 {
		t.Errorf("the corpus has %d cases, fewer than 60", n)
	}
}
