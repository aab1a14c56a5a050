package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/predict"
	"github.com/cnnctl/cnnctl/internal/train"
)

const tinyXO = `name: tiny
seed: 3
data: {source: xo, shape: [1, 16, 16], train_size: 320, test_size: 64, validation: 0.2}
model:
  - {type: conv2d, filters: 4, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 2}
train: {epochs: 2, batch_size: 16, optimizer: {name: adam, lr: 0.01}}
`

var (
	modelOnce sync.Once
	modelPath string
	modelErr  error
)

// tinyModel trains the X-vs-O model the tests serve (once per test binary).
func tinyModel(t *testing.T) string {
	t.Helper()
	modelOnce.Do(func() {
		dir, err := os.MkdirTemp("", "serve-model")
		if err != nil {
			modelErr = err
			return
		}
		cfg, err := config.Parse("tiny.yaml", []byte(tinyXO))
		if err != nil {
			modelErr = err
			return
		}
		cfg.Output.Dir = dir
		_, modelErr = train.Run(context.Background(), train.Options{Config: cfg})
		modelPath = filepath.Join(dir, "best.ckpt")
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return modelPath
}

// drawing is a 40×40 PNG of an X or an O, dark on white.
func drawing(t *testing.T, x bool) []byte {
	img := image.NewGray(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for i := 6; i < 34; i++ {
		if x {
			img.SetGray(i, i, color.Gray{})
			img.SetGray(39-i, i, color.Gray{})
			img.SetGray(i+1, i, color.Gray{})
			img.SetGray(38-i, i, color.Gray{})
		}
	}
	if !x {
		for a := 0; a < 720; a++ {
			for r := 12.0; r < 14; r += 0.5 {
				fx, fy := 20+r*cos(float64(a)/2), 20+r*sin(float64(a)/2)
				img.SetGray(int(fx), int(fy), color.Gray{})
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// start serves the tiny model on a real 127.0.0.1 listener.
func start(t *testing.T, opts Options) (string, *Server, context.CancelFunc, chan error) {
	t.Helper()
	path := tinyModel(t)
	srv, err := New(opts, []string{"xo", "again"}, map[string]string{"xo": path, "again": path})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	base := "http://" + ln.Addr().String()
	for range 100 { // until ready
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return base, srv, cancel, done
}

type response struct {
	Model       string               `json:"model"`
	Batch       int                  `json:"batch"`
	Predictions []predict.Prediction `json:"predictions"`
	Timing      map[string]float64   `json:"timing_ms"`
	Error       string               `json:"error"`
}

func post(t *testing.T, url, ctype string, body []byte) (int, response) {
	t.Helper()
	r, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var out response
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: not JSON: %q", url, b)
	}
	return r.StatusCode, out
}

// TestEndpoints: every endpoint answers, and a file gets the same answer
// over HTTP as from predict.
func TestEndpoints(t *testing.T) {
	base, _, _, _ := start(t, Options{})
	xpng, opng := drawing(t, true), drawing(t, false)

	st, err := checkpoint.Load(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := predict.New(st, st.Config.Preprocess, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var want []predict.Prediction
	p.Predict([]predict.Input{{Name: "x", Data: xpng}, {Name: "o", Data: opng}}, 2, func(pr predict.Prediction, err error) { want = append(want, pr) })

	code, got := post(t, base+"/v1/predict?top=2", "image/png", xpng)
	if code != 200 || len(got.Predictions) != 1 || got.Predictions[0].Label != want[0].Label ||
		abs(got.Predictions[0].Probability-want[0].Probability) > 1e-6 || len(got.Predictions[0].Top) != 2 || got.Batch != 1 || got.Timing["total"] <= 0 {
		t.Fatalf("image body: %d %+v, want %+v", code, got, want[0])
	}
	// Multipart with two files, on a named model.
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	for name, b := range map[string][]byte{"x.png": xpng, "o.png": opng} {
		w, _ := mw.CreateFormFile("file", name)
		w.Write(b)
	}
	mw.Close()
	code, got = post(t, base+"/v1/models/again/predict", mw.FormDataContentType(), mb.Bytes())
	if code != 200 || len(got.Predictions) != 2 || got.Model != "again" {
		t.Fatalf("multipart: %d %+v", code, got)
	}
	for _, pr := range got.Predictions {
		w := want[0]
		if pr.File == "o.png" {
			w = want[1]
		}
		if pr.Label != w.Label || abs(pr.Probability-w.Probability) > 1e-6 {
			t.Errorf("multipart %s: %+v, want %+v", pr.File, pr, w)
		}
	}
	// JSON: base64 images, and normalised arrays.
	js, _ := json.Marshal(map[string]any{"images": []string{base64.StdEncoding.EncodeToString(opng)}})
	code, got = post(t, base+"/v1/predict", "application/json", js)
	if code != 200 || got.Predictions[0].Label != want[1].Label {
		t.Fatalf("JSON image: %d %+v", code, got)
	}
	px, _ := p.Load(predict.Input{Name: "x", Data: xpng})
	norm := make([]float32, len(px))
	ds := &data.Dataset{Shape: [3]int{1, 16, 16}, Images: px, Labels: []int{0}}
	data.NewBatcher(ds, data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std}).Fill(norm, nil, []int{0})
	js, _ = json.Marshal(map[string]any{"inputs": [][]float32{norm}})
	code, got = post(t, base+"/v1/predict", "application/json", js)
	if code != 200 || got.Predictions[0].Label != want[0].Label || abs(got.Predictions[0].Probability-want[0].Probability) > 1e-6 {
		t.Fatalf("JSON inputs: %d %+v", code, got)
	}
	for _, path := range []string{"/v1/model", "/v1/models", "/v1/models/xo", "/healthz", "/readyz"} {
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		r.Body.Close()
		if r.StatusCode != 200 || len(v) == 0 {
			t.Errorf("%s: %d %v", path, r.StatusCode, v)
		}
	}
	r, _ := http.Get(base + "/metrics")
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{`cnnctl_requests_total{code="200",route="predict"}`, "cnnctl_request_seconds_bucket", "cnnctl_batch_size_bucket", "cnnctl_in_flight_requests"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// hugePNG is a valid PNG header declaring 30000×30000 pixels (and no data).
func hugePNG() []byte {
	chunk := func(typ string, d []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(d)))
		b = append(b, typ...)
		b = append(b, d...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), d...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, 30000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 30000)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	return append(out, chunk("IEND", nil)...)
}

// TestBadRequests: each gets a 4xx with a JSON error, and the server keeps
// serving; a client that sends headers and stalls is cut off by the read
// timeout without holding up the others.
func TestBadRequests(t *testing.T) {
	base, _, _, _ := start(t, Options{MaxBody: 1 << 20, ReadTimeout: 300 * time.Millisecond})
	for _, c := range []struct {
		path, ctype string
		body        []byte
		code        int
		want        string
	}{
		{"/v1/predict", "image/png", []byte("garbage, not a picture"), 400, "body: not an image in a supported format"},
		{"/v1/predict", "image/png", hugePNG(), 400, "declares 30000×30000 pixels, more than the"},
		{"/v1/predict", "image/png", make([]byte, 2<<20), 413, "larger than the 1048576 bytes allowed"},
		{"/v1/predict", "text/plain", []byte("7"), 415, `content type "text/plain"`},
		{"/v1/predict", "application/json", []byte(`{"pictures": []}`), 400, "JSON body"},
		{"/v1/predict", "application/json", []byte(`{"inputs": [[1, 2, 3]]}`), 400, "inputs[0] has 3 values; the model takes [1 16 16] = 256"},
		{"/v1/predict", "application/json", []byte(`{"images": ["%%%"]}`), 400, "images[0] is not base64"},
		{"/v1/predict?top=zero", "image/png", drawing(t, true), 400, "top must be a whole number"},
		{"/v1/models/nope/predict", "image/png", drawing(t, true), 404, `no model is named "nope" (serving [xo again])`},
		{"/v1/nothing", "image/png", nil, 404, "no such endpoint"},
	} {
		code, got := post(t, base+c.path, c.ctype, c.body)
		if code != c.code || !strings.Contains(got.Error, c.want) {
			t.Errorf("%s %s: %d %q, want %d %q", c.path, c.ctype, code, got.Error, c.code, c.want)
		}
	}
	// Headers, then nothing: the server drops the connection after the read timeout.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n")
	stalled := time.Now()
	if code, got := post(t, base+"/v1/predict", "image/png", drawing(t, true)); code != 200 {
		t.Errorf("while a client stalls: %d %+v", code, got)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(bufio.NewReader(conn))
	conn.Close()
	if waited := time.Since(stalled); waited > 3*time.Second || (len(reply) > 0 && !strings.Contains(string(reply), " 400 ") && !strings.Contains(string(reply), " 408 ")) {
		t.Errorf("stalled client: cut after %v, reply %q", waited, reply)
	}
	if code, _ := post(t, base+"/v1/predict", "image/png", drawing(t, false)); code != 200 {
		t.Errorf("after the bad requests: %d", code)
	}
}

// TestMicroBatching: requests that arrive while a batch runs are answered
// with what each gets alone, in batches they share of at most --max-batch.
func TestMicroBatching(t *testing.T) {
	base, srv, _, _ := start(t, Options{MaxBatch: 16, MaxWait: 20 * time.Millisecond})
	img := drawing(t, true)
	_, alone := post(t, base+"/v1/predict", "image/png", img)
	b := srv.models["xo"].batch
	// The next batch is held until 24 requests wait behind it.
	hold := make(chan struct{})
	var once sync.Once
	hook := func(int) { once.Do(func() { <-hold }) }
	b.beforeInfer.Store(&hook)
	var wg sync.WaitGroup
	batches := make([]int, 49)
	for i := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, got := post(t, base+"/v1/predict", "image/png", img)
			if code != 200 || abs(got.Predictions[0].Probability-alone.Predictions[0].Probability) > 1e-6 {
				t.Errorf("request %d: %d %+v", i, code, got)
			}
			batches[i] = got.Batch
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		n := b.waiting()
		b.mu.Unlock()
		if n >= 24 || time.Now().After(deadline) {
			break
		}
	}
	close(hold)
	wg.Wait()
	shared := 0
	for _, n := range batches {
		if n > 1 {
			shared++
		}
		if n > 16 {
			t.Errorf("a batch of %d, more than --max-batch", n)
		}
	}
	if shared < 16 {
		t.Errorf("%d requests shared a batch, not the 24 queued: %v", shared, batches)
	}
}

// TestBatchWaitsOnlyForDecoding: a batch waits (up to --max-wait) for
// the requests being decoded, not for a client still sending its body nor
// for a request that failed: with both about, a lone request runs at once.
func TestBatchWaitsOnlyForDecoding(t *testing.T) {
	const wait = 3 * time.Second
	base, _, _, _ := start(t, Options{MaxWait: wait, ReadTimeout: 10 * time.Second})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n\x89PNG")
	if code, _ := post(t, base+"/v1/predict", "image/png", []byte("garbage")); code != 400 {
		t.Fatalf("garbage: %d", code)
	}
	for range 3 {
		t0 := time.Now()
		code, got := post(t, base+"/v1/predict", "image/png", drawing(t, true))
		if took := time.Since(t0); code != 200 || got.Batch != 1 || took > wait/3 {
			t.Fatalf("a lone request beside a stalled and a failed one: %d, batch %d, %v", code, got.Batch, took)
		}
	}
}

// TestInFlightLimitAndShutdown: beyond --max-in-flight a request gets 503
// with Retry-After; stopping the server lets a request in flight finish.
func TestInFlightLimitAndShutdown(t *testing.T) {
	base, _, cancel, done := start(t, Options{MaxInFlight: 1})
	img := drawing(t, true)
	// A request whose body arrives slowly holds the only slot.
	pr, pw := io.Pipe()
	type answer struct {
		code int
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		r, err := http.Post(base+"/v1/predict", "image/png", pr)
		if err != nil {
			first <- answer{0, err}
			return
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		first <- answer{r.StatusCode, nil}
	}()
	pw.Write(img[:10])
	time.Sleep(100 * time.Millisecond)
	r, err := http.Post(base+"/v1/predict", "image/png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	cancel() // SIGTERM's path: stop accepting, finish what is in flight
	time.Sleep(100 * time.Millisecond)
	pw.Write(img[10:])
	pw.Close()
	if a := <-first; a.err != nil || a.code != 200 {
		t.Errorf("the request in flight at shutdown: %d %v", a.code, a.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	done <- nil // for the cleanup
}

// TestReload: a checkpoint replaced on disk is served after Reload; one
// that no longer loads leaves the old version serving, and says so.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.ckpt")
	b, _ := os.ReadFile(tinyModel(t))
	os.WriteFile(path, b, 0o644)
	srv, err := New(Options{}, []string{"m"}, map[string]string{"m": path})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	time.Sleep(50 * time.Millisecond)
	epoch := func() float64 {
		r, err := http.Get(base + "/v1/model")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		return v["epoch"].(float64)
	}
	before := epoch()
	os.WriteFile(path, []byte("not a checkpoint"), 0o644)
	if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), "model m: ") || !strings.Contains(err.Error(), "the loaded version keeps serving") {
		t.Errorf("reload of a broken file: %v", err)
	}
	if code, _ := post(t, base+"/v1/predict", "image/png", drawing(t, true)); code != 200 || epoch() != before {
		t.Errorf("after a failed reload: %d", code)
	}
	st, _ := checkpoint.Load(tinyModel(t))
	st.Epoch = 7
	if err := checkpoint.Save(path, st); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if epoch() != 7 {
		t.Errorf("after reload the model says epoch %v", epoch())
	}
	if code, _ := post(t, base+"/v1/predict", "image/png", drawing(t, false)); code != 200 {
		t.Errorf("after a reload: %d", code)
	}
}

func cos(a float64) float64 { return math.Cos(a) }
func sin(a float64) float64 { return math.Sin(a) }

func TestBatchSizes(t *testing.T) {
	for _, c := range []struct {
		max  int
		want []int
	}{{1, []int{1}}, {2, []int{1, 2}}, {5, []int{1, 2, 3, 4, 5}}, {64, []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}},
		{100, []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 100}}} {
		got := batchSizes(c.max)
		if !slices.Equal(got, c.want) {
			t.Errorf("batchSizes(%d) = %v, want %v", c.max, got, c.want)
		}
		// Every batch of 1..max runs on a graph at most half as large again.
		for n := 1; n <= c.max; n++ {
			i, _ := slices.BinarySearch(got, n)
			if i == len(got) || 2*got[i] > 3*n {
				t.Errorf("max %d: a batch of %d runs at %v", c.max, n, got[min(i, len(got)-1)])
			}
		}
	}
}
