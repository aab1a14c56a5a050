// Package model turns the layer list of a config into a network: it infers
// every layer's shape, owns the parameter tensors and batch-norm statistics,
// and builds Gorgonia graphs over them for any batch size (training graphs
// with gradients, inference graphs without), all sharing the same memory.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
	"gorgonia.org/tensor"
)

// Param is one learnable tensor, named as PyTorch's nn.Sequential would name
// it ("3.weight"), so checkpoints and exports line up with state_dicts.
type Param struct {
	Name  string
	T     *tensor.Dense
	Decay bool // weight decay applies (conv and dense weights, not biases or BN)
}

// Data returns the parameter's values.
func (p *Param) Data() []float32 { return p.T.Data().([]float32) }

// Layer is one entry of the model with its shapes and parameters.
type Layer struct {
	Spec    config.Layer
	Index   int
	In, Out []int // per-example shapes: [C,H,W] or [N]
	Weight  *Param
	Bias    *Param
	BN      *ops.BNState // batchnorm only; Weight is γ and Bias is β
}

// Describe is a one-line summary such as "conv2d 20@5×5 s1 p0".
func (l *Layer) Describe() string {
	s := l.Spec
	switch s.Type {
	case "conv2d":
		return fmt.Sprintf("conv2d %d@%d×%d s%d p%d", s.Filters, s.Kernel, s.Kernel, s.Stride, s.Padding)
	case "maxpool", "avgpool":
		return fmt.Sprintf("%s %d×%d s%d p%d", s.Type, s.Kernel, s.Kernel, s.Stride, s.Padding)
	case "dense":
		return fmt.Sprintf("dense %d", s.Units)
	case "dropout":
		return fmt.Sprintf("dropout %.2g", s.Rate)
	case "leaky_relu":
		return fmt.Sprintf("leaky_relu %.2g", s.Alpha)
	}
	return s.Type
}

// Network is a sequential CNN: its layers, input shape and class count.
type Network struct {
	Input   []int // [C,H,W]
	Classes int
	Layers  []*Layer
}

// LayerError locates a problem at a layer of the config's model list.
type LayerError struct {
	Index int
	Type  string
	Line  int
	Msg   string
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %d (%s): %s", e.Index, e.Type, e.Msg)
}

// ShapeString renders a per-example shape as "20×24×24".
func ShapeString(s []int) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = fmt.Sprint(v)
	}
	return strings.Join(p, "×")
}

// New infers shapes for the layer list on input [C,H,W] and allocates
// parameters, initialised as PyTorch does (uniform ±1/√fan_in for weights
// and biases, γ=1, β=0) from rng.
func New(specs []config.Layer, input []int, classes int, rng *rand.Rand) (*Network, error) {
	if classes < 2 {
		return nil, fmt.Errorf("a classifier needs at least 2 classes, got %d", classes)
	}
	n := &Network{Input: append([]int(nil), input...), Classes: classes}
	shape := append([]int(nil), input...)
	for i, s := range specs {
		l := &Layer{Spec: s, Index: i, In: shape}
		fail := func(format string, a ...any) error {
			return &LayerError{Index: i, Type: s.Type, Line: s.Line, Msg: fmt.Sprintf(format, a...)}
		}
		switch s.Type {
		case "conv2d", "maxpool", "avgpool":
			if len(shape) != 3 {
				return nil, fail("needs a C×H×W input, but its input is flat (%s); move it before the flatten layer", ShapeString(shape))
			}
			if shape[1]+2*s.Padding < s.Kernel || shape[2]+2*s.Padding < s.Kernel {
				return nil, fail("kernel %d×%d is larger than its input %s (padding %d)", s.Kernel, s.Kernel, ShapeString(shape), s.Padding)
			}
			g := ops.ConvGeom{Kernel: s.Kernel, Stride: s.Stride, Pad: s.Padding}
			c := shape[0]
			if s.Type == "conv2d" {
				c = s.Filters
				fanIn := shape[0] * s.Kernel * s.Kernel
				l.Weight = newParam(fmt.Sprintf("%d.weight", i), true, rng, fanIn, s.Filters, shape[0], s.Kernel, s.Kernel)
				if *s.Bias {
					l.Bias = newParam(fmt.Sprintf("%d.bias", i), false, rng, fanIn, s.Filters)
				}
			}
			l.Out = []int{c, g.OutSize(shape[1]), g.OutSize(shape[2])}
		case "dense":
			if len(shape) != 1 {
				return nil, fail("needs a flat input, but its input is %s; add a flatten layer before it", ShapeString(shape))
			}
			l.Weight = newParam(fmt.Sprintf("%d.weight", i), true, rng, shape[0], s.Units, shape[0])
			if *s.Bias {
				l.Bias = newParam(fmt.Sprintf("%d.bias", i), false, rng, shape[0], s.Units)
			}
			l.Out = []int{s.Units}
		case "batchnorm":
			c := shape[0]
			l.Weight = constParam(fmt.Sprintf("%d.weight", i), 1, c)
			l.Bias = constParam(fmt.Sprintf("%d.bias", i), 0, c)
			l.BN = &ops.BNState{RunningMean: make([]float32, c), RunningVar: make([]float32, c), Momentum: s.Momentum, Eps: s.Eps}
			for j := range l.BN.RunningVar {
				l.BN.RunningVar[j] = 1
			}
			l.Out = shape
		case "flatten":
			total := 1
			for _, v := range shape {
				total *= v
			}
			l.Out = []int{total}
		default: // activations and dropout keep the shape
			l.Out = shape
		}
		for _, v := range l.Out {
			if v < 1 {
				return nil, fail("output shape %s is empty", ShapeString(l.Out))
			}
		}
		n.Layers = append(n.Layers, l)
		shape = l.Out
	}
	if len(n.Layers) == 0 {
		return nil, fmt.Errorf("the model has no layers")
	}
	last := n.Layers[len(n.Layers)-1]
	if last.Spec.Type != "dense" || last.Spec.Units != classes {
		return nil, &LayerError{Index: last.Index, Type: last.Spec.Type, Line: last.Spec.Line,
			Msg: fmt.Sprintf("the model must end with a dense layer of %d units (one logit per class); it ends with %s giving %s",
				classes, last.Describe(), ShapeString(last.Out))}
	}
	return n, nil
}

func newParam(name string, decay bool, rng *rand.Rand, fanIn int, shape ...int) *Param {
	p := &Param{Name: name, Decay: decay, T: tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))}
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range p.Data() {
		p.Data()[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return p
}

func constParam(name string, v float32, n int) *Param {
	p := &Param{Name: name, T: tensor.New(tensor.WithShape(n), tensor.Of(tensor.Float32))}
	for i := range p.Data() {
		p.Data()[i] = v
	}
	return p
}

// Params lists the learnable tensors in layer order.
func (n *Network) Params() []*Param {
	var ps []*Param
	for _, l := range n.Layers {
		for _, p := range []*Param{l.Weight, l.Bias} {
			if p != nil {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// NumParams counts learnable values.
func (n *Network) NumParams() int {
	total := 0
	for _, p := range n.Params() {
		total += len(p.Data())
	}
	return total
}

// ForwardFLOPs is the multiply-add count of one example's forward pass ×2.
func (n *Network) ForwardFLOPs() float64 {
	var f float64
	for _, l := range n.Layers {
		switch l.Spec.Type {
		case "conv2d":
			f += 2 * float64(l.Out[0]*l.Out[1]*l.Out[2]) * float64(l.In[0]*l.Spec.Kernel*l.Spec.Kernel)
		case "dense":
			f += 2 * float64(l.In[0]*l.Out[0])
		}
	}
	return f
}

// Summary is a table of layers, shapes and parameter counts.
func (n *Network) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-24s %-12s %s\n", "#", "layer", "output", "params")
	fmt.Fprintf(&b, "%-4s %-24s %-12s %s\n", "", "input", ShapeString(n.Input), "")
	for _, l := range n.Layers {
		np := 0
		for _, p := range []*Param{l.Weight, l.Bias} {
			if p != nil {
				np += len(p.Data())
			}
		}
		fmt.Fprintf(&b, "%-4d %-24s %-12s %d\n", l.Index, l.Describe(), ShapeString(l.Out), np)
	}
	fmt.Fprintf(&b, "total %d parameters, %.2f MFLOP per example forward\n", n.NumParams(), n.ForwardFLOPs()/1e6)
	return b.String()
}
