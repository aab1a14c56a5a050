// Command loadgen measures cnnctl serve under load on the loopback
// interface: it starts the service in-process on 127.0.0.1 (and, as the
// HTTP stack's own ceiling, a trivial handler answering a constant JSON
// body), then sends PNG bodies at each concurrency for a bounded number of
// requests or time, and prints requests/s, p50/p99 latency, errors and the
// process's memory before and after. With -soak it instead runs mixed good
// and bad requests with reloads for that long and reports crashes,
// unexpected answers and RSS over time.
//
//	go run ./bench/loadgen -model runs/lenet-bn-mnist/best.ckpt
//	go run ./bench/loadgen -model runs/lenet-bn-mnist/best.ckpt -soak 10m
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/machine"
	"github.com/cnnctl/cnnctl/internal/parallel"
	"github.com/cnnctl/cnnctl/internal/predict"
	"github.com/cnnctl/cnnctl/internal/serve"
)

func main() {
	model := flag.String("model", "runs/lenet-bn-mnist/best.ckpt", "checkpoint to serve")
	levels := flag.String("concurrency", "1,8,64", "concurrency levels")
	count := flag.Int("n", 4000, "requests per level (at most)")
	limit := flag.Duration("time", 10*time.Second, "time per level (at most)")
	soak := flag.Duration("soak", 0, "run a soak test of this length instead")
	side := flag.Int("size", 28, "the PNG bodies' side in pixels")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	inferCores := flag.Int("infer-cores", 0, "cores the forward passes split over (as cnnctl serve --infer-cores; 0: all)")
	flag.Parse()
	if *inferCores > 0 {
		parallel.Workers = *inferCores
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*model, *levels, *count, *limit, *soak, *side); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// digit is a side×side PNG of a drawn 7, dark on light.
func digit(side int) []byte {
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 235
	}
	k := float64(side) / 200
	for t := 0.0; t < 1; t += 0.002 {
		for w := -6.0; w <= 6; w++ {
			img.SetGray(int(k*(50+100*t)), int(k*(40+w)), color.Gray{20})       // the bar
			img.SetGray(int(k*(150-60*t+w)), int(k*(40+120*t)), color.Gray{20}) // the stem
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func listen(h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

type stats struct {
	n, errors int
	rps       float64
	p50, p99  time.Duration
	cores     float64 // the process's CPU time over the wall time: cores kept busy
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load sends up to n requests (or for d) from c workers, each a PNG body.
func load(client *http.Client, url string, body []byte, c, n int, d time.Duration) stats {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var next atomic.Int64
	deadline := time.Now().Add(d)
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && time.Now().Before(deadline) {
				t0 := time.Now()
				r, err := client.Post(url, "image/png", bytes.NewReader(body))
				ok := err == nil && r.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	cores := (cpuTime() - cpu0).Seconds() / took.Seconds()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return stats{n: len(lat), errors: errs, rps: float64(len(lat)) / took.Seconds(), p50: q(0.5), p99: q(0.99), cores: cores}
}

func run(model, levels string, n int, d, soak time.Duration, side int) error {
	srv, err := serve.New(serve.Options{}, []string{"m"}, map[string]string{"m": model})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	body := digit(side)
	time.Sleep(100 * time.Millisecond)
	if soak > 0 {
		return soakTest(client, base, srv, body, soak)
	}
	trivial, stop := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"label":"7","probability":1}`))
	}))
	defer stop()
	load(client, base+"/v1/predict", body, 4, 200, 5*time.Second) // warm-up
	alone, err := direct(model, body)
	if err != nil {
		return err
	}
	runtime.GC()
	before := machine.MB(machine.RSS())
	fmt.Printf("cnnctl serve on loopback, %d cores, %d-byte PNG bodies; each level ≤ %d requests or %v\n", runtime.NumCPU(), len(body), n, d)
	fmt.Printf("%-12s %6s %10s %9s %9s %7s %6s %6s %16s\n", "concurrency", "target", "requests/s", "p50 ms", "p99 ms", "errors", "cores", "batch", "serve/trivial")
	for _, f := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("concurrency %q", f)
		}
		sum0, n0 := batches(client, base)
		s := load(client, base+"/v1/predict", body, c, n, d)
		sum1, n1 := batches(client, base)
		mean := fmt.Sprintf("%.1f", (sum1-sum0)/max(1, n1-n0))
		t := load(client, trivial, body, c, n, d)
		for _, row := range []struct {
			name string
			s    stats
		}{{"serve", s}, {"trivial", t}} {
			ratio, batch := "", ""
			if row.name == "serve" {
				ratio, batch = fmt.Sprintf("%.0f %%", 100*s.rps/t.rps), mean
			}
			fmt.Printf("%-12d %6s %10.0f %9.2f %9.2f %7d %6.2f %6s %16s\n", c, row.name, row.s.rps, ms(row.s.p50), ms(row.s.p99), row.s.errors, row.s.cores, batch, ratio)
		}
	}
	runtime.GC()
	fmt.Printf("RSS %.0f MB after warm-up, %.0f MB at the end\n", before, machine.MB(machine.RSS()))
	fmt.Printf("without HTTP, one request's work — PNG decode, preprocessing, batch-1 inference — takes %.3f ms (median of 1000)\n", ms(alone))
	return nil
}

// direct is the median time of decoding, preprocessing and classifying
// the body in-process at batch 1: what a request costs without HTTP.
func direct(model string, body []byte) (time.Duration, error) {
	st, err := checkpoint.Load(model)
	if err != nil {
		return 0, err
	}
	p, err := predict.New(st, st.Config.Preprocess, 1)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	var ts []time.Duration
	for range 1000 {
		t0 := time.Now()
		if _, err := p.Predict([]predict.Input{{Name: "b", Data: body}}, 1, func(predict.Prediction, error) {}); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

// batches reads the service's batch-size histogram from /metrics: the sum
// of the inputs of every forward pass, and their count.
func batches(client *http.Client, base string) (sum, count float64) {
	r, err := client.Get(base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case !ok || err != nil:
		case name == "cnnctl_batch_size_sum":
			sum = f
		case name == "cnnctl_batch_size_count":
			count = f
		}
	}
	return sum, count
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// soakTest sends a mix of good and bad requests from 16 workers for d,
// reloading the model every 30 s, and checks every answer's status.
func soakTest(client *http.Client, base string, srv *serve.Server, body []byte, d time.Duration) error {
	type req struct {
		path, ctype string
		body        []byte
		want        int
	}
	mix := []req{
		{"/v1/predict", "image/png", body, 200},
		{"/v1/predict?top=3", "image/png", body, 200},
		{"/v1/predict", "image/png", []byte("not a picture"), 400},
		{"/v1/predict", "text/plain", []byte("x"), 415},
		{"/v1/predict", "application/json", []byte(`{"inputs": [[1, 2]]}`), 400},
		{"/v1/models/none/predict", "image/png", body, 404},
		{"/v1/predict", "image/png", body[:len(body)/2], 400},
	}
	var good, bad, unexpected atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for time.Now().Before(deadline) {
				q := mix[rng.IntN(len(mix))]
				r, err := client.Post(base+q.path, q.ctype, bytes.NewReader(q.body))
				if err != nil {
					unexpected.Add(1)
					continue
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				switch {
				case r.StatusCode != q.want:
					unexpected.Add(1)
				case q.want == 200:
					good.Add(1)
				default:
					bad.Add(1)
				}
			}
		}()
	}
	start, reloads := time.Now(), 0
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	fmt.Printf("%8s %10s %10s %10s %8s\n", "elapsed", "good", "bad (4xx)", "unexpected", "RSS MB")
	for time.Now().Before(deadline) {
		select {
		case <-tick.C:
			if err := srv.Reload(); err != nil {
				fmt.Println("reload:", err)
			}
			reloads++
			fmt.Printf("%8s %10d %10d %10d %8.0f\n", time.Since(start).Round(time.Second), good.Load(), bad.Load(), unexpected.Load(), machine.MB(machine.RSS()))
		case <-time.After(time.Until(deadline)):
		}
	}
	wg.Wait()
	fmt.Printf("soak %v: %d good, %d bad answered 4xx as they should, %d unexpected, %d reloads, RSS %.0f MB at the end\n",
		d, good.Load(), bad.Load(), unexpected.Load(), reloads, machine.MB(machine.RSS()))
	if unexpected.Load() > 0 {
		return fmt.Errorf("%d unexpected answers", unexpected.Load())
	}
	return nil
}
