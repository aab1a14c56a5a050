package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// issue's bar is 500 MB; every case stays near 25 MB, measured as the
// process's own high-water mark).
const maxCaseRSS = 100 << 20

func TestBadInputCorpus(t *testing.T) {
	f, err := os.Open("testdata/bad/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	model := trainTiny(t, dir, tinyConfig)
	signalModel := trainTinySignals(t, t.TempDir())
	// Each case runs in its own process of the real binary, so that its
	// peak memory can be measured.
	bin := buildCnnctl(t, dir)
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
			case "train-signals", "train-signals-window":
				abs, _ := filepath.Abs(file)
				cfg := writeFile(t, dir, "signals-"+strconv.Itoa(n)+".yaml", badSignalsConfig(abs, cmd == "train-signals-window"))
				args = []string{"train", "-c", cfg, "--out", filepath.Join(dir, "run-"+strconv.Itoa(n)), "--quiet"}
			case "predict-signals":
				args = []string{"predict", "--model", signalModel, file}
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
			rssFile := filepath.Join(dir, "rss-"+strconv.Itoa(n))
			proc.Env = append(os.Environ(), "CNNCTL_PEAK_RSS="+rssFile)
			proc.Run()
			got := proc.ProcessState.ExitCode()
			// The process's own high-water mark: wait4's maximum would also
			// count the test process's pages, which the child shares until it
			// execs (large under the race detector).
			b, err := os.ReadFile(rssFile)
			if err != nil {
				t.Fatalf("the command did not report its peak memory: %v", err)
			}
			rss, _ := strconv.ParseInt(string(b), 10, 64)
			t.Logf("peak RSS %d MB", rss>>20)
			if rss > maxCaseRSS {
				t.Errorf("peak RSS %d MB, more than %d MB", rss>>20, maxCaseRSS>>20)
			}
			msg := strings.TrimSpace(stderr.String())
			if cmd == "predict" || cmd == "predict-signals" {
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

// badSignalsConfig reads the recordings at path as 1×16 examples (1×32
// windows with window), an .npy array with the corpus's labels beside it.
func badSignalsConfig(path string, window bool) string {
	extra, shape := "", "[1, 16]"
	if strings.HasSuffix(path, ".npy") {
		extra = ", labels: " + filepath.Join(filepath.Dir(path), "labels4.npy")
	}
	if window {
		extra, shape = extra+", window: 32", "[1, 32]"
	}
	return "name: s\ndata: {source: signals, dir: " + path + ", shape: " + shape + ", validation: 0" + extra + "}\n" +
		"model:\n  - {type: conv1d, filters: 4, kernel: 3}\n  - {type: relu}\n  - {type: global_avgpool}\n  - {type: dense, units: 2}\n" +
		"train: {epochs: 1, batch_size: 2, optimizer: {name: sgd, lr: 0.1}}\n"
}
