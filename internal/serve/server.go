// Package serve makes trained models an HTTP service: POST an image (or
// several, or normalised arrays) and get the classes back, with requests
// that arrive together gathered into one forward pass. It uses only the
// standard library's net/http, and Prometheus's client library for
// /metrics.
package serve

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/predict"
)

// page is the drawing page served at GET /: plain HTML and JavaScript, no
// build step, no external URLs.
//
//go:embed page/index.html
var page []byte

// Options are a server's settings.
type Options struct {
	Addr        string        // 127.0.0.1:8080 by default
	MaxBatch    int           // inputs per forward pass
	MaxWait     time.Duration // how long a batch waits for more requests
	MaxBody     int64         // bytes of a request body
	MaxInFlight int           // requests at once; beyond it 503 with Retry-After
	Top         int           // classes listed per input unless ?top= says
	Log         *slog.Logger
	// Timeouts (zero: the defaults below).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Defaults fills the unset options.
func (o *Options) Defaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 64
	}
	if o.MaxWait == 0 {
		o.MaxWait = 2 * time.Millisecond
	}
	if o.MaxBody == 0 {
		o.MaxBody = 16 << 20
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 256
	}
	if o.Top == 0 {
		o.Top = 3
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Model is one served checkpoint.
type Model struct {
	Name  string
	Path  string
	State *checkpoint.State
	load  *predict.Loader // decoding and preprocessing, as predict does
	batch *batcher
	users sync.WaitGroup // requests using it (a reload retires it after them)
}

// Server serves models over HTTP.
type Server struct {
	opts     Options
	mu       sync.RWMutex // guards models (SIGHUP swaps them)
	models   map[string]*Model
	paths    map[string]string
	order    []string // names as given; the first is the default model
	inFlight atomic.Int64
	ready    atomic.Bool
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	batches  prometheus.Histogram
	flight   prometheus.Gauge
}

// New loads the checkpoints (name → path) and prepares their graphs.
func New(opts Options, names []string, paths map[string]string) (*Server, error) {
	opts.Defaults()
	s := &Server{opts: opts, models: map[string]*Model{}, paths: paths, reg: prometheus.NewRegistry()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cnnctl_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cnnctl_request_seconds", Help: "Request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}, []string{"route"})
	s.batches = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cnnctl_batch_size", Help: "Inputs per forward pass.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
	s.flight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cnnctl_in_flight_requests", Help: "Requests being served."})
	s.reg.MustRegister(s.requests, s.latency, s.batches, s.flight, prometheus.NewGoCollector())
	for _, name := range names {
		m, err := s.load(name, paths[name])
		if err != nil {
			s.Close()
			return nil, err
		}
		s.models[name] = m
		s.order = append(s.order, name)
	}
	return s, nil
}

func (s *Server) load(name, path string) (*Model, error) {
	st, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	if st.Config.Data.IsSignals() {
		return nil, fmt.Errorf("%s: a signal model (input %v); serve takes image models — classify recordings with cnnctl predict", path, st.Config.Data.Shape)
	}
	b, err := newBatcher(st, s.opts.MaxBatch, s.opts.MaxWait, func(n int) { s.batches.Observe(float64(n)) })
	if err != nil {
		return nil, err
	}
	return &Model{Name: name, Path: path, State: st, load: predict.NewLoader(st, st.Config.Preprocess), batch: b}, nil
}

// Close releases the models' graphs.
func (s *Server) Close() {
	for _, m := range s.models {
		m.batch.close()
	}
}

// Handler routes the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, name string, h func(w http.ResponseWriter, r *http.Request) (int, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			code, err := h(w, r)
			if err != nil {
				code = writeError(w, code, err)
			}
			s.requests.WithLabelValues(name, strconv.Itoa(code)).Inc()
			s.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
			s.opts.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", code,
				"ms", float64(time.Since(start).Microseconds())/1000, "bytes_in", r.ContentLength, "remote", r.RemoteAddr)
		})
	}
	route("POST /v1/predict", "predict", func(w http.ResponseWriter, r *http.Request) (int, error) {
		m, _ := s.model(s.order[0])
		defer m.users.Done()
		return s.predict(w, r, m)
	})
	route("POST /v1/models/{name}/predict", "predict", func(w http.ResponseWriter, r *http.Request) (int, error) {
		m, err := s.model(r.PathValue("name"))
		if err != nil {
			return http.StatusNotFound, err
		}
		defer m.users.Done()
		return s.predict(w, r, m)
	})
	route("GET /v1/model", "model", func(w http.ResponseWriter, r *http.Request) (int, error) {
		m, _ := s.model(s.order[0])
		defer m.users.Done()
		return writeJSON(w, http.StatusOK, s.describe(m))
	})
	route("GET /v1/models", "model", func(w http.ResponseWriter, r *http.Request) (int, error) {
		var out []modelInfo
		for _, n := range s.order {
			m, _ := s.model(n)
			out = append(out, s.describe(m))
			m.users.Done()
		}
		return writeJSON(w, http.StatusOK, map[string]any{"models": out})
	})
	route("GET /v1/models/{name}", "model", func(w http.ResponseWriter, r *http.Request) (int, error) {
		m, err := s.model(r.PathValue("name"))
		if err != nil {
			return http.StatusNotFound, err
		}
		defer m.users.Done()
		return writeJSON(w, http.StatusOK, s.describe(m))
	})
	route("GET /healthz", "health", func(w http.ResponseWriter, r *http.Request) (int, error) {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	route("GET /readyz", "health", func(w http.ResponseWriter, r *http.Request) (int, error) {
		if !s.ready.Load() {
			return http.StatusServiceUnavailable, errors.New("not ready: the models are loading or the server is stopping")
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": s.order})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	route("GET /{$}", "page", func(w http.ResponseWriter, r *http.Request) (int, error) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:")
		_, err := w.Write(page)
		return http.StatusOK, err
	})
	route("/", "other", func(w http.ResponseWriter, r *http.Request) (int, error) {
		return http.StatusNotFound, fmt.Errorf("no such endpoint %s %s (POST /v1/predict, GET /v1/model, /v1/models, /healthz, /readyz, /metrics)", r.Method, r.URL.Path)
	})
	return s.limit(mux)
}

// limit caps the requests in flight (503 with Retry-After beyond it).
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.inFlight.Add(1); n > int64(s.opts.MaxInFlight) {
			s.inFlight.Add(-1)
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("busy: %d requests in flight, the limit is %d; retry shortly", n-1, s.opts.MaxInFlight))
			s.requests.WithLabelValues("any", "503").Inc()
			return
		}
		s.flight.Inc()
		defer func() { s.inFlight.Add(-1); s.flight.Dec() }()
		next.ServeHTTP(w, r)
	})
}

// model returns the model called name, counted as in use until the
// caller's users.Done.
func (s *Server) model(name string) (*Model, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.models[name]
	if !ok {
		return nil, fmt.Errorf("no model is named %q (serving %v)", name, s.order)
	}
	m.users.Add(1)
	return m, nil
}

// Reload loads every checkpoint again from disk and swaps in those that
// load; one that fails leaves its old version serving, and the error says
// which. The old versions are retired once their requests finish.
func (s *Server) Reload() error {
	var errs []error
	for _, name := range s.order {
		m, err := s.load(name, s.paths[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w (the loaded version keeps serving)", name, err))
			continue
		}
		s.mu.Lock()
		old := s.models[name]
		s.models[name] = m
		s.mu.Unlock()
		go func() {
			old.users.Wait()
			old.batch.close()
		}()
		s.opts.Log.Info("reloaded", "model", name, "checkpoint", m.Path, "epoch", m.State.Epoch)
	}
	return errors.Join(errs...)
}

type modelInfo struct {
	Name       string            `json:"name"`
	Checkpoint string            `json:"checkpoint"`
	Epoch      int               `json:"epoch"`
	Classes    []string          `json:"classes"`
	Input      []int             `json:"input"`
	Preprocess any               `json:"preprocess"`
	Normalize  any               `json:"normalize"`
	Parameters int               `json:"parameters"`
	Meta       map[string]string `json:"meta,omitempty"`
}

func (s *Server) describe(m *Model) modelInfo {
	st := m.State
	return modelInfo{Name: m.Name, Checkpoint: m.Path, Epoch: st.Epoch, Classes: st.Classes, Input: st.Config.Data.Shape,
		Preprocess: st.Config.Preprocess, Normalize: st.Config.Data.Normalize, Parameters: st.Net.NumParams(), Meta: st.Meta}
}

// Serve listens on the address until ctx ends, then stops accepting and
// lets the requests in flight finish (within 10 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: s.opts.ReadTimeout, ReadTimeout: s.opts.ReadTimeout,
		WriteTimeout: s.opts.WriteTimeout, IdleTimeout: s.opts.IdleTimeout,
		ErrorLog: slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.ready.Store(true)
	s.opts.Log.Info("serving", "addr", ln.Addr().String(), "models", s.order)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.opts.Log.Info("stopped", "err", err)
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) (int, error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return code, json.NewEncoder(w).Encode(v)
}

// writeError answers with {"error": "..."} and returns the code sent.
func writeError(w http.ResponseWriter, code int, err error) int {
	if code == 0 || code == http.StatusOK {
		code = http.StatusInternalServerError
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		code = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("the request body is larger than the %d bytes allowed", tooBig.Limit)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	return code
}
