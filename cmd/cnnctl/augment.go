package main

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/inspect"
	"github.com/spf13/cobra"
)

type augmentOptions struct {
	ConfigPath string
	Out        string
	N          int // examples (rows)
	Versions   int // augmented versions of each (columns after the original)
}

func newAugmentCmd(s streams) *cobra.Command {
	o := &augmentOptions{}
	c := &cobra.Command{
		Use:   "augment -c CONFIG --out GRID.png",
		Short: "Draw training images next to augmented versions of them, to see what augment: does",
		Long: `Augment loads the config's training data and draws a grid: each row one training
image, first as it is, then as the config's augment: section transforms it in
successive epochs — exactly what training feeds the network (before the
normalisation). Use it to tune the settings before a long run.`,
		Example: `  cnnctl augment -c configs/lenet-bn-mnist-augment.yaml --out augment.png
  cnnctl augment -c my.yaml --out grid.png --n 4 --versions 11`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.ConfigPath == "" || o.Out == "" {
				return usagef("augment needs -c CONFIG and --out GRID.png")
			}
			if o.N < 1 || o.Versions < 1 || o.N > 100 || o.Versions > 100 {
				return usagef("--n and --versions must be 1 to 100")
			}
			return runAugment(o, s)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.ConfigPath, "config", "c", "", "YAML config file")
	f.StringVarP(&o.Out, "out", "o", "", "the grid PNG")
	f.IntVar(&o.N, "n", 8, "training images (rows), spread over the classes")
	f.IntVar(&o.Versions, "versions", 7, "augmented versions of each (columns)")
	return c
}

func runAugment(o *augmentOptions, s streams) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Augment == nil {
		return &config.Error{File: o.ConfigPath, Msg: "the config has no augment: section, so there is nothing to show"}
	}
	trainSet, _, err := data.Load(cfg.Data, cfg.Seed)
	if err != nil {
		return err
	}
	norm := data.Norm{Mean: cfg.Data.Normalize.Mean, Std: cfg.Data.Normalize.Std}
	aug := data.NewAugmenter(trainSet, norm, *cfg.Augment, cfg.Seed)
	c, h, w := trainSet.Shape[0], trainSet.Shape[1], trainSet.Shape[2]
	rows := pickPerClass(trainSet, o.N)
	z := max(1, (84+max(h, w)-1)/max(h, w))
	g := inspect.Grid{Rows: len(rows), Cols: 1 + o.Versions, CellW: w * z, CellH: h * z,
		Title: "augment: " + describeAugment(cfg.Augment) + " — each row: the original, then epochs 1, 2, …"}
	var cells []inspect.Cell
	for _, i := range rows {
		cells = append(cells, inspect.Cell{Img: data.ToImage(trainSet.Image(i), c, h, w), Caption: "original: " + trainSet.Classes[trainSet.Labels[i]]})
		for ep := 1; ep <= o.Versions; ep++ {
			v := aug.Sample(i, ep, i)
			px := make([]uint8, len(v))
			for j, x := range v {
				px[j] = uint8(math.Round(255 * min(1, max(0, float64(x)))))
			}
			cells = append(cells, inspect.Cell{Img: data.ToImage(px, c, h, w), Caption: fmt.Sprint(ep)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, inspect.Sheet(g, cells)); err != nil {
		return err
	}
	return writeOutput(s, o.Out, b.Bytes())
}

// pickPerClass chooses n examples, taking the classes in turn.
func pickPerClass(d *data.Dataset, n int) []int {
	byClass := make([][]int, len(d.Classes))
	for i, y := range d.Labels {
		if len(byClass[y]) < n {
			byClass[y] = append(byClass[y], i)
		}
	}
	var out []int
	for k := 0; len(out) < n && k < n; k++ {
		for _, ids := range byClass {
			if k < len(ids) && len(out) < n {
				out = append(out, ids[k])
			}
		}
	}
	return out
}

// describeAugment lists the settings that are on.
func describeAugment(a *config.Augment) string {
	var p []string
	add := func(on bool, format string, v ...any) {
		if on {
			p = append(p, fmt.Sprintf(format, v...))
		}
	}
	add(a.Rotate > 0, "rotate ±%g°", a.Rotate)
	add(len(a.Scale) == 2, "scale %v", a.Scale)
	add(a.Translate > 0, "translate ±%g", a.Translate)
	add(a.Shear > 0, "shear ±%g°", a.Shear)
	add(a.Elastic != nil, "elastic α %g σ %g", elasticOr(a, true), elasticOr(a, false))
	add(a.HFlip, "hflip")
	add(a.VFlip, "vflip")
	add(a.Crop > 0, "crop %d", a.Crop)
	add(a.Thickness > 0, "thickness %g", a.Thickness)
	add(a.Brightness > 0, "brightness ±%g", a.Brightness)
	add(a.Contrast > 0, "contrast ±%g", a.Contrast)
	add(a.Noise > 0, "noise %g", a.Noise)
	add(a.Erase != nil, "erase")
	if len(p) == 0 {
		return "nothing on"
	}
	return strings.Join(p, ", ")
}

func elasticOr(a *config.Augment, alpha bool) float64 {
	if alpha {
		return a.Elastic.Alpha
	}
	return a.Elastic.Sigma
}
