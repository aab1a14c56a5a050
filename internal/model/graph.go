package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/cnnctl/cnnctl/internal/model/layers"
	"github.com/cnnctl/cnnctl/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph is a Gorgonia graph of the network for one batch size. The input
// and label tensors are filled in place by the caller before Run.
type Graph struct {
	Batch  int
	Input  *tensor.Dense // (B,C,H,W)
	Labels *tensor.Dense // (B), class indices as float32; training graphs only
	Logits *G.Node
	Loss   *G.Node   // training graphs only
	Grads  []*G.Node // aligned with Network.Trainable(); training graphs only

	g   *G.ExprGraph
	vm  G.VM     // probe graphs: the tape
	fwd *forward // the ops run directly: logits, then (training) loss and gradients
}

// BuildTrain builds a training graph: batch statistics in batch norm,
// dropout drawing from rng, the softmax cross-entropy loss and gradients of
// every parameter.
func (n *Network) BuildTrain(batch int, rng *rand.Rand) (*Graph, error) {
	return n.BuildTrainLoss(batch, rng, ops.Loss{})
}

// BuildTrainLoss is BuildTrain with label smoothing and class weights in
// the loss.
func (n *Network) BuildTrainLoss(batch int, rng *rand.Rand, loss ops.Loss) (*Graph, error) {
	return n.build(batch, buildMode{training: true, grad: true, rng: rng, loss: loss})
}

// BuildInference builds a forward-only graph that uses batch norm's running
// statistics and no dropout.
func (n *Network) BuildInference(batch int) (*Graph, error) {
	return n.build(batch, buildMode{})
}

// BuildFixedInference is BuildInference for a network whose parameters do
// not change while the graph lives (predict, serve): its ops keep what
// they derive from them (packed filters) from the first pass on, where an
// inference graph checks on every pass that they are still the same.
func (n *Network) BuildFixedInference(batch int) (*Graph, error) {
	return n.build(batch, buildMode{fixed: true})
}

func (n *Network) build(batch int, mode buildMode) (*Graph, error) {
	training, loss := mode.training, mode.loss
	a, err := n.assemble(batch, mode)
	if err != nil {
		return nil, err
	}
	gr := a.gr
	if training {
		gr.Labels = tensor.New(tensor.WithShape(batch), tensor.Of(tensor.Float32))
		labels := G.NodeFromAny(gr.g, gr.Labels, G.WithName("labels"))
		ce := ops.NewSoftmaxCrossEntropy("loss")
		ce.Loss = loss
		if gr.Loss, err = ce.Apply(gr.Logits, labels); err != nil {
			return nil, err
		}
		if gr.Grads, err = G.Grad(gr.Loss, a.params...); err != nil {
			return nil, fmt.Errorf("differentiating the network: %w", err)
		}
		if gr.fwd, err = newForward(append([]*G.Node{gr.Logits, gr.Loss}, gr.Grads...)...); err != nil {
			return nil, err
		}
		return gr, nil
	}
	if gr.fwd, err = newForward(gr.Logits); err != nil {
		return nil, err
	}
	return gr, nil
}

// buildMode says what kind of graph assemble makes.
type buildMode struct {
	training bool // batch statistics, dropout
	grad     bool // gradients will be taken
	probe    bool // every layer its own op, and the input differentiable
	fixed    bool // the parameters do not change while the graph lives
	rng      *rand.Rand
	loss     ops.Loss
}

// assembled is a network's graph before its machine is made.
type assembled struct {
	gr     *Graph
	input  *G.Node
	nodes  []*G.Node // each layer's output (a fused layer's is its absorber's)
	params []*G.Node // aligned with Network.Trainable()
}

func (n *Network) assemble(batch int, mode buildMode) (*assembled, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size must be at least 1")
	}
	gr := &Graph{Batch: batch, g: G.NewGraph()}
	g := gr.g
	gr.Input = tensor.New(tensor.WithShape(append([]int{batch}, n.Input...)...), tensor.Of(tensor.Float32))
	a := &assembled{gr: gr, input: G.NodeFromAny(g, gr.Input, G.WithName("input"))}
	consumers := n.Consumers()
	nodes := make([]*G.Node, len(n.Layers))
	// dependsOnParams[i]: layer i's output changes with some parameter (or,
	// probing, with the input), so the layers after it need their input
	// gradients.
	dependsOnParams := make([]bool, len(n.Layers))
	absorbedBy := make([]int, len(n.Layers))
	for i := range absorbedBy {
		absorbedBy[i] = -1
	}
	var cur *Layer // the layer being built
	b := &layers.Builder{G: g, Grad: mode.grad || mode.probe, RNG: mode.rng, FixedParams: mode.fixed,
		Param: func(p *Param) *G.Node {
			if p == nil {
				return nil
			}
			node := G.NodeFromAny(g, p.T, G.WithName(p.Name))
			if !cur.Frozen {
				a.params = append(a.params, node)
			}
			return node
		},
		Next: func(l *Layer) *Layer {
			if c := consumers[l.Index]; !mode.probe && len(c) == 1 && len(n.Layers[c[0]].Inputs) == 1 {
				return n.Layers[c[0]]
			}
			return nil
		},
	}
	for i, l := range n.Layers {
		if absorbedBy[i] >= 0 {
			continue // built inside an earlier layer's op
		}
		cur = l
		b.Frozen = l.Frozen
		b.Training = mode.training && !(l.BN != nil && l.Frozen && l.FrozenStats)
		in := make([]*G.Node, len(l.Inputs))
		b.InputDiff = false
		for k, j := range l.Inputs {
			if j < 0 {
				in[k] = a.input
				b.InputDiff = b.InputDiff || mode.probe
				continue
			}
			in[k] = nodes[j]
			b.InputDiff = b.InputDiff || dependsOnParams[j]
		}
		var absorbed []int
		b.Absorb = func(a *Layer) {
			absorbedBy[a.Index] = i
			absorbed = append(absorbed, a.Index)
		}
		x, err := l.Kind.Build(b, l, in)
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", l.Spec.Where(i), err)
		}
		deps := b.InputDiff || (l.Weight != nil && !l.Frozen)
		nodes[i], dependsOnParams[i] = x, deps
		for _, a := range absorbed {
			nodes[a], dependsOnParams[a] = x, deps
		}
	}
	gr.Logits = nodes[len(nodes)-1]
	a.nodes = nodes
	return a, nil
}

// Run executes the graph once on the current contents of Input (and Labels).
func (gr *Graph) Run() error {
	if gr.fwd != nil {
		return gr.fwd.run()
	}
	gr.vm.Reset()
	return gr.vm.RunAll()
}

// LogitsData returns the (B,K) logits of the last Run. The slice is the
// graph's own buffer: the next Run overwrites it.
func (gr *Graph) LogitsData() []float32 {
	if gr.fwd != nil {
		return gr.fwd.output(0).Data().([]float32)
	}
	return gr.Logits.Value().Data().([]float32)
}

// LossValue returns the mean loss of the last Run of a training graph.
func (gr *Graph) LossValue() float32 {
	var lv G.Value
	if gr.fwd != nil {
		lv = gr.fwd.output(1)
	} else {
		lv = gr.Loss.Value()
	}
	v, _ := lv.(*G.F32)
	if v == nil {
		return float32(0)
	}
	return float32(*v)
}

// GradData returns the gradient of the i-th parameter from the last Run.
func (gr *Graph) GradData(i int) []float32 {
	if gr.fwd != nil {
		return gr.fwd.output(2 + i).Data().([]float32)
	}
	return gr.Grads[i].Value().Data().([]float32)
}

// Close releases the machine.
func (gr *Graph) Close() error {
	if gr.vm == nil {
		return nil
	}
	return gr.vm.Close()
}
