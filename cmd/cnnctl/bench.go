package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnnctl/cnnctl/internal/bench"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

type benchOptions struct {
	ConfigPath string
	TrainBatch int
	InferBatch int
	Seconds    float64
	Reps       int
	Threads    int
	Scaling    bool
	JSON       bool
}

func newBenchCmd(s streams) *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench -c CONFIG",
		Short: "Measure training and inference speed of a config's network on this machine",
		Long: `Bench builds the config's network with random weights and times, on random images
of its input shape: full training steps (batch filling, forward, backward,
optimizer update), inference at --infer-batch and at batch 1, with medians over
--reps repetitions. It reports GFLOP/s against the CPU's measured micro-kernel
peak, peak RSS, allocations per training step, and with --scaling the speed-up
from one core to all. No dataset is needed.`,
		Example: `  cnnctl bench -c configs/lenet-bn-mnist.yaml
  cnnctl bench -c configs/lenet-bn-mnist.yaml --scaling --json
  cnnctl bench -c configs/lenet5-mnist.yaml --batch-size 256 --threads 1`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.ConfigPath == "" {
				return usagef("bench needs a config: cnnctl bench -c CONFIG")
			}
			if o.TrainBatch < 0 || o.InferBatch < 1 || o.Seconds <= 0 || o.Reps < 1 || o.Threads < 0 {
				return usagef("--batch-size, --infer-batch, --seconds, --reps and --threads must be positive")
			}
			return runBench(o, s)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.ConfigPath, "config", "c", "", "YAML config file")
	f.IntVar(&o.TrainBatch, "batch-size", 0, "training batch size (default: the config's)")
	f.IntVar(&o.InferBatch, "infer-batch", 1000, "inference batch size")
	f.Float64Var(&o.Seconds, "seconds", 2, "duration of each repetition")
	f.IntVar(&o.Reps, "reps", 3, "repetitions (medians are reported)")
	f.IntVar(&o.Threads, "threads", 0, "threads for the ops and the Go runtime: the cores used (default: all)")
	f.BoolVar(&o.Scaling, "scaling", false, "also measure training on one core")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	return c
}

func runBench(o *benchOptions, s streams) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	classes := data.ClassCount(cfg)
	if o.Threads > 0 {
		defer parallel.UseCores(o.Threads)()
	}
	res, err := bench.Run(cfg, classes, bench.Options{TrainBatch: o.TrainBatch, InferBatch: o.InferBatch,
		Duration: time.Duration(o.Seconds * float64(time.Second)), Reps: o.Reps, Scaling: o.Scaling})
	if err != nil {
		return fmt.Errorf("%s: %w", o.ConfigPath, err)
	}
	if o.JSON {
		return json.NewEncoder(s.Out).Encode(res)
	}
	res.WriteTable(s.Out)
	return nil
}
