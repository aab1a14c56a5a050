package train

import (
	"fmt"
	"math"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/kernels/vec"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// Optimizer updates parameters in place from their gradients with one of
// the classic rules, following PyTorch's formulas (so hyper-parameters carry
// over). Weight decay adds wd·w to the gradient of conv and dense weights.
type Optimizer struct {
	Cfg    config.Optimizer
	Params []*model.Param
	Step   int64
	// slots[name][i] is the state vector `name` of parameter i.
	slots map[string][][]float32
}

// slotNames are the state vectors each rule keeps, named as in PyTorch.
var slotNames = map[string][]string{
	"sgd":      nil,
	"momentum": {"momentum_buffer"},
	"nesterov": {"momentum_buffer"},
	"adagrad":  {"sum"},
	"adadelta": {"square_avg", "acc_delta"},
	"rmsprop":  {"square_avg"},
	"adam":     {"exp_avg", "exp_avg_sq"},
}

// NewOptimizer makes an optimizer with zeroed state.
func NewOptimizer(cfg config.Optimizer, params []*model.Param) (*Optimizer, error) {
	names, ok := slotNames[cfg.Name]
	if !ok {
		return nil, fmt.Errorf("unknown optimizer %q", cfg.Name)
	}
	o := &Optimizer{Cfg: cfg, Params: params, slots: map[string][][]float32{}}
	for _, n := range names {
		vs := make([][]float32, len(params))
		for i, p := range params {
			vs[i] = make([]float32, len(p.Data()))
		}
		o.slots[n] = vs
	}
	return o, nil
}

// State returns the slots keyed "<param>.<slot>" (shared, not copied).
func (o *Optimizer) State() map[string][]float32 {
	m := map[string][]float32{}
	for n, vs := range o.slots {
		for i, p := range o.Params {
			m[p.Name+"."+n] = vs[i]
		}
	}
	return m
}

// SetState restores slots saved by State. A parameter with none of its
// slots saved (its layer was frozen then) keeps zeroed ones and is listed
// in fresh; one with some but not all, or of the wrong size, is an error.
func (o *Optimizer) SetState(step int64, m map[string][]float32) (fresh []string, err error) {
	for i, p := range o.Params {
		saved := 0
		for n := range o.slots {
			if _, ok := m[p.Name+"."+n]; ok {
				saved++
			}
		}
		if saved == 0 && len(o.slots) > 0 {
			fresh = append(fresh, p.Name)
			continue
		}
		for n, vs := range o.slots {
			v, ok := m[p.Name+"."+n]
			if !ok || len(v) != len(vs[i]) {
				return nil, fmt.Errorf("optimizer state %s.%s is missing or has the wrong size (was the checkpoint saved with another optimizer?)", p.Name, n)
			}
			copy(vs[i], v)
		}
	}
	o.Step = step
	return fresh, nil
}

// Update applies one step with learning rate lr; grads[i] belongs to Params[i].
func (o *Optimizer) Update(grads [][]float32, lr float64) {
	o.Step++
	for i, p := range o.Params {
		wd := float32(0)
		if p.Decay {
			wd = float32(o.Cfg.WeightDecay)
		}
		// Element-wise, so splitting large tensors among the workers does
		// not change the result.
		parallel.Range(len(p.Data()), 1, func(lo, hi int) {
			o.update(i, lo, hi, grads[i], wd, float32(lr))
		})
	}
}

// update applies the rule to elements [lo,hi) of parameter i.
func (o *Optimizer) update(i, lo, hi int, grad []float32, wd, lr float32) {
	w, g := o.Params[i].Data()[lo:hi], grad[lo:hi]
	slot := func(name string) []float32 { return o.slots[name][i][lo:hi] }
	c := o.Cfg
	eps := float32(c.Eps)
	switch c.Name {
	case "sgd":
		for j := range w {
			w[j] -= lr * (g[j] + wd*w[j])
		}
	case "momentum", "nesterov":
		// v ← μv + g; w ← w − lr·v (heavy ball) or w − lr·(g + μv) (Nesterov).
		mu := float32(c.Momentum)
		vec.Momentum(w, g, slot("momentum_buffer"), mu, lr, wd, c.Name == "nesterov")
	case "adagrad":
		s := slot("sum")
		for j := range w {
			gj := g[j] + wd*w[j]
			s[j] += gj * gj
			w[j] -= lr * gj / (sqrt32(s[j]) + eps)
		}
	case "adadelta":
		rho, orho := float32(c.Rho), oneMinus(c.Rho)
		s, u := slot("square_avg"), slot("acc_delta")
		for j := range w {
			gj := g[j] + wd*w[j]
			s[j] = rho*s[j] + orho*gj*gj
			d := sqrt32(u[j]+eps) / sqrt32(s[j]+eps) * gj
			u[j] = rho*u[j] + orho*d*d
			w[j] -= lr * d
		}
	case "rmsprop":
		rho, orho := float32(c.Rho), oneMinus(c.Rho)
		s := slot("square_avg")
		for j := range w {
			gj := g[j] + wd*w[j]
			s[j] = rho*s[j] + orho*gj*gj
			w[j] -= lr * gj / (sqrt32(s[j]) + eps)
		}
	case "adam":
		t := float64(o.Step)
		vec.Adam(w, g, slot("exp_avg"), slot("exp_avg_sq"), vec.AdamStep{
			B1: float32(c.Beta1), B2: float32(c.Beta2), OB1: oneMinus(c.Beta1), OB2: oneMinus(c.Beta2),
			Step: lr / float32(1-math.Pow(c.Beta1, t)), BC2: float32(1 - math.Pow(c.Beta2, t)), Eps: eps, WD: wd})
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// oneMinus is 1 − β computed as PyTorch computes it, in double precision
// and then rounded: 1 − float32(β) would be off by up to 8e-5 relative at
// β = 0.9999.
func oneMinus(beta float64) float32 { return float32(1 - beta) }

// LR returns the learning rate at fractional epoch t in [0, epochs): the
// step schedule multiplies by gamma every step_epochs whole epochs; cosine
// anneals smoothly (per batch) from lr to min_lr.
func LR(c config.Train, t float64) float64 {
	lr := c.Optimizer.LR
	s := c.Schedule
	if w := s.Warmup; w > 0 {
		if t < w { // linear from lr/25, as OneCycleLR's default div_factor
			return lr * (1 + 24*t/w) / 25
		}
		if s.Name == "cosine" { // the cosine spans the epochs after the warm-up
			return s.MinLR + (lr-s.MinLR)*(1+math.Cos(math.Pi*(t-w)/(float64(c.Epochs)-w)))/2
		}
	}
	switch s.Name {
	case "step":
		return lr * math.Pow(s.Gamma, math.Floor(math.Floor(t)/float64(s.StepEpochs)))
	case "cosine":
		return s.MinLR + (lr-s.MinLR)*(1+math.Cos(math.Pi*t/float64(c.Epochs)))/2
	}
	return lr
}

// ClipGradNorm scales the gradients in place so that their global L2 norm
// is at most maxNorm (PyTorch's clip_grad_norm_: factor maxNorm/(norm+1e-6)
// when the norm exceeds it), and returns the norm before clipping.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	var sq float64
	for _, g := range grads {
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(sq)
	if norm > maxNorm {
		k := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			for i := range g {
				g[i] *= k
			}
		}
	}
	return norm
}
