package model

import "fmt"

// Memory is an estimate, from the shapes alone, of what training a network
// holds in memory at once.
type Memory struct {
	Params      int64 // parameters, their gradients and up to two optimizer slots
	Activations int64 // the training graph's outputs and gradients, and the inference graph's outputs
}

// Total is the estimate in bytes.
func (m Memory) Total() int64 { return m.Params + m.Activations }

// EstimateMemory estimates the memory of training at batch size batch with
// inference graphs of batch evalBatch: every op owns its output and its
// gradient op's, and the lowering scratch is of the same order, so a
// training graph holds about three floats per activation value, an
// inference graph about two.
func (n *Network) EstimateMemory(batch, evalBatch int) Memory {
	var act int64 = prod(n.Input)
	for _, l := range n.Layers {
		act += prod(l.Out)
	}
	return Memory{
		Params:      4 * 4 * n.planned(),
		Activations: 4 * act * (3*int64(batch) + 2*int64(evalBatch)),
	}
}

func prod(s []int) int64 {
	p := int64(1)
	for _, v := range s {
		p *= int64(v)
	}
	return p
}

// GB renders bytes as "1.23 GB".
func GB(b int64) string { return fmt.Sprintf("%.2f GB", float64(b)/1e9) }
