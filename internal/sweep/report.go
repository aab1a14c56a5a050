package sweep

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/plot"
)

// Report writes results.csv, results.md, best.yaml (the winner's config,
// as its trial trained it) and sweep.png into the sweep folder; results
// are best first, as Execute returns them.
func (sw *Sweep) Report(results []Result) error {
	s := sw.Spec
	if err := atomicfile.Write(filepath.Join(sw.Dir, "results.csv"), func(w *bufio.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"rank", "trial"}
		for _, p := range s.Params {
			head = append(head, p.Key)
		}
		cw.Write(append(head, "epochs", "val_acc", "val_loss", "params", "macs", "img_per_s", "seconds", "error", "dir"))
		for i, r := range results {
			row := []string{strconv.Itoa(i + 1), strconv.Itoa(r.Trial)}
			row = append(row, r.Values...)
			row = append(row, strconv.Itoa(r.Epochs), num(r.ValAcc), num(r.ValLoss), strconv.Itoa(r.Params),
				strconv.FormatInt(r.MACs, 10), num(r.ImgPerS), num(r.Seconds), r.Error, r.Dir)
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(sw.Dir, "results.md"), []byte(Table(s, results))); err != nil {
		return err
	}
	if len(results) > 0 && results[0].Error == "" {
		trials := Trials(s)
		_, doc, err := sw.Base.Config(s, trials[results[0].Trial-1])
		if err == nil {
			doc, err = setEpochs(doc, results[0].Epochs, filepath.Join("runs", "sweep-best"))
		}
		if err != nil {
			return err
		}
		head := fmt.Sprintf("# The best trial of the sweep in %s: trial %d, %s %s after %d epochs.\n", sw.Dir, results[0].Trial, s.Metric, metricText(s, results[0]), results[0].Epochs)
		if err := atomicfile.WriteBytes(filepath.Join(sw.Dir, "best.yaml"), append([]byte(head), doc...)); err != nil {
			return err
		}
	}
	return sw.chart(results)
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Table is the results as a markdown table, best first.
func Table(s *Spec, results []Result) string {
	var b strings.Builder
	b.WriteString("| rank | trial |")
	for _, p := range s.Params {
		b.WriteString(" `" + p.Key + "` |")
	}
	b.WriteString(" epochs | " + s.Metric + " | parameters | MACs/image | img/s | seconds |\n|---|---|")
	for range s.Params {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|---|---|---|\n")
	for i, r := range results {
		fmt.Fprintf(&b, "| %d | %d |", i+1, r.Trial)
		for _, v := range r.Values {
			b.WriteString(" " + v + " |")
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " %d | failed: %s | | | | |\n", r.Epochs, strings.ReplaceAll(r.Error, "|", "/"))
			continue
		}
		fmt.Fprintf(&b, " %d | %s | %d | %d | %.0f | %.1f |\n", r.Epochs, metricText(s, r), r.Params, r.MACs, r.ImgPerS, r.Seconds)
	}
	return b.String()
}

// chart draws the metric against each swept key, and against the
// parameters and multiply-adds of each trial (the accuracy/cost trade-off).
func (sw *Sweep) chart(results []Result) error {
	s := sw.Spec
	metric := func(r Result) float64 {
		if s.Metric == "val_loss" {
			return r.ValLoss
		}
		return 100 * r.ValAcc
	}
	label := map[string]string{"val_acc": "validation accuracy %", "val_loss": "validation loss"}[s.Metric]
	var panels []plot.Panel
	for i, p := range s.Params {
		var xs, ys []float64
		ticks := map[string]float64{} // non-numeric values: their order of appearance
		for _, r := range results {
			if r.Error != "" {
				continue
			}
			x, err := strconv.ParseFloat(r.Values[i], 64)
			if err != nil {
				if _, ok := ticks[r.Values[i]]; !ok {
					ticks[r.Values[i]] = float64(len(ticks))
				}
				x = ticks[r.Values[i]]
			}
			xs, ys = append(xs, x), append(ys, metric(r))
		}
		panels = append(panels, plot.Panel{Title: s.Metric + " vs " + p.Key, XLabel: p.Key, YLabel: label,
			Series: []plot.Series{{X: xs, Y: ys, Points: true}}, LogX: p.LogUniform()})
	}
	for _, cost := range []string{"parameters", "MACs per image"} {
		var xs, ys []float64
		for _, r := range results {
			if r.Error != "" || r.Params == 0 {
				continue
			}
			x := float64(r.Params)
			if cost != "parameters" {
				x = float64(r.MACs)
			}
			xs, ys = append(xs, x), append(ys, metric(r))
		}
		spread := len(xs) > 0 && slices.Min(xs) > 0 && slices.Max(xs) >= 10*slices.Min(xs) // a log axis needs a decade
		panels = append(panels, plot.Panel{Title: s.Metric + " vs " + cost, XLabel: cost, YLabel: label,
			Series: []plot.Series{{X: xs, Y: ys, Points: true}}, LogX: spread})
	}
	return plot.Panels(filepath.Join(sw.Dir, "sweep.png"), panels)
}
