package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/inspect"
	"github.com/cnnctl/cnnctl/internal/predict"
	"github.com/spf13/cobra"
)

type visualizeOptions struct {
	Model        string
	Out          string
	Class        string // "" explains the predicted class
	HTML         bool
	NoPreprocess bool
	Invert       string
}

func newVisualizeCmd(s streams) *cobra.Command {
	o := &visualizeOptions{}
	c := &cobra.Command{
		Use:   "visualize --model CKPT [IMAGE] --out DIR",
		Short: "Draw a network's filters, and for an image its feature maps, saliency and Grad-CAM",
		Long: `Visualize draws what a trained network has learned and what it does with an input:

  filters.png                the first convolution's kernels (blue < 0 < red; in colour
                             for RGB inputs), and the kernel norms of the deeper ones
  feature-maps-<layer>.png   for IMAGE: every channel of every convolution and pooling
                             output, each scaled to its own range
  saliency.png               for IMAGE: |∂score/∂pixel|, the pixels the class score is
                             most sensitive to (Simonyan et al. 2013)
  gradcam.png                for IMAGE: Grad-CAM at the last convolution — its maps
                             weighted by the mean gradient of the score (Selvaraju et al. 2017)
  index.html                 with --html: all of the above and the layer table on one
                             self-contained page

IMAGE is preprocessed exactly as predict does (the checkpoint's recipe). The class
explained is the predicted one unless --class names another. The gradients come from
the network's own graph, as in training.`,
		Example: `  cnnctl visualize --model runs/lenet-bn-mnist/best.ckpt --out seen/
  cnnctl visualize --model runs/lenet-bn-mnist/best.ckpt digit.png --out seen/ --html
  cnnctl visualize --model runs/xo/best.ckpt drawing.png --class o --out seen/`,
		RunE: func(_ *cobra.Command, args []string) error {
			if o.Model == "" || o.Out == "" {
				return usagef("visualize needs --model CKPT and --out DIR")
			}
			if len(args) > 1 {
				return usagef("visualize takes at most one image, got %d", len(args))
			}
			if o.Invert != "" && o.Invert != "auto" && o.Invert != "yes" && o.Invert != "no" {
				return usagef("--invert must be auto, yes or no, got %q", o.Invert)
			}
			image := ""
			if len(args) == 1 {
				image = args[0]
			} else if o.Class != "" {
				return usagef("--class needs an IMAGE to explain")
			}
			return runVisualize(o, image, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint")
	f.StringVarP(&o.Out, "out", "o", "", "directory for the pictures (created if missing)")
	f.StringVar(&o.Class, "class", "", "explain this class (a label) instead of the predicted one")
	f.BoolVar(&o.HTML, "html", false, "also write index.html, one self-contained page with everything")
	f.BoolVar(&o.NoPreprocess, "no-preprocess", false, "only resize the whole image to the input shape")
	f.StringVar(&o.Invert, "invert", "", "ink polarity: auto, yes or no (default: the checkpoint's recipe)")
	return c
}

func runVisualize(o *visualizeOptions, image string, s streams) error {
	st, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	class := -1
	if o.Class != "" {
		if class = slices.Index(st.Classes, o.Class); class < 0 {
			return usagef("--class %q: the model's classes are %v", o.Class, st.Classes)
		}
	}
	var lk *inspect.Look
	if image != "" && st.Config.Data.IsSignals() {
		return fmt.Errorf("%s: a signal model draws its filters only (no image to look at); its windows are drawn by cnnctl predict --plot", o.Model)
	}
	if image != "" {
		recipe := st.Config.Preprocess
		if o.NoPreprocess {
			recipe.Mode, recipe.Invert = "resize", "no"
		}
		if o.Invert != "" {
			recipe.Invert = o.Invert
		}
		px, err := predict.NewLoader(st, recipe).Load(predict.Input{Name: image})
		if err != nil {
			return err
		}
		norm := data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std}
		if lk, err = inspect.Examine(st.Net, norm, px, class); err != nil {
			return err
		}
	}
	r, err := inspect.NewReport(st.Net, st.Classes, lk)
	if err != nil {
		return err
	}
	r.Model, r.Input = o.Model, image
	if len(r.Figures) == 0 && !o.HTML {
		return fmt.Errorf("%s: the model has no convolution layers, so there are no filters to draw; give an IMAGE or --html", o.Model)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	if lk != nil {
		fmt.Fprintf(s.Out, "%s: %s (p = %.4f)\n", image, r.Label(lk.Class), lk.Probs[lk.Class])
	}
	for _, f := range r.Figures {
		b, err := f.PNG()
		if err != nil {
			return err
		}
		if err := writeOutput(s, filepath.Join(o.Out, f.File), b); err != nil {
			return err
		}
	}
	if o.HTML {
		b, err := r.HTML()
		if err != nil {
			return err
		}
		return writeOutput(s, filepath.Join(o.Out, "index.html"), b)
	}
	return nil
}

// writeOutput writes b to path atomically and says so.
func writeOutput(s streams, path string, b []byte) error {
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s\n", path)
	return nil
}
