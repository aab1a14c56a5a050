package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/machine"
	"github.com/cnnctl/cnnctl/internal/model/layers"
	"github.com/cnnctl/cnnctl/internal/train"
	"github.com/spf13/cobra"
)

// trainOptions are the train command's inputs; zero values leave the
// config's settings alone.
type trainOptions struct {
	ConfigPath string
	OutDir     string
	Epochs     int
	BatchSize  int
	Seed       int64 // −1: the config's
	Resume     string
	InitFrom   string // overrides train.init_from
	Quiet      bool
	MaxMemory  float64 // GB; 0: 80 % of the machine's memory
}

func newTrainCmd(s streams) *cobra.Command {
	o := &trainOptions{Seed: -1}
	c := &cobra.Command{
		Use:   "train -c CONFIG",
		Short: "Train a network described by a YAML config",
		Long: `Train builds the network in the config, trains it and writes a run folder
(default runs/<config name>/) holding best.ckpt, last.ckpt, metrics.csv,
curves.png and a copy of the config. Flags override the config. Progress
goes to stderr: a live bar on a terminal, one line per epoch otherwise.
Interrupting (Ctrl-C) keeps the last finished epoch's checkpoint, which
--resume continues exactly.

Transfer learning: --init-from (train.init_from) starts from another model's
weights wherever a layer's name and shapes match (a new head of another size
starts fresh; what was loaded is printed), and train.freeze / freeze_until keep
layers fixed: no weight gradients, no optimizer state, batch norms at their
running statistics unless freeze_bn: false.

Data (data.source): mnist, xo (synthetic X-vs-O drawings), folder (class
folders of images) or signals (1-D recordings: a CSV file or folder, .npy
arrays, class folders; data.window and data.hop cut them into windows).
The config's fields: README, "Config reference".

Layer kinds (model: - {type: KIND, ...}):
` + layerKindsHelp(),
		Example: `  cnnctl train -c configs/xo.yaml
  cnnctl train -c configs/lenet-bn-mnist.yaml --epochs 5 --out runs/longer
  cnnctl train -c configs/lenet-bn-mnist.yaml --resume runs/lenet-bn-mnist/last.ckpt
  cnnctl train -c configs/xo-finetune.yaml --init-from runs/lenet-bn-mnist/best.ckpt
  cnnctl data vibration --out data/vibration && cnnctl train -c configs/vibration-1d.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ConfigPath == "" && o.Resume == "" {
				return usagef("train needs a config: cnnctl train -c CONFIG (or --resume CKPT)")
			}
			if o.MaxMemory < 0 || math.IsNaN(o.MaxMemory) || math.IsInf(o.MaxMemory, 0) {
				return usagef("--max-memory must be a positive number of GB")
			}
			// Given, 0 is a mistake, not "the config's value".
			for _, f := range []string{"epochs", "batch-size"} {
				if v, _ := cmd.Flags().GetInt(f); cmd.Flags().Changed(f) && v < 1 {
					return usagef("--%s must be at least 1, got %d", f, v)
				}
			}
			return runTrain(cmd.Context(), o, s)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.ConfigPath, "config", "c", "", "YAML config file")
	f.StringVar(&o.OutDir, "out", "", "run folder (default runs/<config name>)")
	f.IntVar(&o.Epochs, "epochs", 0, "number of epochs (overrides train.epochs)")
	f.IntVar(&o.BatchSize, "batch-size", 0, "mini-batch size (overrides train.batch_size)")
	f.Int64Var(&o.Seed, "seed", -1, "random seed (overrides seed)")
	f.StringVar(&o.Resume, "resume", "", "continue from this checkpoint (usually <run>/last.ckpt)")
	f.StringVar(&o.InitFrom, "init-from", "", "start from the weights of this checkpoint or safetensors state_dict, layer by layer where names and shapes match (overrides train.init_from)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "print only the final summary")
	f.Float64Var(&o.MaxMemory, "max-memory", 0, "refuse a run estimated to need more than this many GB (default: 80% of the machine's memory)")
	return c
}

// loadTrainConfig reads the config (or, resuming without one, the
// checkpoint's) and applies the flags.
func loadTrainConfig(o *trainOptions) (*config.Config, string, error) {
	var cfg *config.Config
	path := o.ConfigPath
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, "", err
		}
	} else {
		st, err := checkpoint.Load(o.Resume)
		if err != nil {
			return nil, "", err
		}
		cfg, path = st.Config, o.Resume
	}
	if o.Epochs < 0 || o.BatchSize < 0 {
		return nil, "", usagef("--epochs and --batch-size must be positive")
	}
	if o.Epochs > 0 {
		cfg.Train.Epochs = o.Epochs
	}
	if o.BatchSize > 0 {
		cfg.Train.BatchSize = o.BatchSize
	}
	if o.Seed >= 0 {
		cfg.Seed = uint64(o.Seed)
	}
	if o.OutDir != "" {
		cfg.Output.Dir = o.OutDir
	}
	if o.InitFrom != "" {
		cfg.Train.InitFrom = o.InitFrom
	}
	if errs := cfg.Check(path); len(errs) > 0 {
		return nil, "", errs
	}
	return cfg, path, nil
}

func runTrain(ctx context.Context, o *trainOptions, s streams) error {
	cfg, path, err := loadTrainConfig(o)
	if err != nil {
		return err
	}
	log := s.Err
	if o.Quiet {
		log = nil
	}
	res, err := train.Run(ctx, train.Options{
		Config: cfg, ConfigPath: path, Resume: o.Resume,
		Progress:  train.NewProgress(s.Err, s.ErrTerminal, o.Quiet),
		Log:       log,
		MaxMemory: int64(o.MaxMemory * 1e9),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "trained %s: %s", cfg.Name, plural(res.Trained, "epoch"))
	if res.Trained != res.Epochs {
		fmt.Fprintf(s.Out, " (resumed after epoch %d)", res.Epochs-res.Trained)
	}
	if res.MeanSeconds > 0 {
		fmt.Fprintf(s.Out, ", %.3g s/epoch, %.0f img/s", res.MeanSeconds, res.MeanImgPerS)
	}
	fmt.Fprintln(s.Out)
	if !math.IsNaN(res.TestAcc) {
		fmt.Fprintf(s.Out, "test accuracy %.2f%% (loss %.4f)\n", 100*res.TestAcc, res.TestLoss)
	}
	// Without a validation split the best epoch is the best on the training set.
	which := "validation"
	if cfg.Data.Validation == 0 {
		which = "training"
	}
	if res.Stopped != "" {
		fmt.Fprintln(s.Out, res.Stopped)
	}
	best := fmt.Sprintf("%s accuracy %.2f%%", which, 100*res.BestValAcc)
	if math.IsNaN(res.BestValAcc) {
		best = fmt.Sprintf("validation loss %.4f", res.BestValLoss)
	}
	fmt.Fprintf(s.Out, "best epoch %d (%s); checkpoints in %s\n", res.BestEpoch, best, res.RunDir)
	if rss := machine.MB(machine.PeakRSS()); rss > 0 {
		fmt.Fprintf(s.Out, "peak RSS %.0f MB\n", rss)
	}
	return nil
}

// plural is "1 epoch", "3 epochs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// layerKindsHelp lists the registered layer kinds, one line each, for
// train's --help: the registry is where each kind declares itself.
func layerKindsHelp() string {
	var b strings.Builder
	for _, k := range layers.Kinds() {
		fmt.Fprintf(&b, "  %-18s %s\n", k.Name, k.Doc)
	}
	return strings.TrimRight(b.String(), "\n")
}
