package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Probe is an inference graph for looking inside a network: every layer is
// its own op (nothing fused), so each layer's output can be read, and it
// takes the gradient of a class score — Σ logits·Select — with respect to
// the input (saliency) and to one layer's output (Grad-CAM). Batch norm uses
// its running statistics and dropout is off, as at prediction.
type Probe struct {
	*Graph
	Outputs   []*G.Node     // each layer's output
	Select    *tensor.Dense // (B,K) weights of the logits in the score; fill before Run
	InputGrad *G.Node       // ∂score/∂input, shaped as the input
	Layer     int           // the layer whose output gradient LayerGrad is; −1 for none
	LayerGrad *G.Node
}

// BuildProbe builds a probe graph for batch size batch with the gradient
// at layer's output (layer < 0: only the input's).
func (n *Network) BuildProbe(batch, layer int) (*Probe, error) {
	if layer >= len(n.Layers)-1 {
		return nil, fmt.Errorf("probe: layer %d is not inside the network", layer)
	}
	a, err := n.assemble(batch, buildMode{probe: true})
	if err != nil {
		return nil, err
	}
	gr := a.gr
	p := &Probe{Graph: gr, Outputs: a.nodes, Layer: layer,
		Select: tensor.New(tensor.WithShape(batch, n.Classes), tensor.Of(tensor.Float32))}
	sel := G.NodeFromAny(gr.g, p.Select, G.WithName("select"))
	score, err := G.Sum(G.Must(G.HadamardProd(gr.Logits, sel)))
	if err != nil {
		return nil, err
	}
	wrt := G.Nodes{a.input}
	if layer >= 0 {
		wrt = append(wrt, a.nodes[layer])
	}
	// G.Grad differentiates only with respect to leaves; Backpropagate,
	// which it calls, takes any node (∂score/∂score = 1).
	one := gr.g.AddNode(G.NewConstant(float32(1), G.WithName("one")))
	grads, err := G.Backpropagate(G.Nodes{score}, G.Nodes{one}, wrt)
	if err != nil {
		return nil, fmt.Errorf("differentiating the network: %w", err)
	}
	p.InputGrad = grads[0]
	if layer >= 0 {
		p.LayerGrad = grads[1]
	}
	gr.vm = G.NewTapeMachine(gr.g)
	return p, nil
}

// OutputData returns layer i's output of the last Run (the graph's buffer).
func (p *Probe) OutputData(i int) []float32 { return p.Outputs[i].Value().Data().([]float32) }

// InputGradData returns ∂score/∂input of the last Run.
func (p *Probe) InputGradData() []float32 { return p.InputGrad.Value().Data().([]float32) }

// LayerGradData returns ∂score/∂(the probed layer's output) of the last Run.
func (p *Probe) LayerGradData() []float32 { return p.LayerGrad.Value().Data().([]float32) }
