package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeCommand starts `cnnctl serve` on a free loopback port, asks it
// for a prediction of an X-vs-O drawing (the answer `cnnctl predict` gives),
// and stops it as SIGTERM would.
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	ckpt := trainTiny(t, dir, tinyConfig)
	xo := filepath.Join(dir, "xo")
	if code, _, errOut := cnnctl(t, "data", "xo", "--out", xo, "--n", "2", "--size", "40"); code != 0 {
		t.Fatal(errOut)
	}
	img, _ := os.ReadFile(filepath.Join(xo, "o", "00000.png"))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, &serveOptions{Models: []string{"xo=" + ckpt}, Addr: "127.0.0.1:0", MaxBatch: 8, MaxWait: time.Millisecond,
			MaxBodyMB: 1, InFlight: 8, LogFormat: "json", Ready: ready}, streams{Out: &bytes.Buffer{}, Err: &errb})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	r, err := http.Post("http://"+addr+"/v1/models/xo/predict", "image/png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Predictions []struct{ Label string }
	}
	json.NewDecoder(r.Body).Decode(&v)
	r.Body.Close()
	// The same answer as cnnctl predict on the file.
	_, out, _ := cnnctl(t, "predict", "--model", ckpt, "--json", filepath.Join(xo, "o", "00000.png"))
	var want struct{ Label string }
	json.Unmarshal([]byte(out), &want)
	if r.StatusCode != 200 || len(v.Predictions) != 1 || v.Predictions[0].Label != want.Label {
		t.Errorf("predict: %d %+v, cnnctl predict says %q", r.StatusCode, v, want.Label)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stopping: %v", err)
	}
	if !strings.Contains(errb.String(), `"msg":"request"`) || !strings.Contains(errb.String(), `"status":200`) {
		t.Errorf("no JSON access log:\n%s", errb.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "serve needs --model CKPT"},
		{[]string{"serve", "--model", ckpt, "--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"serve", "--model", ckpt, "--max-batch", "0"}, "--max-batch, --max-body-mb and --max-in-flight must be at least 1"},
		{[]string{"serve", "--model", ckpt, "--infer-cores", "-1"}, "--infer-cores and --max-wait not negative"},
		{[]string{"serve", "--model", "a=" + ckpt, "--model", "a=" + ckpt}, `two models are named "a"`},
		{[]string{"serve", "--model", filepath.Join(dir, "none.ckpt")}, "none.ckpt"},
	} {
		code, _, errOut := cnnctl(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q", c.args, code, errOut)
		}
	}
}
