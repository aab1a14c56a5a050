// Package layers holds one file per layer kind, each declaring everything
// about that kind: its config fields, defaults and checks, its shape rule,
// its parameters and their initialisation, the Gorgonia ops it builds, its
// ONNX nodes, its PyTorch module and state_dict names, its summary line and
// cost, and whether a batch norm after it can be folded into it. The model,
// checkpoint, export and fuse code iterate over this registry; adding a
// layer kind is adding a file here (and its op in internal/ops).
package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/ops"
)

// Kind is one layer kind. Only Name, the schema and Shape are required;
// nil functions mean: no parameters (Init), nothing to export (ONNX: an
// identity), no multiply-adds (MACs), batch norm cannot fold into it (Fold).
type Kind struct {
	Name string
	// Doc is one line for the config reference: what the layer computes.
	Doc string
	// Family groups kinds for the tools that look inside a network.
	Family Family
	config.LayerSchema
	// Shape returns the per-example output shape for the input shapes, or
	// an error that says what does not fit (the caller adds file:line).
	Shape func(s *config.Layer, in [][]int) ([]int, error)
	// Init allocates the layer's parameters (and batch-norm state), drawing
	// initial values from rng; Params counts the values Init will allocate
	// (from the shapes alone), so that a model too large is refused first.
	Init   func(l *Layer, rng *rand.Rand)
	Params func(l *Layer) int64
	// Build adds the layer's ops to a graph, given its inputs' nodes.
	Build func(b *Builder, l *Layer, in []*G.Node) (*G.Node, error)
	// ONNX appends the layer's nodes, reading inputs in and writing out.
	ONNX func(e *ONNXGraph, l *Layer, in []string, out string)
	// Torch is the layer in PyTorch: a module, or an expression.
	Torch func(l *Layer) Torch
	// Describe is a short summary such as "conv2d 20@5×5 s1 p0".
	Describe func(s *config.Layer) string
	// MACs counts the multiply-adds of one example's forward pass.
	MACs func(l *Layer) int64
	// Fold, where a batch norm after this layer can be folded into it,
	// scales its output channel o by scale[o] and then adds shift[o], in
	// place (the layer gets a bias if it had none).
	Fold func(l *Layer, scale, shift []float64)
}

// Family is what a kind is to the tools that look inside a network.
type Family int

const (
	Other         Family = iota
	Conv                 // slides learned kernels over a window; weight (out, in/groups, kh, kw)
	ConvTranspose        // a transposed convolution; weight (in, out/groups, kh, kw)
	Pool                 // slides a fixed window (max or mean) over the channels
	Pointwise            // maps each value by itself (batch norm, activations): keeps its input's map
)

var kinds = map[string]*Kind{}

// Register adds a kind to the registry and its schema to the config loader.
func Register(k *Kind) {
	if _, dup := kinds[k.Name]; dup {
		panic("layers: kind registered twice: " + k.Name)
	}
	kinds[k.Name] = k
	config.RegisterLayer(k.Name, k.LayerSchema)
}

// Lookup returns the kind called name.
func Lookup(name string) (*Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// Kinds lists every registered kind, by name.
func Kinds() []*Kind {
	ks := make([]*Kind, 0, len(kinds))
	for _, k := range kinds {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b *Kind) int { return strings.Compare(a.Name, b.Name) })
	return ks
}

// Param is one learnable tensor, named as PyTorch names it in a state_dict
// ("3.weight", "res1.conv1.weight"), so checkpoints and exports line up.
type Param struct {
	Name  string
	T     *tensor.Dense
	Decay bool // weight decay applies (conv and dense weights, not biases or BN)
}

// Data returns the parameter's values.
func (p *Param) Data() []float32 { return p.T.Data().([]float32) }

// Layer is one node of a network: its config entry and kind, the layers
// it takes its inputs from, its shapes and its parameters.
type Layer struct {
	Spec  config.Layer
	Kind  *Kind
	Index int    // position in the network's (topological) layer list
	ID    string // its name, or its position: the prefix of its parameters' names
	// Inputs are the positions of the layers it takes; −1 is the network input.
	Inputs []int
	Ins    [][]int // per-example input shapes, one per input
	In     []int   // Ins[0]
	Out    []int   // per-example output shape: [C,H,W] or [N]
	Weight *Param
	Bias   *Param
	BN     *ops.BNState // batch norm: its running statistics (Weight is γ, Bias β)
	// Frozen layers are not trained: their parameters get no gradients.
	// A frozen batch norm with FrozenStats also keeps its running
	// statistics and uses them, as at inference.
	Frozen, FrozenStats bool
}

// Describe is the layer's summary line.
func (l *Layer) Describe() string {
	if l.Kind.Describe != nil {
		return l.Kind.Describe(&l.Spec)
	}
	return l.Spec.Type
}

// Params lists the layer's learnable tensors.
func (l *Layer) Params() []*Param {
	var ps []*Param
	for _, p := range []*Param{l.Weight, l.Bias} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// NumParams counts the layer's learnable values.
func (l *Layer) NumParams() int {
	n := 0
	for _, p := range l.Params() {
		n += len(p.Data())
	}
	return n
}

// MACs counts the layer's multiply-adds per example.
func (l *Layer) MACs() int64 {
	if l.Kind.MACs == nil {
		return 0
	}
	return l.Kind.MACs(l)
}

// NewParam makes parameter <layer ID>.<kind> of the given shape, uniform in
// ±1/√fanIn as PyTorch initialises conv and linear layers.
func (l *Layer) NewParam(kind string, decay bool, rng *rand.Rand, fanIn int, shape ...int) *Param {
	p := &Param{Name: l.ID + "." + kind, Decay: decay, T: tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))}
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range p.Data() {
		p.Data()[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return p
}

// ConstParam makes parameter <layer ID>.<kind> of n values v.
func (l *Layer) ConstParam(kind string, v float32, n int) *Param {
	p := &Param{Name: l.ID + "." + kind, T: tensor.New(tensor.WithShape(n), tensor.Of(tensor.Float32))}
	for i := range p.Data() {
		p.Data()[i] = v
	}
	return p
}

// Torch is a layer in PyTorch. A layer with a Module is that module,
// registered under the layer's ID (so its state_dict names are the
// checkpoint's); a layer without one is Expr, a Python expression of its
// inputs' variables in the forward pass.
type Torch struct {
	Module string
	Expr   func(in []string) string
}

// Builder is what a kind's Build gets besides its inputs.
type Builder struct {
	G *G.ExprGraph
	// Training selects batch statistics and dropout; Grad says gradients
	// will be taken (training, or probing an inference graph), so the ops
	// must be built to support them.
	Training, Grad bool
	RNG            *rand.Rand // dropout's random numbers (training)
	// InputDiff says whether the layer's input needs a gradient (false
	// where no layer before it has parameters to train).
	InputDiff bool
	// Frozen says the layer's own parameters get no gradients.
	Frozen bool
	// FixedParams says no parameter changes while the graph lives
	// (predict, serve): ops may keep what they derive from them.
	FixedParams bool
	// Param adds a parameter to the graph and to the list differentiated.
	Param func(p *Param) *G.Node
	// Next returns the layer that alone takes l's output, when it takes
	// nothing else, or nil: a candidate to run inside l's op. Absorb marks
	// it as done by l (its output is l's).
	Next   func(l *Layer) *Layer
	Absorb func(l *Layer)
}

// Name is how a layer's ops are named in the graph.
func (l *Layer) opName() string { return l.ID }

// wantDims checks that an input has the given number of dimensions.
func wantDims(s *config.Layer, in []int, dims int) error {
	if len(in) == dims {
		return nil
	}
	if dims == 3 && len(in) == 1 {
		return fmt.Errorf("needs a C×H×W input, but its input is flat (%s); move it before the flatten layer", ShapeString(in))
	}
	if dims == 3 && len(in) == 2 {
		return fmt.Errorf("needs a C×H×W image, but its input is a C×L signal (%s); use the 1-D kinds (conv1d, maxpool1d, avgpool1d)", ShapeString(in))
	}
	if dims == 2 && len(in) == 3 {
		return fmt.Errorf("needs a C×L signal, but its input is a C×H×W image (%s); use the 2-D kinds (conv2d, maxpool, avgpool)", ShapeString(in))
	}
	if dims == 2 && len(in) == 1 {
		return fmt.Errorf("needs a C×L input, but its input is flat (%s); move it before the flatten layer", ShapeString(in))
	}
	if dims == 1 {
		return fmt.Errorf("needs a flat input, but its input is %s; add a flatten layer before it", ShapeString(in))
	}
	return fmt.Errorf("needs a %d-D input, got %s", dims, ShapeString(in))
}

// ShapeString renders a per-example shape as "20×24×24".
func ShapeString(s []int) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = fmt.Sprint(v)
	}
	return strings.Join(p, "×")
}

// same keeps the input's shape (activations, dropout, batch norm).
func same(_ *config.Layer, in [][]int) ([]int, error) { return slices.Clone(in[0]), nil }

func pyBool(v bool) string {
	if v {
		return "True"
	}
	return "False"
}

// pyPair renders a Pair as PyTorch takes it: 3 or (3, 2).
func pyPair(p config.Pair) string {
	if p.H == p.W {
		return fmt.Sprint(p.H)
	}
	return fmt.Sprintf("(%d, %d)", p.H, p.W)
}

func setDefault(p *config.Pair, v config.Pair) {
	if p.IsZero() {
		*p = v
	}
}

func orFloat(v *float64, def float64) {
	if *v == 0 {
		*v = def
	}
}

func defaultBias(s *config.Layer) {
	if s.Bias == nil {
		t := true
		s.Bias = &t
	}
}

// checkPair reports a Pair field below its minimum.
func checkPair(bad func(string, ...any), field string, p config.Pair, least int) {
	if p.H < least || p.W < least {
		bad("%s must be at least %d, got %s", field, least, p)
	}
}

// bias is the size of a layer's bias: n values, or none.
func bias(s *config.Layer, n int) int64 {
	if s.Bias != nil && *s.Bias {
		return int64(n)
	}
	return 0
}
