package model

import (
	"fmt"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
)

// LayerSummary is one row of a network's summary.
type LayerSummary struct {
	ID     string   `json:"id"`
	Type   string   `json:"type"`
	Layer  string   `json:"layer"`            // the summary line: "conv2d 20@5×5 s1 p0"
	Inputs []string `json:"inputs,omitempty"` // where they are not the layer before
	Output []int    `json:"output"`           // per-example shape
	Params int      `json:"params"`
	// Frozen says the layer's parameters are not trained (train.freeze).
	Frozen bool  `json:"frozen,omitempty"`
	MACs   int64 `json:"macs"` // multiply-adds per example
	// ActivationBytes is the layer's output for a whole batch (float32).
	ActivationBytes int64 `json:"activation_bytes"`
	// ReceptiveField is how many input pixels along each axis one output
	// value depends on, [height, width]; nil once the layer sees the whole
	// input (after flatten, dense or global pooling).
	ReceptiveField []int `json:"receptive_field,omitempty"`
}

// NetworkSummary is a network's summary at a batch size.
type NetworkSummary struct {
	Input  []int          `json:"input"`
	Batch  int            `json:"batch"`
	Layers []LayerSummary `json:"layers"`
	Params int            `json:"params"`
	// Trainable and Frozen split Params by whether train.freeze holds them.
	Trainable int   `json:"trainable"`
	Frozen    int   `json:"frozen"`
	MACs      int64 `json:"macs"` // per example, forward
	// TrainFLOPs is the floating-point operations of one training step at
	// the batch size: the forward pass, and backward the weight gradients
	// of the layers trained and the input gradients of the layers after the
	// first trained one, each costing as much as the layer's forward pass.
	TrainFLOPs float64 `json:"train_flops"`
	// MemoryBytes is the estimate of what training holds (EstimateMemory).
	MemoryBytes int64 `json:"memory_bytes"`
}

// Summarize describes every layer and the totals at batch size batch.
func (n *Network) Summarize(batch, evalBatch int) NetworkSummary {
	s := NetworkSummary{Input: n.Input, Batch: batch, Params: int(n.planned())}
	// Receptive field and jump (input pixels between adjacent outputs) of
	// each layer's output, per axis; rf nil: the whole input.
	type field struct{ rf, jump [2]int }
	fields := make([]*field, len(n.Layers))
	in := func(j int) *field {
		if j < 0 {
			return &field{rf: [2]int{1, 1}, jump: [2]int{1, 1}}
		}
		return fields[j]
	}
	for i, l := range n.Layers {
		var f *field
		sp := &l.Spec
		switch {
		case len(l.Out) != 3 && len(l.Out) != 2:
			f = nil // flat: every value may depend on the whole input
		default:
			// The widest of the inputs (joins), then the layer's window.
			for _, j := range l.Inputs {
				g := in(j)
				if g == nil {
					continue
				}
				if f == nil {
					c := *g
					f = &c
				}
				for a := range 2 {
					f.rf[a], f.jump[a] = max(f.rf[a], g.rf[a]), max(f.jump[a], g.jump[a])
				}
			}
			if f != nil && !sp.Kernel.IsZero() {
				k := [2]int{sp.Kernel.H, sp.Kernel.W}
				st := [2]int{max(sp.Stride.H, 1), max(sp.Stride.W, 1)}
				d := [2]int{max(sp.Dilation.H, 1), max(sp.Dilation.W, 1)}
				if len(l.Out) == 2 { // a signal: its length is the second axis, the first stays 1
					k[0], st[0], d[0] = 1, 1, 1
				}
				for a := range 2 {
					if sp.Type == "conv_transpose2d" {
						// Each output sees ⌈k/s⌉ inputs per axis, which are
						// jump/s input pixels apart.
						f.rf[a] += ((k[a] - 1) / st[a]) * f.jump[a]
						f.jump[a] = max(1, f.jump[a]/st[a])
						continue
					}
					f.rf[a] += (k[a] - 1) * d[a] * f.jump[a]
					f.jump[a] *= st[a]
				}
			}
		}
		fields[i] = f
		row := LayerSummary{ID: l.ID, Type: l.Spec.Type, Layer: l.Describe(), Output: l.Out, Params: planned(l), Frozen: l.Frozen, MACs: l.MACs(),
			ActivationBytes: 4 * prod(l.Out) * int64(batch)}
		if f != nil {
			row.ReceptiveField = []int{f.rf[0], f.rf[1]}
			if len(l.Out) == 2 {
				row.ReceptiveField = []int{f.rf[1]}
			}
		}
		if len(l.Inputs) != 1 || l.Inputs[0] != i-1 {
			for _, j := range l.Inputs {
				if j < 0 {
					row.Inputs = append(row.Inputs, config.Input)
				} else {
					row.Inputs = append(row.Inputs, n.Layers[j].ID)
				}
			}
		}
		s.MACs += row.MACs
		if l.Frozen {
			s.Frozen += row.Params
		} else {
			s.Trainable += row.Params
		}
		s.Layers = append(s.Layers, row)
	}
	s.TrainFLOPs = 2 * float64(n.TrainMACs()) * float64(batch)
	s.MemoryBytes = n.EstimateMemory(batch, evalBatch).Total()
	return s
}

// Short is the summary in one line: the layers by type and the totals.
func (s NetworkSummary) Short() string {
	var order []string
	count := map[string]int{}
	for _, l := range s.Layers {
		if count[l.Type] == 0 {
			order = append(order, l.Type)
		}
		count[l.Type]++
	}
	kinds := make([]string, len(order))
	for i, t := range order {
		kinds[i] = t
		if count[t] > 1 {
			kinds[i] = fmt.Sprintf("%d %s", count[t], t)
		}
	}
	params := fmt.Sprint(s.Params)
	if s.Frozen > 0 {
		params = fmt.Sprintf("%d (%d frozen)", s.Params, s.Frozen)
	}
	return fmt.Sprintf("network %s → %d layers (%s): %s parameters, %.2f M multiply-adds per image, %.2f GFLOP per training step at batch %d, ~%s to train",
		ShapeString(s.Input), len(s.Layers), strings.Join(kinds, ", "), params, float64(s.MACs)/1e6, s.TrainFLOPs/1e9, s.Batch, GB(s.MemoryBytes))
}

// TrainMACs counts the multiply-adds of a training step per example: every
// layer forward, its weight gradient if it is trained, and its input
// gradient if a trained layer comes before it (the first layer, and a
// frozen trunk, need none).
func (n *Network) TrainMACs() int64 {
	var total int64
	trained := make([]bool, len(n.Layers)) // the output depends on trained parameters
	for i, l := range n.Layers {
		m := l.MACs()
		total += m
		for _, j := range l.Inputs {
			if j >= 0 && trained[j] {
				trained[i] = true
			}
		}
		if trained[i] {
			total += m // input gradient
		}
		if planned(l) > 0 && !l.Frozen {
			total += m // weight gradient
			trained[i] = true
		}
	}
	return total
}

// planned is a layer's parameter count from its shapes (so a planned,
// unallocated network can be summarised).
func planned(l *Layer) int {
	if l.Kind.Params == nil {
		return 0
	}
	return int(l.Kind.Params(l))
}
