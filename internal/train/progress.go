package train

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress receives the training loop's events.
type Progress interface {
	StartEpoch(epoch, epochs, batches int)
	Batch(done int, loss, acc, imgPerSec float64)
	EndEpoch(s EpochStats, epochs int, improved bool)
}

// NewProgress picks the reporter for the output: a live bar on a terminal,
// one plain line per epoch elsewhere (logs and pipes get no carriage
// returns), or nothing when quiet.
func NewProgress(w io.Writer, terminal, quiet bool) Progress {
	switch {
	case quiet:
		return quietProgress{}
	case terminal:
		return &barProgress{w: w}
	}
	return &lineProgress{w: w}
}

type quietProgress struct{}

func (quietProgress) StartEpoch(int, int, int)             {}
func (quietProgress) Batch(int, float64, float64, float64) {}
func (quietProgress) EndEpoch(EpochStats, int, bool)       {}

// epochLine is the one-line summary both visible reporters print.
func epochLine(s EpochStats, epochs int, improved bool) string {
	line := fmt.Sprintf("epoch %d/%d  loss %.4f  acc %.2f%%", s.Epoch, epochs, s.TrainLoss, 100*s.TrainAcc)
	if !math.IsNaN(s.ValAcc) {
		line += fmt.Sprintf("  val_loss %.4f  val_acc %.2f%%", s.ValLoss, 100*s.ValAcc)
	}
	if len(s.Recall) > 0 {
		line += "  recall " + strings.Join(s.Recall, " ")
	}
	line += fmt.Sprintf("  lr %.3g  %.1fs  %.0f img/s", s.LR, s.Seconds, s.ImgPerSec)
	if improved {
		line += "  *best"
	}
	return line
}

type lineProgress struct{ w io.Writer }

func (p *lineProgress) StartEpoch(int, int, int)             {}
func (p *lineProgress) Batch(int, float64, float64, float64) {}
func (p *lineProgress) EndEpoch(s EpochStats, epochs int, improved bool) {
	fmt.Fprintln(p.w, epochLine(s, epochs, improved))
}

// barProgress draws a throttled progress bar per epoch.
type barProgress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar
	prefix string
}

func (p *barProgress) StartEpoch(epoch, epochs, batches int) {
	p.prefix = fmt.Sprintf("epoch %d/%d", epoch, epochs)
	p.bar = progressbar.NewOptions(batches,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.prefix),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)
}

func (p *barProgress) Batch(done int, loss, acc, imgPerSec float64) {
	p.bar.Describe(fmt.Sprintf("%s  loss %.4f acc %5.2f%% %5.0f img/s", p.prefix, loss, 100*acc, imgPerSec))
	_ = p.bar.Set(done)
}

func (p *barProgress) EndEpoch(s EpochStats, epochs int, improved bool) {
	_ = p.bar.Finish()
	fmt.Fprintln(p.w, epochLine(s, epochs, improved))
}
