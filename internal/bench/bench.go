// Package bench measures a config's network on this machine: training and
// inference throughput, batch-1 latency, achieved GFLOP/s against the
// CPU's measured peak, memory, allocations per step and scaling from one
// core to all.
package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/machine"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/parallel"
	"github.com/cnnctl/cnnctl/internal/train"
)

// Options choose what to measure.
type Options struct {
	TrainBatch int           // default: the config's batch size
	InferBatch int           // default 1000
	Duration   time.Duration // per measurement repetition (default 2s)
	Reps       int           // repetitions; medians are reported (default 3)
	Scaling    bool          // also measure training on one core
}

// Result holds the figures; throughputs are medians over repetitions.
type Result struct {
	Config         string  `json:"config"`
	Kernel         string  `json:"kernel"`
	Cores          int     `json:"cores"`
	TrainBatch     int     `json:"train_batch"`
	TrainImgPerS   float64 `json:"train_img_s"`
	TrainGFLOPS    float64 `json:"train_gflops"`
	InferBatch     int     `json:"infer_batch"`
	InferImgPerS   float64 `json:"infer_img_s"`
	InferGFLOPS    float64 `json:"infer_gflops"`
	LatencyMS      float64 `json:"latency_b1_ms"`
	PeakGFLOPS     float64 `json:"peak_gflops"` // measured micro-kernel peak × cores
	TrainPeakFrac  float64 `json:"train_peak_fraction"`
	InferPeakFrac  float64 `json:"infer_peak_fraction"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	AllocBytesStep float64 `json:"alloc_bytes_per_step"`
	AllocsStep     float64 `json:"allocs_per_step"`
	TensorAllocs   float64 `json:"tensor_allocs_per_step"`
	Train1CoreImgS float64 `json:"train_1core_img_s,omitempty"`
	Scaling        float64 `json:"speedup_1_to_all_cores,omitempty"`
	FwdMFLOP       float64 `json:"forward_mflop_per_image"`
}

// Run measures cfg's network with random weights on random uint8 images of
// its input shape (the data path — uint8 to normalised float32 — included),
// or random signals.
func Run(cfg *config.Config, classes int, o Options) (*Result, error) {
	if o.TrainBatch == 0 {
		o.TrainBatch = cfg.Train.BatchSize
	}
	if o.InferBatch == 0 {
		o.InferBatch = 1000
	}
	if o.Duration == 0 {
		o.Duration = 2 * time.Second
	}
	if o.Reps == 0 {
		o.Reps = 3
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	net, err := model.New(cfg.Layers(), cfg.Data.Shape, classes, rng)
	if err != nil {
		return nil, err
	}
	// Train as the config trains: frozen layers make a step cheaper.
	frozen, err := cfg.Frozen()
	if err == nil {
		err = net.Freeze(frozen, cfg.Train.FreezeStats())
	}
	if err != nil {
		return nil, err
	}
	n := max(o.TrainBatch*8, o.InferBatch)
	names := make([]string, classes)
	ds := data.Random(cfg.Data, n, names, rng)
	norm := data.Norm{Mean: cfg.Data.Normalize.Mean, Std: cfg.Data.Normalize.Std}
	r := &Result{Config: cfg.Name, Kernel: gemm.KernelName(), Cores: parallel.Workers, TrainBatch: o.TrainBatch,
		InferBatch: o.InferBatch, FwdMFLOP: net.ForwardFLOPs() / 1e6}

	tr, err := trainThroughput(net, cfg, ds, norm, o)
	if err != nil {
		return nil, err
	}
	r.TrainImgPerS, r.AllocBytesStep, r.AllocsStep, r.TensorAllocs = tr.imgs, tr.bytes, tr.allocs, tr.tensors
	if o.Scaling && parallel.Workers > 1 {
		restore := parallel.UseCores(1) // one worker, one runtime thread: one core
		one, err := trainThroughput(net, cfg, ds, norm, o)
		restore()
		if err != nil {
			return nil, err
		}
		r.Train1CoreImgS = one.imgs
		r.Scaling = r.TrainImgPerS / one.imgs
	}
	if r.InferImgPerS, err = inferThroughput(net, ds, norm, o.InferBatch, o); err != nil {
		return nil, err
	}
	lat, err := inferThroughput(net, ds, norm, 1, o)
	if err != nil {
		return nil, err
	}
	r.LatencyMS = 1e3 / lat
	flops := net.ForwardFLOPs()
	r.TrainGFLOPS = 2 * float64(net.TrainMACs()) * r.TrainImgPerS / 1e9 // forward, and the backward of what is trained
	r.InferGFLOPS = flops * r.InferImgPerS / 1e9
	r.PeakGFLOPS = gemm.PeakGFLOPS(300*time.Millisecond) * float64(parallel.Workers)
	r.TrainPeakFrac = r.TrainGFLOPS / r.PeakGFLOPS
	r.InferPeakFrac = r.InferGFLOPS / r.PeakGFLOPS
	r.PeakRSSMB = machine.MB(machine.PeakRSS())
	return r, nil
}

type trainFigures struct{ imgs, bytes, allocs, tensors float64 }

// trainThroughput times full training steps: batch filling, forward,
// backward and a momentum-SGD update.
func trainThroughput(net *model.Network, cfg *config.Config, ds *data.Dataset, norm data.Norm, o Options) (trainFigures, error) {
	B := o.TrainBatch
	g, err := net.BuildTrain(B, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return trainFigures{}, err
	}
	defer g.Close()
	opt, err := train.NewOptimizer(config.Optimizer{Name: "momentum", LR: 1e-4, Momentum: 0.9}, net.Trainable())
	if err != nil {
		return trainFigures{}, err
	}
	batcher := data.NewBatcher(ds, norm)
	x, y := g.Input.Data().([]float32), g.Labels.Data().([]float32)
	grads := make([][]float32, len(net.Trainable()))
	idx := make([]int, B)
	step := func(i int) error {
		for j := range idx {
			idx[j] = (i*B + j) % ds.Len()
		}
		batcher.FillWith(parallel.Range, x, y, idx)
		if err := g.Run(); err != nil {
			return err
		}
		for k := range grads {
			grads[k] = g.GradData(k)
		}
		opt.Update(grads, 1e-4)
		return nil
	}
	for i := range 5 { // warm-up: buffers reach their steady size
		if err := step(i); err != nil {
			return trainFigures{}, err
		}
	}
	var rates []float64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := scratch.Allocs.Load()
	steps := 0
	for range o.Reps {
		start := time.Now()
		n := 0
		for time.Since(start) < o.Duration {
			if err := step(steps); err != nil {
				return trainFigures{}, err
			}
			n++
			steps++
		}
		rates = append(rates, float64(n*B)/time.Since(start).Seconds())
	}
	runtime.ReadMemStats(&ms1)
	return trainFigures{
		imgs:    median(rates),
		bytes:   float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(steps),
		allocs:  float64(ms1.Mallocs-ms0.Mallocs) / float64(steps),
		tensors: float64(scratch.Allocs.Load()-t0) / float64(steps),
	}, nil
}

// inferThroughput times forward passes of full batches (data path included).
func inferThroughput(net *model.Network, ds *data.Dataset, norm data.Norm, batch int, o Options) (float64, error) {
	g, err := net.BuildFixedInference(batch)
	if err != nil {
		return 0, err
	}
	defer g.Close()
	batcher := data.NewBatcher(ds, norm)
	x := g.Input.Data().([]float32)
	idx := make([]int, batch)
	pass := func(i int) error {
		for j := range idx {
			idx[j] = (i*batch + j) % ds.Len()
		}
		batcher.FillWith(parallel.Range, x, nil, idx)
		return g.Run()
	}
	for i := range 3 {
		if err := pass(i); err != nil {
			return 0, err
		}
	}
	var rates []float64
	for range o.Reps {
		start := time.Now()
		n := 0
		for time.Since(start) < o.Duration/2 {
			if err := pass(n); err != nil {
				return 0, err
			}
			n++
		}
		rates = append(rates, float64(n*batch)/time.Since(start).Seconds())
	}
	return median(rates), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// WriteTable prints the result for people.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "config            %s (%.2f MFLOP/image forward)\n", r.Config, r.FwdMFLOP)
	fmt.Fprintf(w, "machine           %d cores, GEMM kernel %s, measured peak %.0f GFLOP/s\n", r.Cores, r.Kernel, r.PeakGFLOPS)
	fmt.Fprintf(w, "training          %.0f img/s at batch %d (%.1f GFLOP/s, %.0f%% of peak)\n", r.TrainImgPerS, r.TrainBatch, r.TrainGFLOPS, 100*r.TrainPeakFrac)
	if r.Scaling > 0 {
		fmt.Fprintf(w, "  on 1 core       %.0f img/s (speed-up ×%.2f on %d cores)\n", r.Train1CoreImgS, r.Scaling, r.Cores)
	}
	fmt.Fprintf(w, "  allocations     %.2f tensors, %.0f objects, %.1f KB per step\n", r.TensorAllocs, r.AllocsStep, r.AllocBytesStep/1024)
	fmt.Fprintf(w, "inference         %.0f img/s at batch %d (%.1f GFLOP/s, %.0f%% of peak)\n", r.InferImgPerS, r.InferBatch, r.InferGFLOPS, 100*r.InferPeakFrac)
	fmt.Fprintf(w, "latency           %.3f ms at batch 1\n", r.LatencyMS)
	fmt.Fprintf(w, "peak RSS          %.0f MB\n", r.PeakRSSMB)
}
