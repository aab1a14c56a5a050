package train

import (
	"math"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model"
	"gorgonia.org/tensor"
)

func param(vals ...float32) *model.Param {
	return &model.Param{Name: "p", T: tensor.New(tensor.WithShape(len(vals)), tensor.WithBacking(vals)), Decay: true}
}

// optimizerConfig returns a config with the defaults Parse would fill in.
func optimizerConfig(name string, lr float64) config.Optimizer {
	c := config.Config{Train: config.Train{Optimizer: config.Optimizer{Name: name, LR: lr}}}
	c.SetDefaults()
	return c.Train.Optimizer
}

// TestOptimizerFirstSteps checks two steps on f(w) = ½w² from w = 1 against
// values worked out by hand from each rule's formula.
func TestOptimizerFirstSteps(t *testing.T) {
	cases := []struct {
		name   string
		lr     float64
		w1, w2 float64
	}{
		{"sgd", 0.1, 0.9, 0.81},
		{"momentum", 0.1, 0.9, 0.72},                         // v: 1, 1.8
		{"nesterov", 0.1, 0.81, 0.5751},                      // w −= lr(g + μv)
		{"adagrad", 0.1, 0.9, 0.9 - 0.09/math.Sqrt(1.81)},    // Σg² = 1, 1.81
		{"rmsprop", 0.01, 0.9, 0.9 - 0.009/math.Sqrt(0.018)}, // avg g² = .01, .018
		{"adam", 0.1, 0.9, 0.9 - 0.1*(0.18/0.19)/math.Sqrt(0.001809/0.001999)},
		{"adadelta", 1, 0.9968377381511013, 0.9935981984076517},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := param(1)
			o, err := NewOptimizer(optimizerConfig(c.name, c.lr), []*model.Param{p})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []float64{c.w1, c.w2} {
				o.Update([][]float32{{p.Data()[0]}}, c.lr)
				if got := float64(p.Data()[0]); math.Abs(got-want) > 2e-6 {
					t.Fatalf("step %d: w = %.7f, want %.7f", i+1, got, want)
				}
			}
		})
	}
}

// TestOptimizersFindMinimum runs each optimizer on an ill-conditioned
// quadratic f(w) = ½ Σ aᵢ(wᵢ − cᵢ)², whose minimum is w = c.
func TestOptimizersFindMinimum(t *testing.T) {
	a := []float32{1, 10, 0.5}
	c := []float32{3, -2, 0.5}
	cases := []struct {
		name  string
		lr    float64
		steps int
	}{
		{"sgd", 0.15, 400},
		{"momentum", 0.02, 400},
		{"nesterov", 0.02, 400},
		{"adagrad", 1, 2000},
		{"adadelta", 10, 3000},
		{"rmsprop", 0.01, 2000},
		{"adam", 0.05, 2000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := param(0, 0, 0)
			p.Decay = false
			o, err := NewOptimizer(optimizerConfig(tc.name, tc.lr), []*model.Param{p})
			if err != nil {
				t.Fatal(err)
			}
			g := make([]float32, 3)
			lr := tc.lr
			for s := range tc.steps {
				for i, w := range p.Data() {
					g[i] = a[i] * (w - c[i])
				}
				if tc.name == "rmsprop" || tc.name == "adam" {
					// Sign-like methods hover at a distance ~lr; anneal.
					lr = tc.lr * (1 - float64(s)/float64(tc.steps))
				}
				o.Update([][]float32{g}, lr)
			}
			for i, w := range p.Data() {
				if math.Abs(float64(w-c[i])) > 1e-2 {
					t.Errorf("w = %v, want %v", p.Data(), c)
					break
				}
			}
		})
	}
}

func TestWeightDecay(t *testing.T) {
	p := param(2)
	cfg := optimizerConfig("sgd", 0.1)
	cfg.WeightDecay = 0.5
	o, _ := NewOptimizer(cfg, []*model.Param{p})
	o.Update([][]float32{{0}}, 0.1) // w −= lr·(g + wd·w) = 2 − 0.1·1
	if got := p.Data()[0]; math.Abs(float64(got)-1.9) > 1e-6 {
		t.Errorf("w = %v, want 1.9", got)
	}
	q := param(2)
	q.Decay = false // biases and BN parameters are not decayed
	o, _ = NewOptimizer(cfg, []*model.Param{q})
	o.Update([][]float32{{0}}, 0.1)
	if got := q.Data()[0]; got != 2 {
		t.Errorf("undecayed w = %v, want 2", got)
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	p := param(1, 2)
	o, _ := NewOptimizer(optimizerConfig("adam", 0.1), []*model.Param{p})
	o.Update([][]float32{{1, -1}}, 0.1)
	st := o.State()
	if len(st) != 2 || st["p.exp_avg"] == nil || st["p.exp_avg_sq"] == nil {
		t.Fatalf("state keys %v", st)
	}
	o2, _ := NewOptimizer(optimizerConfig("adam", 0.1), []*model.Param{param(1, 2)})
	if fresh, err := o2.SetState(o.Step, st); err != nil || len(fresh) != 0 {
		t.Fatal(fresh, err)
	}
	if o2.Step != 1 || o2.slots["exp_avg"][0][0] != st["p.exp_avg"][0] {
		t.Error("state not restored")
	}
	// A parameter with no state saved (frozen when it was saved) starts at
	// zero; one with part of its state is an error, and so is a wrong size.
	o3, _ := NewOptimizer(optimizerConfig("adam", 0.1), []*model.Param{param(1, 2)})
	if fresh, err := o3.SetState(1, map[string][]float32{}); err != nil || len(fresh) != 1 || fresh[0] != "p" {
		t.Errorf("no saved state: fresh %v, %v", fresh, err)
	}
	if _, err := o3.SetState(1, map[string][]float32{"p.exp_avg": {1, 2}}); err == nil {
		t.Error("half of adam's state accepted")
	}
	if _, err := o3.SetState(1, map[string][]float32{"p.exp_avg": {1}, "p.exp_avg_sq": {1}}); err == nil {
		t.Error("state of the wrong size accepted")
	}
}

func TestSchedules(t *testing.T) {
	type at struct{ t, want float64 }
	tr := config.Train{Epochs: 4, Optimizer: config.Optimizer{LR: 0.1}}
	for _, c := range []struct {
		s    config.Schedule
		want []at
	}{
		{config.Schedule{Name: "constant"}, []at{{3.5, 0.1}}},
		{config.Schedule{Name: "step", StepEpochs: 2, Gamma: 0.5}, []at{{0, 0.1}, {1.9, 0.1}, {2, 0.05}, {3.99, 0.05}}},
		{config.Schedule{Name: "cosine", MinLR: 0.01}, []at{{0, 0.1}, {2, 0.055}, {4, 0.01}}},
		// A warm-up of one epoch: from lr/25 linearly to lr, then the cosine
		// over the three epochs after it; a constant schedule just holds lr.
		{config.Schedule{Name: "cosine", Warmup: 1}, []at{{0, 0.004}, {0.5, 0.052}, {1, 0.1}, {2.5, 0.05}, {4, 0}}},
		{config.Schedule{Name: "constant", Warmup: 0.5}, []at{{0.25, 0.052}, {0.5, 0.1}, {3, 0.1}}},
	} {
		tr.Schedule = c.s
		for _, w := range c.want {
			if got := LR(tr, w.t); math.Abs(got-w.want) > 1e-12 {
				t.Errorf("%+v at %v: %v, want %v", c.s, w.t, got, w.want)
			}
		}
	}
}

// The moving averages take 1 − β as PyTorch does (in double precision, then
// rounded): exp_avg_sq after one Adam step at β2 = 0.9999 is
// float32(1 − β2)·g², not (1 − float32(β2))·g², which is 8.3e-5 off.
func TestOneMinusBetaInDoublePrecision(t *testing.T) {
	for _, c := range []struct {
		name, slot string
		beta       float64
		set        func(o *config.Optimizer, b float64)
	}{
		{"adam", "exp_avg_sq", 0.9999, func(o *config.Optimizer, b float64) { o.Beta2 = b }},
		{"rmsprop", "square_avg", 0.9999, func(o *config.Optimizer, b float64) { o.Rho = b }},
		{"adadelta", "square_avg", 0.9999, func(o *config.Optimizer, b float64) { o.Rho = b }},
	} {
		cfg := optimizerConfig(c.name, 0.001)
		c.set(&cfg, c.beta)
		p := param(1)
		o, err := NewOptimizer(cfg, []*model.Param{p})
		if err != nil {
			t.Fatal(err)
		}
		const g = float32(0.75)
		o.Update([][]float32{{g}}, 0.001)
		got := o.State()["p."+c.slot][0]
		gg := g + float32(cfg.WeightDecay)*1
		want := float32(1-c.beta) * gg * gg
		if got != want {
			t.Errorf("%s: %s = %v, want float32(1 − β)·g² = %v (relative error %.2g)", c.name, c.slot, got, want,
				math.Abs(float64(got-want))/float64(want))
		}
	}
}
