package sweep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnnctl/cnnctl/internal/config"
	_ "github.com/cnnctl/cnnctl/internal/model/layers" // the layer kinds
	"github.com/cnnctl/cnnctl/internal/train"
)

const baseConfig = `name: base
seed: 1
data: {source: xo, shape: [1, 12, 12], train_size: 64, test_size: 32, validation: 0.25}
model:
  - {type: conv2d, name: conv1, filters: 4, kernel: 3}
  - {type: relu}
  - {type: flatten}
  - {type: dense, units: 2}
train: {epochs: 1, batch_size: 16, optimizer: {name: sgd, lr: 0.1}}
`

func files(t *testing.T, sweep string) (*Spec, *Base, string) {
	t.Helper()
	dir := t.TempDir()
	cp, sp := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "sweep.yaml")
	os.WriteFile(cp, []byte(baseConfig), 0o644)
	os.WriteFile(sp, []byte(sweep), 0o644)
	s, err := Load(sp)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBase(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(s); err != nil {
		t.Fatal(err)
	}
	return s, b, dir
}

func TestGridAndRandomEnumerate(t *testing.T) {
	s, b, _ := files(t, "params:\n  model.conv1.kernel: [3, 5, 7]\n  train.optimizer.lr: [0.1, 0.01]\n")
	g := Grid(s)
	var got []string
	for _, tr := range g {
		got = append(got, tr.Describe(s))
	}
	want := []string{"model.conv1.kernel=3 train.optimizer.lr=0.1", "model.conv1.kernel=3 train.optimizer.lr=0.01",
		"model.conv1.kernel=5 train.optimizer.lr=0.1", "model.conv1.kernel=5 train.optimizer.lr=0.01",
		"model.conv1.kernel=7 train.optimizer.lr=0.1", "model.conv1.kernel=7 train.optimizer.lr=0.01"}
	if !slices.Equal(got, want) {
		t.Fatalf("grid %v", got)
	}
	// The trial's config is the base with those keys set.
	cfg, _, err := b.Config(s, g[3])
	if err != nil || cfg.Model[0].Kernel != config.Square(5) || cfg.Train.Optimizer.LR != 0.01 || cfg.Model[0].Filters != 4 {
		t.Fatalf("trial config %+v %v", cfg.Model[0], err)
	}

	r, _, _ := files(t, "method: random\ntrials: 20\nseed: 3\nparams:\n  train.optimizer.lr: {log_uniform: [0.001, 0.1]}\n  train.batch_size: {range: [8, 32], step: 8}\n")
	a, again := Random(r), Random(r)
	if len(a) != 20 {
		t.Fatalf("%d random trials", len(a))
	}
	for i := range a {
		if a[i].Describe(r) != again[i].Describe(r) {
			t.Fatal("the same seed drew other trials")
		}
		lr, bs := a[i].Values[0].(float64), a[i].Values[1].(int)
		if lr < 0.001 || lr > 0.1 || !slices.Contains([]int{8, 16, 24, 32}, bs) {
			t.Fatalf("trial %d: lr %v, batch %v", i, lr, bs)
		}
	}
	r.Seed = 4
	if Random(r)[0].Describe(r) == a[0].Describe(r) {
		t.Error("another seed drew the same first trial")
	}
}

func TestBadSweepFiles(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "base.yaml")
	os.WriteFile(cp, []byte(baseConfig), 0o644)
	b, err := LoadBase(cp)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ doc, want string }{
		{"methd: grid\nparams:\n  train.batch_size: [8]\n", "sweep.yaml:1: unknown field \"methd\""},
		{"method: bayes\nparams:\n  train.batch_size: [8]\n", "sweep.yaml:1: method must be grid, random or halving"},
		{"params:\n  train.batch_size: []\n", "sweep.yaml:2: train.batch_size: an empty list of values"},
		{"params:\n  train.batch_size: {range: [32, 8], step: 8}\n", "sweep.yaml:2: train.batch_size: range needs [lo, hi] with lo ≤ hi"},
		{"method: random\ntrials: 3\nparams:\n  train.optimizer.lr: {log_uniform: [0, 0.1]}\n", "sweep.yaml:4: train.optimizer.lr: log_uniform needs [lo, hi] with 0 < lo ≤ hi"},
		{"params:\n  train.optimizer.lr: {log_uniform: [0.01, 0.1]}\n", "a log-uniform range has no grid"},
		{"method: halving\ntrials: 9\nepochs: 2\nparams:\n  train.batch_size: [8]\n", "max_epochs (0) must be at least epochs (2)"},
		// Checked against the config:
		{"params:\n  model.conv9.filters: [4, 8]\n", "sweep.yaml:2: model.conv9.filters: no layer is named \"conv9\""},
		{"params:\n  model[7].filters: [4]\n", "sweep.yaml:2: model[7].filters: the list has 4 entries"},
		{"params:\n  model.conv1.filters: [4, big]\n", "sweep.yaml:2: model.conv1.filters=big gives a config that does not load"},
		{"params:\n  train.optimizer.lrr: [0.1]\n", "unknown field \"lrr\" in train.optimizer"},
		{"params:\n  model.conv1.kernel: [3, 40]\n", "model.conv1.kernel=40 gives a config that does not load"},
	} {
		sp := filepath.Join(dir, "sweep.yaml")
		os.WriteFile(sp, []byte(c.doc), 0o644)
		s, err := Load(sp)
		if err == nil {
			err = b.Check(s)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.doc, err, c.want)
		}
	}
}

// fakeRunner "trains" by writing metrics.csv with a val_acc that is a
// function of the trial's learning rate and epochs; it fails trials whose
// batch size is 24, and counts its calls.
type fakeRunner struct {
	mu     sync.Mutex
	calls  []string
	stop   int // cancel the sweep on this call (0: never)
	cancel func()
}

func (f *fakeRunner) run(ctx context.Context, dir string, cfg *config.Config, _ []byte, resume bool) error {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s@%d", filepath.Base(dir), cfg.Train.Epochs))
	n := len(f.calls)
	f.mu.Unlock()
	if f.stop > 0 && n == f.stop {
		f.cancel()
		return context.Canceled
	}
	if cfg.Train.BatchSize == 24 {
		return errors.New("loss became NaN")
	}
	os.MkdirAll(dir, 0o755)
	lr := cfg.Train.Optimizer.LR
	acc := 1 - math.Abs(math.Log10(lr)+2)/10 - 0.05/float64(cfg.Train.Epochs) // best at lr 0.01, better with epochs
	var rows []train.EpochStats
	for e := 1; e <= cfg.Train.Epochs; e++ {
		rows = append(rows, train.EpochStats{Epoch: e, ValAcc: acc, ValLoss: 1 - acc, TrainAcc: acc, ImgPerSec: 1000, Seconds: 1})
	}
	return train.WriteMetrics(filepath.Join(dir, "metrics.csv"), rows)
}

// TestHalvingPromotesTheBest: nine trials for one epoch, the best three for
// three, the best one for nine — by the fake objective, those nearest lr 0.01.
func TestHalvingPromotesTheBest(t *testing.T) {
	s, b, dir := files(t, "method: halving\ntrials: 9\nseed: 5\nepochs: 1\nmax_epochs: 9\neta: 3\nparams:\n  train.optimizer.lr: {log_uniform: [0.0001, 1]}\n")
	f := &fakeRunner{}
	sw := &Sweep{Spec: s, Base: b, Dir: filepath.Join(dir, "out"), Run: f.run}
	results, err := sw.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	trials := Random(s)
	dist := func(i int) float64 { return math.Abs(math.Log10(trials[i-1].Values[0].(float64)) + 2) }
	order := make([]int, 9)
	for i := range order {
		order[i] = i + 1
	}
	slices.SortFunc(order, func(a, b int) int { return map[bool]int{true: -1, false: 1}[dist(a) < dist(b)] })
	if len(f.calls) != 9+3+1 {
		t.Fatalf("calls %v", f.calls)
	}
	if results[0].Trial != order[0] || results[0].Epochs != 9 || results[0].Rung != 2 {
		t.Fatalf("winner %+v, want trial %d at 9 epochs", results[0], order[0])
	}
	var rung1 []int
	for _, r := range results {
		if r.Rung >= 1 {
			rung1 = append(rung1, r.Trial)
		}
	}
	slices.Sort(rung1)
	top3 := slices.Clone(order[:3])
	slices.Sort(top3)
	if !slices.Equal(rung1, top3) {
		t.Errorf("promoted %v, want the best three %v", rung1, top3)
	}
	if err := sw.Report(results); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"results.csv", "results.md", "best.yaml", "sweep.png"} {
		if st, err := os.Stat(filepath.Join(sw.Dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written", name)
		}
	}
	best, _ := os.ReadFile(filepath.Join(sw.Dir, "best.yaml"))
	if cfg, err := config.Parse("best.yaml", best); err != nil || cfg.Train.Epochs != 9 {
		t.Errorf("best.yaml: %v", err)
	}
}

// TestFailingTrialAndResume: a trial that fails is recorded and the sweep
// goes on; a sweep interrupted after two trials resumes without running
// them again.
func TestFailingTrialAndResume(t *testing.T) {
	s, b, dir := files(t, "params:\n  train.batch_size: [8, 16, 24, 32]\n")
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeRunner{stop: 3, cancel: cancel}
	sw := &Sweep{Spec: s, Base: b, Dir: out, Run: f.run}
	if _, err := sw.Execute(ctx); err == nil || !strings.Contains(err.Error(), "continue with --resume") {
		t.Fatalf("interrupted: %v", err)
	}
	again := &Sweep{Spec: s, Base: b, Dir: out, Run: f.run}
	if _, err := again.Execute(context.Background()); err == nil || !strings.Contains(err.Error(), "already holds a sweep") {
		t.Fatalf("without --resume: %v", err)
	}
	f2 := &fakeRunner{}
	again = &Sweep{Spec: s, Base: b, Dir: out, Run: f2.run, Resume: true}
	results, err := again.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Trials 1 and 2 finished before; trial 3 (interrupted) and 4 run now.
	if !slices.Equal(f2.calls, []string{"trial-003@1", "trial-004@1"}) {
		t.Fatalf("resumed calls %v", f2.calls)
	}
	if len(results) != 4 || results[3].Trial != 3 || !strings.Contains(results[3].Error, "loss became NaN") {
		t.Fatalf("results %+v", results)
	}
}

// TestTimeBudget: with minutes: 0.5 and a clock that moves
// 20 s a reading, the first trial runs and the others are recorded as not run.
func TestTimeBudget(t *testing.T) {
	s, b, dir := files(t, "minutes: 0.5\nparams:\n  train.batch_size: [8, 16, 32]\n")
	f := &fakeRunner{}
	clock := time.Unix(0, 0)
	sw := &Sweep{Spec: s, Base: b, Dir: filepath.Join(dir, "out"), Run: f.run,
		now: func() time.Time { clock = clock.Add(20 * time.Second); return clock }}
	results, err := sw.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || len(results) != 3 || !strings.Contains(results[2].Error, "not run: the sweep's 0.5 minutes were spent") {
		t.Fatalf("calls %v, results %+v", f.calls, results)
	}
}
