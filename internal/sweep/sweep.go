package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/train"
)

// Runner trains one trial in its run folder to cfg.Train.Epochs epochs,
// continuing from the folder's last.ckpt when resume is set. cfgYAML is
// the same config as a file (for a runner in another process).
type Runner func(ctx context.Context, dir string, cfg *config.Config, cfgYAML []byte, resume bool) error

// Result is one trial at one rung.
type Result struct {
	Trial   int      `json:"trial"` // from 1
	Rung    int      `json:"rung"`  // from 0
	Epochs  int      `json:"epochs"`
	Values  []string `json:"values"`
	ValAcc  float64  `json:"val_acc"`
	ValLoss float64  `json:"val_loss"`
	Params  int      `json:"params"`
	MACs    int64    `json:"macs"`
	ImgPerS float64  `json:"img_per_s"`
	Seconds float64  `json:"seconds"`
	Error   string   `json:"error,omitempty"`
	Dir     string   `json:"dir"`
}

// Sweep is a sweep to run.
type Sweep struct {
	Spec *Spec
	Base *Base
	Dir  string
	Run  Runner
	Log  io.Writer
	// Parallel trials at once (each given a share of the cores by Run).
	Parallel int
	// Resume continues a sweep folder, skipping the trials it finished.
	Resume bool
	now    func() time.Time
	start  time.Time
}

type state struct {
	Plan    string   `json:"plan"` // what the sweep file and config were: a resume must find the same
	Results []Result `json:"results"`
}

// Execute runs the trials (skipping those a resumed sweep finished) and
// returns the final result of each trial, best first.
func (sw *Sweep) Execute(ctx context.Context) ([]Result, error) {
	if sw.now == nil {
		sw.now = time.Now
	}
	if sw.Log == nil {
		sw.Log = io.Discard
	}
	s := sw.Spec
	trials := Trials(s)
	rungs := Rungs(s)
	plan, err := sw.planID()
	if err != nil {
		return nil, err
	}
	st := &state{Plan: plan}
	statePath := filepath.Join(sw.Dir, "sweep.json")
	if b, err := os.ReadFile(statePath); err == nil {
		if !sw.Resume {
			return nil, fmt.Errorf("%s already holds a sweep: continue it with --resume, or choose another --out", sw.Dir)
		}
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("%s: %v", statePath, err)
		}
		if st.Plan != plan {
			return nil, fmt.Errorf("%s was made by another sweep file or config; --resume continues only the same sweep", statePath)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(sw.Dir, 0o755); err != nil {
		return nil, err
	}
	done := map[[2]int]Result{}
	for _, r := range st.Results {
		done[[2]int{r.Trial, r.Rung}] = r
	}
	start := sw.now()
	sw.start = start
	var mu sync.Mutex
	epochsDone, epochsTotal := 0, 0
	active := make([]int, len(trials))
	for i := range active {
		active[i] = i + 1
	}
	for r, e := range rungs {
		if r > 0 {
			epochsTotal += len(active) * (e - rungs[r-1])
		} else {
			epochsTotal += len(active) * e
		}
	}
	best := func() (Result, bool) {
		var b Result
		ok := false
		for _, r := range st.Results {
			if r.Error == "" && (!ok || score(s, r) > score(s, b)) {
				b, ok = r, true
			}
		}
		return b, ok
	}
	for r, epochs := range rungs {
		prev := 0
		if r > 0 {
			prev = rungs[r-1]
		}
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range max(1, sw.Parallel) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range jobs {
					if _, ok := done[[2]int{id, r}]; ok { // finished before the resume
						mu.Lock()
						epochsDone += epochs - prev
						mu.Unlock()
						continue
					}
					res := sw.trial(ctx, id, trials[id-1], r, epochs)
					mu.Lock()
					st.Results = append(st.Results, res)
					epochsDone += epochs - prev
					if err := sw.save(statePath, st); err != nil && res.Error == "" {
						res.Error = err.Error()
					}
					sw.progress(res, len(trials), r, len(rungs), best, start, epochsDone, epochsTotal)
					mu.Unlock()
				}
			}()
		}
		for _, id := range active {
			if ctx.Err() != nil {
				break
			}
			jobs <- id
		}
		close(jobs)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sweep interrupted; %s holds the finished trials: continue with --resume", sw.Dir)
		}
		if r < len(rungs)-1 {
			scores := map[int]float64{}
			for _, res := range st.Results {
				if res.Rung == r && slices.Contains(active, res.Trial) {
					scores[res.Trial] = score(s, res)
				}
			}
			active = Promote(scores, s.Eta)
			fmt.Fprintf(sw.Log, "rung %d/%d done: %d trial(s) go on to %d epochs\n", r+1, len(rungs), len(active), rungs[r+1])
		}
	}
	return finalResults(s, st.Results), nil
}

// trial runs one trial to epochs (continuing its folder after rung 0).
func (sw *Sweep) trial(ctx context.Context, id int, t Trial, rung, epochs int) Result {
	s := sw.Spec
	dir := filepath.Join(sw.Dir, fmt.Sprintf("trial-%03d", id))
	res := Result{Trial: id, Rung: rung, Epochs: epochs, Dir: dir, ValAcc: math.NaN(), ValLoss: math.NaN()}
	for _, v := range t.Values {
		res.Values = append(res.Values, format(v))
	}
	if s.Minutes > 0 && sw.now().Sub(sw.start) > time.Duration(s.Minutes*float64(time.Minute)) {
		res.Error = fmt.Sprintf("not run: the sweep's %g minutes were spent", s.Minutes)
		return res
	}
	cfg, doc, err := sw.Base.Config(s, t)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	cfg.Train.Epochs = epochs
	cfg.Output.Dir = dir
	if doc, err = setEpochs(doc, epochs, dir); err != nil {
		res.Error = err.Error()
		return res
	}
	if n, err := model.Plan(cfg.Layers(), cfg.Data.Shape, data.ClassCount(cfg)); err == nil {
		sum := n.Summarize(1, 1)
		res.Params, res.MACs = sum.Params, sum.MACs
	}
	t0 := sw.now()
	err = sw.Run(ctx, dir, cfg, doc, rung > 0)
	res.Seconds = sw.now().Sub(t0).Seconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	rows, err := train.ReadMetrics(filepath.Join(dir, "metrics.csv"))
	if err != nil || len(rows) == 0 {
		res.Error = fmt.Sprintf("the trial wrote no metrics: %v", err)
		return res
	}
	res.ValAcc, res.ValLoss = math.Inf(-1), math.Inf(1)
	var ips float64
	for _, row := range rows {
		acc, loss := row.ValAcc, row.ValLoss
		if math.IsNaN(acc) { // no validation split: the training figures
			acc, loss = row.TrainAcc, row.TrainLoss
		}
		res.ValAcc, res.ValLoss = math.Max(res.ValAcc, acc), math.Min(res.ValLoss, loss)
		ips += row.ImgPerSec
	}
	res.ImgPerS = ips / float64(len(rows))
	return res
}

// setEpochs writes train.epochs and output.dir into a trial's config file.
func setEpochs(doc []byte, epochs int, dir string) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, err
	}
	if err := set(&n, "train.epochs", epochs); err != nil {
		return nil, err
	}
	if err := set(&n, "output.dir", dir); err != nil {
		return nil, err
	}
	return yaml.Marshal(&n)
}

// score orders results: higher is better.
func score(s *Spec, r Result) float64 {
	if r.Error != "" {
		return math.NaN()
	}
	if s.Metric == "val_loss" {
		return -r.ValLoss
	}
	return r.ValAcc
}

// finalResults keeps each trial's last rung, best first (failed trials last).
func finalResults(s *Spec, all []Result) []Result {
	last := map[int]Result{}
	for _, r := range all {
		if p, ok := last[r.Trial]; !ok || r.Rung > p.Rung {
			last[r.Trial] = r
		}
	}
	out := make([]Result, 0, len(last))
	for _, r := range last {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Result) int {
		// Deeper rungs first (halving's survivors), then by score.
		if a.Rung != b.Rung {
			return b.Rung - a.Rung
		}
		sa, sb := score(s, a), score(s, b)
		switch {
		case math.IsNaN(sa) && !math.IsNaN(sb):
			return 1
		case !math.IsNaN(sa) && math.IsNaN(sb):
			return -1
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return a.Trial - b.Trial
	})
	return out
}

func (sw *Sweep) save(path string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, b)
}

// planID fingerprints the sweep file and the config.
func (sw *Sweep) planID() (string, error) {
	h := sha256.New()
	for _, p := range []string{sw.Spec.file, sw.Base.Path} {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (sw *Sweep) progress(res Result, n, rung, rungs int, best func() (Result, bool), start time.Time, done, total int) {
	where := fmt.Sprintf("trial %d/%d", res.Trial, n)
	if rungs > 1 {
		where += fmt.Sprintf(" (rung %d/%d, %d epochs)", rung+1, rungs, res.Epochs)
	}
	what := ""
	if res.Error != "" {
		what = "failed: " + res.Error
	} else {
		what = fmt.Sprintf("%s %s in %.1f s", sw.Spec.Metric, metricText(sw.Spec, res), res.Seconds)
	}
	line := fmt.Sprintf("%s %s: %s", where, describeValues(sw.Spec, res.Values), what)
	if b, ok := best(); ok {
		line += fmt.Sprintf("; best so far trial %d (%s)", b.Trial, metricText(sw.Spec, b))
	}
	elapsed := sw.now().Sub(start)
	if done > 0 && done < total {
		left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
		line += fmt.Sprintf("; %s elapsed, about %s left", elapsed.Round(time.Second), left.Round(time.Second))
	}
	fmt.Fprintln(sw.Log, line)
}

func describeValues(s *Spec, values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = s.Params[i].Key + "=" + v
	}
	return fmt.Sprint(parts)
}

func metricText(s *Spec, r Result) string {
	if s.Metric == "val_loss" {
		return fmt.Sprintf("%.4f", r.ValLoss)
	}
	return fmt.Sprintf("%.2f%%", 100*r.ValAcc)
}
