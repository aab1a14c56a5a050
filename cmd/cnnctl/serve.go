package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cnnctl/cnnctl/internal/parallel"
	"github.com/cnnctl/cnnctl/internal/serve"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	Models    []string // PATH or NAME=PATH
	Addr      string
	MaxBatch  int
	MaxWait   time.Duration
	MaxBodyMB int
	InFlight  int
	// InferCores is how many cores a forward pass splits over; 0, the
	// default, is all of them. (One left the others to the HTTP work, but
	// at concurrency 1 the idle core's wake-ups cost more than the forward
	// pass saves: bench/loadgen, README.)
	InferCores int
	LogFormat  string
	// Ready, if set, receives the listening address once the server
	// accepts requests (tests listen on port 0).
	Ready chan<- string
}

func newServeCmd(s streams) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve --model CKPT [--model NAME=CKPT …] [--addr 127.0.0.1:8080]",
		Short: "Serve models over HTTP: POST images, get classes",
		Long: `Serve makes checkpoints a web service (the first --model is the default one):

  POST /v1/predict                an image body (any format predict reads), multipart
                                  files, or JSON {"images": [base64…]} or
                                  {"inputs": [[normalised values…]…]}; ?top=k
  POST /v1/models/NAME/predict    the same for model NAME
  GET  /v1/model, /v1/models[/NAME]   classes, input shape, preprocessing, metadata
  GET  /healthz, /readyz          liveness, readiness
  GET  /metrics                   Prometheus: requests, latency, batch sizes, in flight

Images are preprocessed by the checkpoint's recipe, exactly as predict does.
Requests that arrive together are run as one batch (up to --max-batch inputs,
waiting at most --max-wait for more); a lone request runs at batch 1. Bodies are
limited to --max-body-mb, decoded images by their declared size, requests in
flight to --max-in-flight (503 with Retry-After beyond). SIGINT/SIGTERM stop
accepting and let requests in flight finish; SIGHUP reloads the checkpoints
from disk (one that fails to load leaves the old one serving). Access logs go
to stderr.`,
		Example: `  cnnctl serve --model runs/lenet-bn-mnist/best.ckpt
  curl -s --data-binary @digit.png -H 'Content-Type: image/png' 'localhost:8080/v1/predict?top=3'
  cnnctl serve --model mnist=runs/lenet-bn-mnist/best.ckpt --model xo=runs/xo/best.ckpt --addr 127.0.0.1:9000`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.Models) == 0 {
				return usagef("serve needs --model CKPT")
			}
			if o.MaxBatch < 1 || o.MaxBodyMB < 1 || o.InFlight < 1 || o.InferCores < 0 || o.MaxWait < 0 {
				return usagef("--max-batch, --max-body-mb and --max-in-flight must be at least 1, --infer-cores and --max-wait not negative")
			}
			if o.LogFormat != "text" && o.LogFormat != "json" {
				return usagef("--log-format must be text or json, got %q", o.LogFormat)
			}
			return runServe(cmd.Context(), o, s)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.Models, "model", nil, "checkpoint to serve, as PATH or NAME=PATH (repeatable)")
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.IntVar(&o.MaxBatch, "max-batch", 64, "inputs per forward pass")
	f.DurationVar(&o.MaxWait, "max-wait", 2*time.Millisecond, "how long a batch waits for more requests")
	f.IntVar(&o.MaxBodyMB, "max-body-mb", 16, "largest request body, MB")
	f.IntVar(&o.InFlight, "max-in-flight", 256, "requests served at once")
	f.IntVar(&o.InferCores, "infer-cores", 0, "cores a forward pass splits over (0: all)")
	f.StringVar(&o.LogFormat, "log-format", "text", "access log format: text or json")
	return c
}

func runServe(ctx context.Context, o *serveOptions, s streams) error {
	var names []string
	paths := map[string]string{}
	for _, m := range o.Models {
		name, path, ok := strings.Cut(m, "=")
		if !ok {
			path = m
			name = strings.TrimSuffix(filepath.Base(filepath.Dir(path)), string(filepath.Separator))
			if name == "." || name == "" {
				name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			}
		}
		if _, dup := paths[name]; dup {
			return usagef("two models are named %q: give them names, --model NAME=PATH", name)
		}
		names, paths[name] = append(names, name), path
	}
	var h slog.Handler = slog.NewTextHandler(s.Err, nil)
	if o.LogFormat == "json" {
		h = slog.NewJSONHandler(s.Err, nil)
	}
	log := slog.New(h)
	if o.InferCores > 0 { // 0: all, as the process is
		defer func(w int) { parallel.Workers = w }(parallel.Workers)
		parallel.Workers = o.InferCores
	}
	srv, err := serve.New(serve.Options{Addr: o.Addr, MaxBatch: o.MaxBatch, MaxWait: o.MaxWait,
		MaxBody: int64(o.MaxBodyMB) << 20, MaxInFlight: o.InFlight, Log: log}, names, paths)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", o.Addr, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.Reload(); err != nil {
				log.Error("reload", "err", err)
			}
		}
	}()
	fmt.Fprintf(s.Err, "serving %s on http://%s\n", strings.Join(names, ", "), ln.Addr())
	if o.Ready != nil {
		o.Ready <- ln.Addr().String()
	}
	return srv.Serve(ctx, ln)
}
