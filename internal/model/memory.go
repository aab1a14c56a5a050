package model

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

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

// MachineMemory is the machine's total memory in bytes (MemTotal of
// /proc/meminfo), or 0 where it cannot be read.
func MachineMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// GB renders bytes as "1.23 GB".
func GB(b int64) string { return fmt.Sprintf("%.2f GB", float64(b)/1e9) }
