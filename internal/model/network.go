// Package model turns the layer list of a config into a network — a small
// directed acyclic graph of layers, in the config's (topological) order —
// infers every layer's shape, owns the parameter tensors and batch-norm
// statistics, and builds Gorgonia graphs over them for any batch size
// (training graphs with gradients, inference graphs without), all sharing
// the same memory. What each layer kind does is declared in
// internal/model/layers; this package only joins them up.
package model

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

type (
	// Layer is one node of the network.
	Layer = layers.Layer
	// Param is one learnable tensor.
	Param = layers.Param
)

// Network is a CNN: its layers in topological order (the last gives the
// logits), its input shape and class count.
type Network struct {
	Input   []int // [C,H,W]
	Classes int
	Layers  []*Layer
}

// LayerError locates a problem at a layer of the config's model list.
type LayerError struct {
	Index int
	Where string // "layer 3 (conv2d)"
	Type  string
	Line  int
	Msg   string
}

func (e *LayerError) Error() string { return e.Where + ": " + e.Msg }

// ShapeString renders a per-example shape as "20×24×24".
func ShapeString(s []int) string { return layers.ShapeString(s) }

// New infers shapes for the (expanded) layer list on input [C,H,W] and
// allocates parameters, initialised as PyTorch does (uniform ±1/√fan_in
// for weights and biases, γ=1, β=0) from rng. Each layer takes the output
// of the one before it unless its inputs say otherwise.
func New(specs []config.Layer, input []int, classes int, rng *rand.Rand) (*Network, error) {
	return NewBounded(specs, input, classes, rng, MaxParams)
}

// NewBounded is New refusing, before allocating them, more than maxParams
// parameters (a checkpoint's config can need no more than its file holds).
func NewBounded(specs []config.Layer, input []int, classes int, rng *rand.Rand, maxParams int64) (*Network, error) {
	n, err := plan(specs, input, classes, maxParams)
	if err != nil {
		return nil, err
	}
	n.Allocate(rng)
	return n, nil
}

// Plan is New without the parameters: every shape and check, nothing
// allocated, so that what the network will need (EstimateMemory) is known
// first. Allocate completes it.
func Plan(specs []config.Layer, input []int, classes int) (*Network, error) {
	return plan(specs, input, classes, MaxParams)
}

// Allocate makes a planned network's parameters, drawing their initial
// values from rng layer by layer.
func (n *Network) Allocate(rng *rand.Rand) {
	for _, l := range n.Layers {
		if l.Kind.Init != nil {
			l.Kind.Init(l, rng)
		}
	}
}

// MaxParams bounds the parameters New allocates: a billion-weight layer in a
// config is a mistake to report, not an allocation to attempt.
const MaxParams = 1 << 28

func plan(specs []config.Layer, input []int, classes int, maxParams int64) (*Network, error) {
	var params int64
	if classes < 2 {
		return nil, fmt.Errorf("a classifier needs at least 2 classes, got %d", classes)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("the model has no layers")
	}
	n := &Network{Input: append([]int(nil), input...), Classes: classes}
	pos := map[string]int{config.Input: -1}
	used := make([]bool, len(specs))
	for i, s := range specs {
		fail := func(format string, a ...any) error {
			return &LayerError{Index: i, Where: s.Where(i), Type: s.Type, Line: s.Line, Msg: fmt.Sprintf(format, a...)}
		}
		k, ok := layers.Lookup(s.Type)
		if !ok {
			return nil, fail("unknown layer type %q", s.Type)
		}
		l := &Layer{Spec: s, Kind: k, Index: i, ID: s.ID(i)}
		refs := s.Inputs
		if len(refs) == 0 {
			refs = []string{config.Input}
			if i > 0 {
				refs = []string{specs[i-1].ID(i - 1)}
			}
		}
		for _, ref := range refs {
			j, ok := pos[ref]
			if !ok {
				return nil, fail("inputs: no layer before it is named %q", ref)
			}
			l.Inputs = append(l.Inputs, j)
			if j < 0 {
				l.Ins = append(l.Ins, n.Input)
			} else {
				l.Ins = append(l.Ins, n.Layers[j].Out)
				used[j] = true
			}
		}
		l.In = l.Ins[0]
		out, err := k.Shape(&l.Spec, l.Ins)
		if err != nil {
			return nil, fail("%v", err)
		}
		for _, v := range out {
			if v < 1 {
				return nil, fail("output shape %s is empty", ShapeString(out))
			}
		}
		l.Out = out
		if k.Params != nil {
			if params += k.Params(l); params > maxParams {
				return nil, fail("the model would need more than %d parameters by this layer (%s alone has %d)", maxParams, l.Describe(), k.Params(l))
			}
		}
		n.Layers = append(n.Layers, l)
		pos[l.ID] = i
	}
	for i, l := range n.Layers[:len(n.Layers)-1] {
		if !used[i] {
			return nil, &LayerError{Index: i, Where: l.Spec.Where(i), Type: l.Spec.Type, Line: l.Spec.Line,
				Msg: "no layer takes its output (only the last layer's output is the network's); name it in a later layer's inputs or remove it"}
		}
	}
	last := n.Layers[len(n.Layers)-1]
	// The last layer's outputs are the logits: an activation or dropout
	// there would bound or randomise them.
	switch t := last.Spec.Type; {
	case len(last.Out) != 1 || last.Out[0] != classes, t == "relu", t == "leaky_relu", t == "sigmoid", t == "tanh", t == "dropout":
		return nil, &LayerError{Index: last.Index, Where: last.Spec.Where(last.Index), Type: last.Spec.Type, Line: last.Spec.Line,
			Msg: fmt.Sprintf("the model must end with a dense layer of %d units (or any layer giving %d values: one logit per class); it ends with %s giving %s",
				classes, classes, last.Describe(), ShapeString(last.Out))}
	}
	return n, nil
}

// IsChain says whether every layer takes the one before it (a plain list).
func (n *Network) IsChain() bool {
	for i, l := range n.Layers {
		if len(l.Inputs) != 1 || l.Inputs[0] != i-1 {
			return false
		}
	}
	return true
}

// Consumers lists, for each layer, the layers that take its output.
func (n *Network) Consumers() [][]int {
	c := make([][]int, len(n.Layers))
	for i, l := range n.Layers {
		for _, j := range l.Inputs {
			if j >= 0 {
				c[j] = append(c[j], i)
			}
		}
	}
	return c
}

// Params lists the learnable tensors in layer order.
func (n *Network) Params() []*Param {
	var ps []*Param
	for _, l := range n.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Trainable lists the parameters of the layers not frozen, in layer order:
// what a training graph differentiates and the optimizer updates.
func (n *Network) Trainable() []*Param {
	var ps []*Param
	for _, l := range n.Layers {
		if !l.Frozen {
			ps = append(ps, l.Params()...)
		}
	}
	return ps
}

// Freeze marks the layers with the given IDs frozen (stats: their batch
// norms keep running statistics), and every other layer trainable. It
// refuses to freeze every parameter.
func (n *Network) Freeze(ids map[string]bool, stats bool) error {
	trainable := false
	for _, l := range n.Layers {
		l.Frozen, l.FrozenStats = ids[l.ID], ids[l.ID] && stats
		trainable = trainable || (!l.Frozen && planned(l) > 0) // from the shapes: a planned network too
	}
	if !trainable {
		for _, l := range n.Layers {
			l.Frozen, l.FrozenStats = false, false
		}
		return fmt.Errorf("every layer with parameters is frozen: nothing is left to train")
	}
	return nil
}

// planned counts the parameters from the shapes (allocated or not).
func (n *Network) planned() int64 {
	var total int64
	for _, l := range n.Layers {
		total += int64(planned(l))
	}
	return total
}

// NumParams counts learnable values.
func (n *Network) NumParams() int {
	total := 0
	for _, l := range n.Layers {
		total += l.NumParams()
	}
	return total
}

// ForwardFLOPs is the multiply-add count of one example's forward pass ×2.
func (n *Network) ForwardFLOPs() float64 {
	var f float64
	for _, l := range n.Layers {
		f += 2 * float64(l.MACs())
	}
	return f
}

// Summary is a table of layers, shapes and parameter counts.
func (n *Network) Summary() string {
	var b strings.Builder
	chain := n.IsChain()
	fmt.Fprintf(&b, "%-4s %-24s %-12s %s\n", "#", "layer", "output", "params")
	fmt.Fprintf(&b, "%-4s %-24s %-12s %s\n", "", "input", ShapeString(n.Input), "")
	for _, l := range n.Layers {
		desc := l.Describe()
		if !chain && l.Spec.Type != "add" && l.Spec.Type != "concat" && (len(l.Inputs) != 1 || l.Inputs[0] != l.Index-1) {
			desc += " ← " + n.inputNames(l)
		}
		fmt.Fprintf(&b, "%-4s %-24s %-12s %d\n", l.ID, desc, ShapeString(l.Out), l.NumParams())
	}
	fmt.Fprintf(&b, "total %d parameters, %.2f MFLOP per example forward\n", n.NumParams(), n.ForwardFLOPs()/1e6)
	return b.String()
}

func (n *Network) inputNames(l *Layer) string {
	s := make([]string, len(l.Inputs))
	for i, j := range l.Inputs {
		if j < 0 {
			s[i] = config.Input
		} else {
			s[i] = n.Layers[j].ID
		}
	}
	return strings.Join(s, ", ")
}
