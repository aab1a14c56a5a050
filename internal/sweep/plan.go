package sweep

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Grid is every combination of the listed values, the last key varying
// fastest.
func Grid(s *Spec) []Trial {
	trials := []Trial{{}}
	for _, p := range s.Params {
		var next []Trial
		for _, t := range trials {
			for _, v := range p.Values {
				next = append(next, Trial{Values: append(slices.Clone(t.Values), v)})
			}
		}
		trials = next
	}
	return trials
}

// Random draws s.Trials trials from the seed: each listed key uniformly
// among its values, each log-uniform key from its range.
func Random(s *Spec) []Trial {
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	trials := make([]Trial, s.Trials)
	for i := range trials {
		for _, p := range s.Params {
			var v any
			if p.LogUniform() {
				lo, hi := math.Log(p.LogLo), math.Log(p.LogHi)
				v = round4(math.Exp(lo + (hi-lo)*rng.Float64()))
			} else {
				v = p.Values[rng.IntN(len(p.Values))]
			}
			trials[i].Values = append(trials[i].Values, v)
		}
	}
	return trials
}

// round4 keeps 4 significant digits: a learning rate of 0.003162 reads as
// it was meant, in tables and in the trial's config.
func round4(x float64) float64 {
	if x == 0 {
		return 0
	}
	k := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*k) / k
}

// Trials is what the method starts with: the grid, or a random sample
// (for successive halving too).
func Trials(s *Spec) []Trial {
	if s.Method == "grid" {
		return Grid(s)
	}
	return Random(s)
}

// Rungs are successive halving's epochs per rung: Epochs, Epochs·Eta, …,
// up to MaxEpochs (which is always the last).
func Rungs(s *Spec) []int {
	if s.Method != "halving" {
		return []int{s.Epochs}
	}
	r := []int{s.Epochs}
	for r[len(r)-1] < s.MaxEpochs {
		r = append(r, min(r[len(r)-1]*s.Eta, s.MaxEpochs))
	}
	return r
}

// Promote picks the trials that go on to the next rung: the best ⌈n/eta⌉
// of those with a score (failed trials never go on), best first; higher
// scores are better.
func Promote(scores map[int]float64, eta int) []int {
	ids := make([]int, 0, len(scores))
	for id, v := range scores {
		if !math.IsNaN(v) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return a - b // ties: the earlier trial
	})
	keep := (len(scores) + eta - 1) / eta
	return ids[:min(keep, len(ids))]
}
