package main

import (
	"encoding/json"
	"fmt"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/plot"
	"github.com/cnnctl/cnnctl/internal/predict"
)

// maxTracks bounds the recordings --plot draws (one row each).
const maxTracks = 8

// runPredictSignals classifies recordings with a signal model.
func runPredictSignals(o *predictOptions, st *checkpoint.State, args []string, s streams) error {
	if o.DebugDir != "" || o.NoPreprocess || o.Invert != "" {
		return usagef("--debug-dir, --no-preprocess and --invert apply to images; %s takes signals", o.Model)
	}
	inputs, errs := predict.ExpandMatching(args, o.Recursive, o.Stdin, predict.IsSignalFile, "recordings (.csv or .npy files)")
	for _, e := range errs {
		fmt.Fprintf(s.Err, "cnnctl: %v\n", e)
	}
	failed := len(errs)
	var tracks []plot.Track
	drawn, total := 0, 0
	if len(inputs) > 0 {
		p, err := predict.New(st, st.Config.Preprocess, o.BatchSize)
		if err != nil {
			return err
		}
		defer p.Close()
		enc := json.NewEncoder(s.Out)
		show := func(pr predict.Prediction) {
			if o.JSON {
				_ = enc.Encode(pr)
				return
			}
			// The recording, then where the window lies (or how many it averages).
			switch {
			case pr.Window != nil:
				pr.File += fmt.Sprintf(" [%d, %d)", pr.Window.Start, pr.Window.End)
			case pr.Windows > 0:
				pr.File += fmt.Sprintf(" (%d windows)", pr.Windows)
			}
			fmt.Fprintln(s.Out, formatPrediction(pr))
		}
		n, err := p.PredictSignals(inputs, o.Top, func(r predict.SignalResult, err error) {
			if err != nil {
				fmt.Fprintf(s.Err, "cnnctl: %v\n", err)
				return
			}
			for _, w := range r.Windows {
				show(w)
			}
			if r.Whole != nil {
				show(*r.Whole)
			}
			total++
			if o.PlotPath != "" && len(tracks) < maxTracks {
				tracks = append(tracks, signalTrack(r, st))
				drawn++
			}
		})
		failed += n
		if err != nil {
			return err
		}
	}
	if o.PlotPath != "" && len(tracks) > 0 {
		if err := plot.Signals(o.PlotPath, tracks, st.Classes); err != nil {
			return err
		}
		more := ""
		if total > drawn {
			more = fmt.Sprintf(" (the first %d of %d recordings)", drawn, total)
		}
		fmt.Fprintf(s.Err, "wrote %s%s\n", o.PlotPath, more)
	}
	if failed > 0 {
		return errFilesFailed(failed)
	}
	return nil
}

// signalTrack is a recording's first channel with each window's class on
// the stretch it starts (up to the next window's start).
func signalTrack(r predict.SignalResult, st *checkpoint.State) plot.Track {
	rec := r.Recording
	tr := plot.Track{Title: rec.Source, Rate: st.Config.Data.Rate, Y: make([]float64, rec.Len)}
	for t := range rec.Len {
		tr.Y[t] = float64(rec.Values[t])
	}
	if r.Whole != nil {
		tr.Title += fmt.Sprintf(": %s (%.1f %%, %d windows)", r.Whole.Label, 100*r.Whole.Probability, r.Whole.Windows)
	} else if len(r.Windows) == 1 {
		tr.Title += fmt.Sprintf(": %s (%.1f %%)", r.Windows[0].Label, 100*r.Windows[0].Probability)
	}
	for i, w := range r.Windows {
		end := w.Window.End
		if i+1 < len(r.Windows) {
			end = r.Windows[i+1].Window.Start
		}
		tr.Bands = append(tr.Bands, plot.Band{Start: w.Window.Start, End: min(end, rec.Len), Class: w.Index})
	}
	return tr
}
