package data

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/plot"
)

// VibrationClasses are the synthetic bearing set's classes.
var VibrationClasses = []string{"healthy", "inner_race", "outer_race", "ball"}

// VibrationRate is the synthetic recordings' sampling rate (Hz), that of
// the common bearing-fault benchmark (12 kHz accelerometer data).
const VibrationRate = 12000

// Fault frequencies as multiples of the shaft frequency, for a deep-groove
// ball bearing of the benchmark's size (9 balls, pitch diameter 39 mm,
// ball diameter 7.9 mm, contact angle 0): the rates at which a defect on
// the inner race (BPFI), the outer race (BPFO) or a ball (2×BSF: it
// strikes both races) is struck, and the cage's (FTF).
const (
	bpfi = 5.415
	bpfo = 3.585
	bsf2 = 4.714
	ftf  = 0.398
)

// Vibration synthesises n recordings of length samples, equally many per
// class, from seed. The physics, in short:
//
//   - every machine vibrates at its shaft frequency fr (28.7–30 Hz, drawn
//     per recording: the benchmark motor's 1720–1797 rpm under 3 to 0 hp of
//     load) and its first harmonics, plus sensor noise;
//   - a bearing defect is struck at a fixed multiple of fr (above); each
//     strike rings the structure's resonance (2.5–3.5 kHz, damping 5–10 %)
//     as a decaying sine, so the signal holds a train of short bursts, with
//     1–2 % jitter in the strike times (the balls slip);
//   - an inner-race defect turns with the shaft through the load zone, so
//     its bursts are modulated at fr; a ball defect, with the cage, at FTF;
//     an outer-race defect sits still in the load zone: constant bursts.
//
// Amplitudes, speeds and noise vary per recording so that the classes are
// told apart by the structure of the signal, not its level.
func Vibration(n, length int, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 0xb1b))
	signals := make([][]float64, n)
	labels := make([]int, n)
	dt := 1.0 / VibrationRate
	for i := range n {
		c := i % len(VibrationClasses)
		labels[i] = c
		x := make([]float64, length)
		fr := (1720 + 77*rng.Float64()) / 60
		for k, a := range []float64{0.4, 0.15, 0.08} {
			amp := a * (0.7 + 0.6*rng.Float64())
			ph := 2 * math.Pi * rng.Float64()
			for t := range x {
				x[t] += amp * math.Sin(2*math.Pi*float64(k+1)*fr*float64(t)*dt+ph)
			}
		}
		noise := 0.05 + 0.1*rng.Float64()
		for t := range x {
			x[t] += noise * rng.NormFloat64()
		}
		if c > 0 {
			fault := map[int]float64{1: bpfi, 2: bpfo, 3: bsf2}[c] * fr
			fn := 2500 + 1000*rng.Float64()
			zeta := 0.05 + 0.05*rng.Float64()
			amp := 0.5 + 1.0*rng.Float64()
			mod := map[int]float64{1: fr, 2: 0, 3: ftf * fr}[c]
			ringFor := int(5 / (zeta * 2 * math.Pi * fn) / dt) // until e^-5
			for strike := rng.Float64() / fault; strike < float64(length)*dt; strike += (1 + 0.015*rng.NormFloat64()) / fault {
				a := amp
				if mod > 0 {
					a *= 0.6 + 0.4*math.Cos(2*math.Pi*mod*strike)
				}
				t0 := int(strike / dt)
				for t := t0; t < min(length, t0+ringFor); t++ {
					tau := float64(t)*dt - strike
					x[t] += a * math.Exp(-zeta*2*math.Pi*fn*tau) * math.Sin(2*math.Pi*fn*tau)
				}
			}
		}
		signals[i] = x
	}
	return signals, labels
}

// WriteVibration writes a synthetic set to dir: vibration.csv (a header,
// then one recording per row: its label, then its samples), signals.npy
// (float64, recordings × samples) and labels.npy (int64 class indices, in
// the order of classes.txt), and examples.png (one recording per class).
func WriteVibration(dir string, n, length int, seed uint64) error {
	if n < len(VibrationClasses) || length < 64 {
		return fmt.Errorf("need at least %d recordings and 64 samples, got %d and %d", len(VibrationClasses), n, length)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	signals, labels := Vibration(n, length, seed)
	if err := atomicfile.Write(filepath.Join(dir, "vibration.csv"), func(w *bufio.Writer) error {
		w.WriteString("label")
		for t := range length {
			fmt.Fprintf(w, ",s%d", t)
		}
		w.WriteByte('\n')
		for i, x := range signals {
			w.WriteString(VibrationClasses[labels[i]])
			for _, v := range x {
				w.WriteByte(',')
				w.WriteString(strconv.FormatFloat(v, 'g', 7, 64))
			}
			w.WriteByte('\n')
		}
		return nil
	}); err != nil {
		return err
	}
	flat := make([]float64, 0, n*length)
	for _, x := range signals {
		flat = append(flat, x...)
	}
	if err := atomicfile.Write(filepath.Join(dir, "signals.npy"), func(w *bufio.Writer) error {
		return npyio.Write(w, mat.NewDense(n, length, flat))
	}); err != nil {
		return err
	}
	ls := make([]int64, n)
	for i, l := range labels {
		ls[i] = int64(l)
	}
	if err := atomicfile.Write(filepath.Join(dir, "labels.npy"), func(w *bufio.Writer) error { return npyio.Write(w, ls) }); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "classes.txt"), func(w *bufio.Writer) error {
		for _, c := range VibrationClasses {
			w.WriteString(c + "\n")
		}
		return nil
	}); err != nil {
		return err
	}
	show := min(length, VibrationRate/10) // 100 ms
	var panels []plot.Panel
	for c, name := range VibrationClasses {
		xs, ys := make([]float64, show), make([]float64, show)
		for t := range show {
			xs[t], ys[t] = 1000*float64(t)/VibrationRate, signals[c][t]
		}
		panels = append(panels, plot.Panel{Title: name, XLabel: "ms", YLabel: "acceleration", Series: []plot.Series{{X: xs, Y: ys}}})
	}
	return plot.Panels(filepath.Join(dir, "examples.png"), panels)
}
