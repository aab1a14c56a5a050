package main

import (
	"fmt"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
	"github.com/cnnctl/cnnctl/internal/plot"
	"github.com/spf13/cobra"
)

type evalOptions struct {
	Model     string
	DataDir   string
	JSON      bool
	PlotPath  string
	BatchSize int
}

func newEvalCmd(s streams) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use:   "eval --model CKPT",
		Short: "Measure a checkpoint on a test set",
		Long: `Eval reports loss, accuracy, per-class precision, recall, F1 and support, and the
confusion matrix. Without --data it uses the test split of the dataset the model
was trained on; --data takes an MNIST idx folder or a folder with one
subfolder of images per class.`,
		Example: `  cnnctl eval --model runs/lenet-bn-mnist/best.ckpt
  cnnctl eval --model runs/xo/best.ckpt --json
  cnnctl eval --model best.ckpt --data my-digits/ --plot confusion.png`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.Model == "" {
				return usagef("eval needs --model CKPT")
			}
			if o.BatchSize < 1 {
				return usagef("--batch-size must be at least 1")
			}
			return runEval(o, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint to evaluate")
	f.StringVar(&o.DataDir, "data", "", "test data folder (default: the model's test split)")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	f.StringVar(&o.PlotPath, "plot", "", "also draw the confusion matrix into this PNG")
	f.IntVar(&o.BatchSize, "batch-size", 500, "inference batch size")
	return c
}

func runEval(o *evalOptions, s streams) error {
	st, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	cfg := st.Config
	var ds *data.Dataset
	if o.DataDir != "" {
		ds, err = data.LoadDir(o.DataDir, cfg.Data, st.Classes)
	} else {
		ds, err = data.LoadTest(cfg.Data, cfg.Seed)
	}
	if err != nil {
		return err
	}
	if ds.Len() == 0 {
		return fmt.Errorf("the test set is empty")
	}
	if len(ds.Classes) > len(st.Classes) {
		return fmt.Errorf("the data has %d classes, the model %d", len(ds.Classes), len(st.Classes))
	}
	runner, err := eval.NewFixedRunner(st.Net, min(o.BatchSize, ds.Len()))
	if err != nil {
		return err
	}
	defer runner.Close()
	res, err := runner.Evaluate(ds, data.Norm{Mean: cfg.Data.Normalize.Mean, Std: cfg.Data.Normalize.Std}, st.Classes)
	if err != nil {
		return err
	}
	if o.PlotPath != "" {
		title := fmt.Sprintf("%s: accuracy %.2f%%", cfg.Name, 100*res.Accuracy)
		if err := plot.Confusion(o.PlotPath, res.Confusion, st.Classes, title); err != nil {
			return err
		}
	}
	if o.JSON {
		return res.WriteJSON(s.Out)
	}
	fmt.Fprintf(s.Out, "model     %s (%s, epoch %d)\n", o.Model, cfg.Name, st.Epoch)
	res.WriteTable(s.Out)
	return nil
}
