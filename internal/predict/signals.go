package predict

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
)

// Window is where in its recording a prediction's example lies, in
// samples a channel: [Start, End).
type Window struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// SignalResult is what a signal model says of one recording: a prediction
// for each window, and the recording's (the mean of the windows'
// probabilities) where it has several.
type SignalResult struct {
	Recording data.Recording
	Windows   []Prediction
	Whole     *Prediction
}

// IsSignalFile says whether a path is a recording file a signal model reads.
func IsSignalFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".csv" || ext == ".npy"
}

// PredictSignals classifies every recording of the inputs (CSV rows, or
// .npy recordings), each cut into windows as in training and normalised by
// the checkpoint's statistics; report gets one result per recording, or the
// error that stopped an input (the others go on). It returns how many
// inputs failed.
func (p *Predictor) PredictSignals(inputs []Input, top int, report func(SignalResult, error)) (int, error) {
	f := data.SignalFormatOf(p.State.Config.Data)
	f.Labels = "" // the files to classify carry no label arrays
	failed := 0
	for _, in := range inputs {
		recs, err := readRecordings(in, f)
		if err == nil {
			err = p.classify(recs, f, top, report)
		}
		if err != nil {
			failed++
			report(SignalResult{}, err)
		}
	}
	return failed, nil
}

func readRecordings(in Input, f data.SignalFormat) ([]data.Recording, error) {
	b := in.Data
	if b == nil {
		var err error
		if b, err = data.ReadBounded(in.Name); err != nil {
			return nil, err
		}
	}
	recs, err := data.ParseRecordings(in.Name, b, f, nil, -1, nil)
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("%s: no recordings", in.Name)
	}
	return recs, err
}

// classify runs the windows of recordings through the network, a batch of
// windows at a time, and reports each recording.
func (p *Predictor) classify(recs []data.Recording, f data.SignalFormat, top int, report func(SignalResult, error)) error {
	ds := &data.Dataset{Shape: p.shape, Classes: p.State.Classes, Values: []float32{}}
	starts := make([][]int, len(recs))
	for i, r := range recs {
		v, s, err := f.Windows(r)
		if err != nil {
			return err
		}
		ds.Values = append(ds.Values, v...)
		for range s {
			ds.Labels = append(ds.Labels, 0)
		}
		starts[i] = s
	}
	logits, err := p.runner.Logits(ds, p.norm)
	if err != nil {
		return err
	}
	k, span, row := p.State.Net.Classes, f.Span(), 0
	for i, r := range recs {
		res := SignalResult{Recording: r}
		mean := make([]float64, k)
		for _, t := range starts[i] {
			z := logits[row*k : (row+1)*k]
			pr := Rank(r.Source, z, p.State.Classes, top)
			pr.Window = &Window{Start: t, End: t + span}
			res.Windows = append(res.Windows, pr)
			for j, q := range eval.Softmax(z) {
				mean[j] += q / float64(len(starts[i]))
			}
			row++
		}
		if len(res.Windows) > 1 {
			w := RankProbabilities(r.Source, mean, p.State.Classes, top)
			w.Windows = len(res.Windows)
			res.Whole = &w
		}
		report(res, nil)
	}
	return nil
}
