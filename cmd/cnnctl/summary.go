package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/spf13/cobra"
)

type summaryOptions struct {
	ConfigPath string
	Model      string
	Batch      int // 0: the config's train.batch_size
	JSON       bool
}

func newSummaryCmd(s streams) *cobra.Command {
	o := &summaryOptions{}
	c := &cobra.Command{
		Use:   "summary -c CONFIG | --model CKPT",
		Short: "Print a network's layers: shapes, parameters, multiply-adds, memory, receptive fields",
		Long: `Summary lists every layer of a config's network (or a checkpoint's) with its output
shape, its parameters, its multiply-adds per image, the memory of its output for a
training batch and its receptive field (how many input pixels along each axis one of
its outputs depends on), and the totals: parameters, multiply-adds per image, FLOPs
of a training step (forward and a backward of twice the forward) and the estimated
memory of training, as train checks it.`,
		Example: `  cnnctl summary -c configs/resnet-mnist.yaml
  cnnctl summary --model runs/lenet-bn-mnist/best.ckpt --json`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if (o.ConfigPath == "") == (o.Model == "") {
				return usagef("summary needs -c CONFIG or --model CKPT (one of them)")
			}
			if o.Batch < 0 {
				return usagef("--batch-size must be at least 1")
			}
			return runSummary(o, s)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.ConfigPath, "config", "c", "", "YAML config file")
	f.StringVar(&o.Model, "model", "", "checkpoint")
	f.IntVar(&o.Batch, "batch-size", 0, "batch size for the memory figures (default: the config's)")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	return c
}

func runSummary(o *summaryOptions, s streams) error {
	var net *model.Network
	var cfg *config.Config
	if o.Model != "" {
		st, err := checkpoint.Load(o.Model)
		if err != nil {
			return err
		}
		net, cfg = st.Net, st.Config
	} else {
		var err error
		if cfg, err = config.Load(o.ConfigPath); err != nil {
			return err
		}
		// Shapes and counts only: nothing is allocated.
		if net, err = model.Plan(cfg.Layers(), cfg.Data.Shape, data.ClassCount(cfg)); err != nil {
			return placeLayerError(o.ConfigPath, err)
		}
	}
	// As the config trains it: with its frozen layers.
	frozen, err := cfg.Frozen()
	if err == nil {
		err = net.Freeze(frozen, cfg.Train.FreezeStats())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.ConfigPath+o.Model, err)
	}
	batch := o.Batch
	if batch == 0 {
		batch = cfg.Train.BatchSize
	}
	sum := net.Summarize(batch, 256)
	if o.JSON {
		return json.NewEncoder(s.Out).Encode(sum)
	}
	writeSummary(s.Out, sum)
	return nil
}

// placeLayerError puts a model error at its line of the config file.
func placeLayerError(path string, err error) error {
	if le, ok := err.(*model.LayerError); ok {
		return &config.Error{File: path, Line: le.Line, Msg: le.Error()}
	}
	return fmt.Errorf("%s: %w", path, err)
}

func writeSummary(w io.Writer, s model.NetworkSummary) {
	fmt.Fprintf(w, "%-14s %-34s %-12s %10s %10s %12s %10s  %s\n", "layer", "", "output", "trainable", "frozen", "MACs/image", "memory", "receptive field")
	fmt.Fprintf(w, "%-14s %-34s %-12s\n", "input", "", model.ShapeString(s.Input))
	for _, l := range s.Layers {
		desc := l.Layer
		if len(l.Inputs) > 0 && !strings.HasPrefix(desc, "add ") && !strings.HasPrefix(desc, "concat ") {
			desc += " ← " + strings.Join(l.Inputs, ", ")
		}
		rf := "all"
		if l.ReceptiveField != nil {
			rf = model.ShapeString(l.ReceptiveField)
		}
		trainable, frozen := l.Params, 0
		if l.Frozen {
			trainable, frozen = 0, l.Params
		}
		fmt.Fprintf(w, "%-14s %-34s %-12s %10d %10d %12d %10s  %s\n", l.ID, desc, model.ShapeString(l.Output), trainable, frozen, l.MACs, mib(l.ActivationBytes), rf)
	}
	fmt.Fprintf(w, "total: %d parameters (%d trainable, %d frozen), %.2f M multiply-adds per image, %.2f GFLOP per training step at batch %d, ~%s to train\n",
		s.Params, s.Trainable, s.Frozen, float64(s.MACs)/1e6, s.TrainFLOPs/1e9, s.Batch, model.GB(s.MemoryBytes))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
