// Package predict classifies image files with a checkpoint: it decodes any
// supported format, applies the checkpoint's preprocessing recipe, runs the
// network in batches and reports the top classes per file. A signal model
// classifies recordings (CSV rows, .npy arrays) window by window instead.
package predict

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
	"github.com/cnnctl/cnnctl/internal/preprocess"
)

// Class is one class with its probability.
type Class struct {
	Label       string  `json:"label"`
	Index       int     `json:"-"`
	Probability float64 `json:"probability"`
}

// Prediction is the result for one input.
type Prediction struct {
	File        string  `json:"file"`
	Label       string  `json:"label"`
	Index       int     `json:"index"`
	Probability float64 `json:"probability"`
	Top         []Class `json:"top,omitempty"`
	// Window is where a signal model's example lies in its recording;
	// Windows, on a recording's own line, how many windows it averages.
	Window  *Window `json:"window,omitempty"`
	Windows int     `json:"windows,omitempty"`
}

// Input is one image to classify: a name for messages and its bytes or path.
type Input struct {
	Name string
	Data []byte // if nil, Name is read as a file
}

// Loader turns image files into a model's input pixels: decoding any
// supported format, then the preprocessing recipe. It needs no graph (the
// serve and visualize commands batch or differentiate elsewhere).
type Loader struct {
	Recipe preprocess.Recipe
	shape  [3]int
}

// NewLoader prepares the loading of inputs for a checkpoint's model.
func NewLoader(st *checkpoint.State, recipe preprocess.Recipe) *Loader {
	s := st.Config.Data.Shape
	if len(s) == 2 { // a signal model: C×L, as a 1×L image of C channels
		return &Loader{Recipe: recipe, shape: [3]int{s[0], 1, s[1]}}
	}
	return &Loader{Recipe: recipe, shape: [3]int{s[0], s[1], s[2]}}
}

// Load decodes and preprocesses one input into the model's input pixels.
func (l *Loader) Load(in Input) ([]uint8, error) {
	var img image.Image
	var err error
	if in.Data != nil {
		img, err = data.DecodeBytes(in.Data, in.Name)
	} else {
		img, err = data.DecodeFile(in.Name)
	}
	if err != nil {
		return nil, err
	}
	return preprocess.Apply(l.Recipe, img, l.shape[0], l.shape[1], l.shape[2]), nil
}

// Predictor holds a loaded model and its preprocessing.
type Predictor struct {
	*Loader
	State *checkpoint.State
	// DebugDir, if set, receives each input as the network sees it (PNG).
	DebugDir string
	runner   *eval.Runner
	norm     data.Norm
}

// New prepares a predictor for a checkpoint with batches of up to batch images.
func New(st *checkpoint.State, recipe preprocess.Recipe, batch int) (*Predictor, error) {
	r, err := eval.NewFixedRunner(st.Net, batch)
	if err != nil {
		return nil, err
	}
	return &Predictor{Loader: NewLoader(st, recipe), State: st, runner: r,
		norm: data.Norm{Mean: st.Config.Data.Normalize.Mean, Std: st.Config.Data.Normalize.Std}}, nil
}

// Close releases the inference graph.
func (p *Predictor) Close() error { return p.runner.Close() }

// Predict classifies inputs, calling report for each, in order, with
// either a prediction or the error that stopped that input (a bad file
// does not stop the others). It returns how many failed.
func (p *Predictor) Predict(inputs []Input, top int, report func(Prediction, error)) (int, error) {
	ds := &data.Dataset{Shape: p.shape, Classes: p.State.Classes}
	errs := make([]error, len(inputs))
	row := make([]int, len(inputs)) // input → row of ds, −1 if it failed
	failed := 0
	for i, in := range inputs {
		px, err := p.Load(in)
		if err != nil {
			errs[i], row[i] = err, -1
			failed++
			continue
		}
		row[i] = ds.Len()
		if p.DebugDir != "" {
			if err := p.writeDebug(in.Name, i, px); err != nil {
				return failed, err
			}
		}
		ds.Images = append(ds.Images, px...)
		ds.Labels = append(ds.Labels, 0)
	}
	var logits []float32
	if ds.Len() > 0 {
		var err error
		if logits, err = p.runner.Logits(ds, p.norm); err != nil {
			return failed, err
		}
	}
	k := p.State.Net.Classes
	for i, in := range inputs {
		if r := row[i]; r >= 0 {
			report(Rank(in.Name, logits[r*k:(r+1)*k], p.State.Classes, top), nil)
		} else {
			report(Prediction{File: in.Name}, errs[i])
		}
	}
	return failed, nil
}

// Rank turns logits into a prediction with the top classes by probability.
func Rank(name string, z []float32, classes []string, top int) Prediction {
	return RankProbabilities(name, eval.Softmax(z), classes, top)
}

// RankProbabilities is Rank of class probabilities.
func RankProbabilities(name string, probs []float64, classes []string, top int) Prediction {
	order := make([]Class, len(probs))
	for i := range probs {
		label := fmt.Sprint(i)
		if i < len(classes) {
			label = classes[i]
		}
		order[i] = Class{Label: label, Index: i, Probability: probs[i]}
	}
	slices.SortStableFunc(order, func(a, b Class) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	p := Prediction{File: name, Label: order[0].Label, Index: order[0].Index, Probability: order[0].Probability}
	if top > 1 {
		p.Top = order[:min(top, len(order))]
	}
	return p
}

func (p *Predictor) writeDebug(name string, i int, px []uint8) error {
	if err := os.MkdirAll(p.DebugDir, 0o755); err != nil {
		return err
	}
	c, h, w := p.shape[0], p.shape[1], p.shape[2]
	img := data.ToImage(px, c, h, w)
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	out := filepath.Join(p.DebugDir, fmt.Sprintf("%04d-%s.png", i, base))
	return atomicfile.Write(out, func(w *bufio.Writer) error { return png.Encode(w, img) })
}

// Expand turns command-line arguments into inputs: files as they are, a
// directory as its image files (sorted; recursively if asked), "-" as
// standard input.
func Expand(args []string, recursive bool, stdin io.Reader) ([]Input, []error) {
	return ExpandMatching(args, recursive, stdin, data.IsImageFile, "image files ("+strings.Join(data.ImageExts, " ")+")")
}

// ExpandMatching is Expand taking from directories the files that match
// (what names them in the message for a directory without any).
func ExpandMatching(args []string, recursive bool, stdin io.Reader, match func(string) bool, what string) ([]Input, []error) {
	var ins []Input
	var errs []error
	for _, a := range args {
		if a == "-" {
			b, err := io.ReadAll(io.LimitReader(stdin, 256<<20))
			if err != nil {
				errs = append(errs, fmt.Errorf("standard input: %w", err))
				continue
			}
			ins = append(ins, Input{Name: "-", Data: b})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", a, pe.Err)
			}
			errs = append(errs, err)
			continue
		}
		if !st.IsDir() {
			ins = append(ins, Input{Name: a})
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != a && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if match(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
		if len(files) == 0 && err == nil {
			errs = append(errs, fmt.Errorf("%s: no %s", a, what))
		}
		slices.Sort(files)
		for _, f := range files {
			ins = append(ins, Input{Name: f})
		}
	}
	return ins, errs
}
