package train

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
)

// EpochStats is one row of metrics.csv.
type EpochStats struct {
	Epoch     int
	TrainLoss float64
	TrainAcc  float64
	ValLoss   float64 // NaN without a validation split
	ValAcc    float64
	LR        float64
	Seconds   float64
	ImgPerSec float64
	// Recall is the validation recall per class, "label 97.1%", shown
	// when the classes are imbalanced (not in metrics.csv).
	Recall []string
}

var metricsHeader = []string{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "img_per_s"}

func (s EpochStats) record() []string {
	f := func(v float64) string {
		if v != v { // NaN: no value
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return []string{strconv.Itoa(s.Epoch), f(s.TrainLoss), f(s.TrainAcc), f(s.ValLoss), f(s.ValAcc),
		f(s.LR), f(s.Seconds), f(s.ImgPerSec)}
}

// WriteMetrics writes all rows to path (atomically: the file is small and
// rewritten every epoch, so a crash never leaves a torn row).
func WriteMetrics(path string, rows []EpochStats) error {
	return atomicfile.Write(path, func(w *bufio.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(metricsHeader); err != nil {
			return err
		}
		for _, r := range rows {
			if err := cw.Write(r.record()); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// ReadMetrics reads a metrics file written by WriteMetrics.
func ReadMetrics(path string) ([]EpochStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || len(recs[0]) != len(metricsHeader) {
		return nil, fmt.Errorf("%s: not a metrics file (header %v)", path, recs)
	}
	var rows []EpochStats
	for i, r := range recs[1:] {
		v := make([]float64, len(r))
		for j, s := range r {
			if s == "" {
				v[j] = math.NaN()
				continue
			}
			if v[j], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: column %s: %v", path, i+2, metricsHeader[j], err)
			}
		}
		rows = append(rows, EpochStats{Epoch: int(v[0]), TrainLoss: v[1], TrainAcc: v[2], ValLoss: v[3], ValAcc: v[4], LR: v[5], Seconds: v[6], ImgPerSec: v[7]})
	}
	return rows, nil
}
