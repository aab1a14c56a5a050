package data

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
)

// Load returns the training and test sets a config's data section names.
// X-vs-O sets are generated from the seed (the test set from a separate
// stream); a folder without a test folder has a seeded fraction held out.
func Load(c config.Data, seed uint64) (train, test *Dataset, err error) {
	switch c.Source {
	case "mnist":
		if train, test, err = LoadMNIST(c.Dir); err != nil {
			return nil, nil, err
		}
	case "xo":
		train = GenerateXO(c.TrainSize, c.Shape[1], c.Shape[2], seed)
		test = GenerateXO(c.TestSize, c.Shape[1], c.Shape[2], seed^0x7e57)
		return train, test, nil
	case "folder":
		shape := [3]int{c.Shape[0], c.Shape[1], c.Shape[2]}
		if train, err = LoadFolder(c.Dir, shape); err != nil {
			return nil, nil, err
		}
		if c.TestDir != "" {
			if test, err = LoadFolder(c.TestDir, shape); err != nil {
				return nil, nil, err
			}
			if !slices.Equal(test.Classes, train.Classes) {
				return nil, nil, fmt.Errorf("%s: classes [%s] differ from the training folder's [%s]",
					c.TestDir, strings.Join(test.Classes, " "), strings.Join(train.Classes, " "))
			}
		} else {
			train, test = train.Split(c.TestSplit, seed^0x7e57)
		}
	case "signals":
		f := SignalFormatOf(c)
		if train, err = LoadSignals(c.Dir, f, nil); err != nil {
			return nil, nil, err
		}
		if c.TestDir != "" {
			if test, err = LoadSignals(c.TestDir, f, train.Classes); err != nil {
				return nil, nil, err
			}
		} else {
			// By recording: windows of one recording stay on one side.
			train, test = train.Split(c.TestSplit, seed^0x7e57)
		}
	default:
		return nil, nil, fmt.Errorf("unknown data source %q", c.Source)
	}
	if c.TrainSize > 0 {
		train = train.Head(c.TrainSize)
	}
	return train, test, nil
}

// LoadTest returns only the test set (for eval), skipping work where it can.
func LoadTest(c config.Data, seed uint64) (*Dataset, error) {
	switch c.Source {
	case "mnist":
		ip, err := findMNIST(c.Dir, TestImages)
		if err != nil {
			return nil, err
		}
		lp, err := findMNIST(c.Dir, TestLabels)
		if err != nil {
			return nil, err
		}
		return LoadMNISTPair(ip, lp)
	case "xo":
		return GenerateXO(c.TestSize, c.Shape[1], c.Shape[2], seed^0x7e57), nil
	}
	_, test, err := Load(c, seed)
	return test, err
}

// LoadDir reads data given on the command line for evaluation, as a
// model whose data section is d takes them: recordings for a signal model
// (a file or folder, its classes fixed to the model's), else an MNIST idx
// folder if it holds the test files, else an image folder.
func LoadDir(dir string, d config.Data, classes []string) (*Dataset, error) {
	if d.IsSignals() {
		return LoadSignals(dir, SignalFormatOf(d), classes)
	}
	shape := ShapeOf(d)
	if ip, err := findMNIST(dir, TestImages); err == nil {
		lp, err := findMNIST(dir, TestLabels)
		if err != nil {
			return nil, err
		}
		return LoadMNISTPair(ip, lp)
	}
	return LoadFolder(dir, shape)
}

// ClassCount is how many classes a config's data has, as far as the config
// says without reading the data: MNIST 10, X-vs-O 2, an image folder the
// units of the model's last dense layer (one logit per class), and so do
// signals.
func ClassCount(cfg *config.Config) int {
	switch cfg.Data.Source {
	case "xo":
		return 2
	case "folder", "signals":
		if ls := cfg.Layers(); len(ls) > 0 && ls[len(ls)-1].Type == "dense" {
			return ls[len(ls)-1].Units
		}
	}
	return 10
}
