package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/predict"
	"github.com/spf13/cobra"
)

type predictOptions struct {
	Model        string
	Top          int
	JSON         bool
	Recursive    bool
	NoPreprocess bool
	Invert       string
	DebugDir     string
	BatchSize    int
	PlotPath     string
	Stdin        io.Reader
}

func newPredictCmd(s streams) *cobra.Command {
	o := &predictOptions{Stdin: os.Stdin}
	c := &cobra.Command{
		Use:   "predict --model CKPT FILE|DIR|- ...",
		Short: "Classify image files of any size and format, or signal recordings",
		Long: `Predict classifies PNG, JPEG, GIF, BMP, TIFF and WebP files. A directory means every
image file in it (sorted; --recursive to descend); - reads one image from
standard input.

Each image is preprocessed by the recipe stored in the checkpoint: colour to
luminance, ink polarity detected from the border (dark ink on light paper is
inverted so ink is bright, as in MNIST), background removed, and for MNIST
models cropped to the ink, fitted in 20×20 keeping the aspect ratio and centred
by its centre of mass in 28×28 — the recipe MNIST itself was made with.
--debug-dir shows what each file became.

A signal model (data.source signals) classifies recordings instead: every row
of a CSV file (a label column, if the header names it, is skipped) or every
recording of an .npy array, cut into windows as in training and normalised by
the checkpoint's statistics. Each window gets a line (its samples [start, end)),
and a recording of several windows one more: the mean of their probabilities.
--plot draws the recordings with each window coloured by its class.

A file that cannot be read is reported on stderr and the others are still
classified; the exit status is then 1.`,
		Example: `  cnnctl predict --model runs/lenet-bn-mnist/best.ckpt photo_of_a_7.jpg scans/ digits/*.png
  cnnctl predict --model runs/xo/best.ckpt --top 2 --json drawing.png
  cat digit.png | cnnctl predict --model best.ckpt -
  cnnctl predict --model best.ckpt --debug-dir seen/ scans/
  cnnctl predict --model runs/vibration-1d/best.ckpt --plot windows.png recording.csv`,
		RunE: func(_ *cobra.Command, args []string) error {
			if o.Model == "" {
				return usagef("predict needs --model CKPT")
			}
			if len(args) == 0 {
				return usagef("predict needs image files, directories or - (see 'cnnctl predict --help')")
			}
			if o.Invert != "" && o.Invert != "auto" && o.Invert != "yes" && o.Invert != "no" {
				return usagef("--invert must be auto, yes or no, got %q", o.Invert)
			}
			if o.Top < 1 || o.BatchSize < 1 {
				return usagef("--top and --batch-size must be at least 1")
			}
			return runPredict(o, args, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint")
	f.IntVar(&o.Top, "top", 1, "also list the k most probable classes")
	f.BoolVar(&o.JSON, "json", false, "one JSON object per line")
	f.BoolVarP(&o.Recursive, "recursive", "r", false, "descend into subdirectories")
	f.BoolVar(&o.NoPreprocess, "no-preprocess", false, "only resize the whole image to the input shape")
	f.StringVar(&o.Invert, "invert", "", "ink polarity: auto, yes or no (default: the checkpoint's recipe)")
	f.StringVar(&o.DebugDir, "debug-dir", "", "write each preprocessed input here as PNG")
	f.IntVar(&o.BatchSize, "batch-size", 256, "images (or windows) per forward pass")
	f.StringVar(&o.PlotPath, "plot", "", "signal models: draw the recordings, windows coloured by class, into this PNG")
	return c
}

// errFilesFailed reports that some inputs failed (each was already reported).
type errFilesFailed int

func (e errFilesFailed) Error() string {
	return fmt.Sprintf("%d input(s) could not be classified", int(e))
}

func runPredict(o *predictOptions, args []string, s streams) error {
	st, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	if st.Config.Data.IsSignals() {
		return runPredictSignals(o, st, args, s)
	}
	if o.PlotPath != "" {
		return usagef("--plot draws the windows of signal recordings; %s is an image model", o.Model)
	}
	recipe := st.Config.Preprocess
	if o.NoPreprocess {
		recipe.Mode, recipe.Invert = "resize", "no"
	}
	if o.Invert != "" {
		recipe.Invert = o.Invert
	}
	inputs, errs := predict.Expand(args, o.Recursive, o.Stdin)
	for _, e := range errs {
		fmt.Fprintf(s.Err, "cnnctl: %v\n", e)
	}
	failed := len(errs)
	if len(inputs) > 0 {
		p, err := predict.New(st, recipe, min(o.BatchSize, len(inputs)))
		if err != nil {
			return err
		}
		defer p.Close()
		p.DebugDir = o.DebugDir
		enc := json.NewEncoder(s.Out)
		n, err := p.Predict(inputs, o.Top, func(pr predict.Prediction, err error) {
			switch {
			case err != nil:
				fmt.Fprintf(s.Err, "cnnctl: %v\n", err)
			case o.JSON:
				_ = enc.Encode(pr)
			default:
				fmt.Fprintln(s.Out, formatPrediction(pr))
			}
		})
		failed += n
		if err != nil {
			return err
		}
	}
	if failed > 0 {
		return errFilesFailed(failed)
	}
	return nil
}

func formatPrediction(p predict.Prediction) string {
	line := fmt.Sprintf("%s\t%s\t%.4f", p.File, p.Label, p.Probability)
	if len(p.Top) > 0 {
		parts := make([]string, len(p.Top))
		for i, c := range p.Top {
			parts[i] = fmt.Sprintf("%s:%.4f", c.Label, c.Probability)
		}
		line += "\t" + strings.Join(parts, " ")
	}
	return line
}
