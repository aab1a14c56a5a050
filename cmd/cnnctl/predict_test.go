package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPredictCommand(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, tinyConfig)
	xo := filepath.Join(dir, "xo")
	if code, _, errOut := cnnctl(t, "data", "xo", "--out", xo, "--n", "6", "--size", "40"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := cnnctl(t, "predict", "--model", ckpt, "--top", "2", "--json", "--recursive", xo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	var p struct {
		File        string
		Label       string
		Index       *int
		Probability float64
		Top         []struct {
			Label       string
			Probability float64
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p.File, "o/00000.png") || p.Index == nil || len(p.Top) != 2 || p.Top[0].Label != p.Label ||
		p.Probability <= 0 || p.Probability > 1 {
		t.Errorf("first prediction %+v", p)
	}

	// A bad file among good ones: its message on stderr, the rest classified, exit 1.
	bad := writeFile(t, dir, "bad.png", "not an image")
	var img bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 30, 30))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	g.SetGray(15, 15, color.Gray{0})
	png.Encode(&img, g)
	good := writeFile(t, dir, "good.png", img.String())
	debug := filepath.Join(dir, "seen")
	code, out, errOut = cnnctl(t, "predict", "--model", ckpt, "--debug-dir", debug, bad, good)
	if code != 1 || !strings.Contains(errOut, bad+": not an image") || !strings.HasPrefix(out, good+"\t") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if entries, _ := os.ReadDir(debug); len(entries) != 1 {
		t.Errorf("debug dir holds %d files", len(entries))
	}

	// Standard input.
	var sout, serr bytes.Buffer
	code = runWithStdin(t, []string{"predict", "--model", ckpt, "-"}, img.Bytes(), &sout, &serr)
	if code != 0 || !strings.HasPrefix(sout.String(), "-\t") {
		t.Errorf("stdin: exit %d %q %q", code, sout.String(), serr.String())
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"predict", "--model", ckpt}, 2, "predict needs image files"},
		{[]string{"predict", "--model", ckpt, "--invert", "maybe", good}, 2, "--invert must be auto, yes or no"},
		{[]string{"predict", "--model", bad, good}, 1, bad + ": not a safetensors file"},
		{[]string{"predict", "--model", ckpt, filepath.Join(dir, "nope.png")}, 1, "nope.png: no such file or directory"},
	} {
		code, _, errOut := cnnctl(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %d %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// runWithStdin runs predict with the given standard input.
func runWithStdin(t *testing.T, args []string, stdin []byte, out, errb *bytes.Buffer) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Write(stdin); w.Close() }()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	return run(args, streams{Out: out, Err: errb})
}
