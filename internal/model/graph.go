package model

import (
	"fmt"
	"math/rand/v2"

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
	Grads  []*G.Node // aligned with Network.Params(); training graphs only

	g  *G.ExprGraph
	vm G.VM
}

// BuildTrain builds a training graph: batch statistics in batch norm,
// dropout drawing from rng, the softmax cross-entropy loss and gradients of
// every parameter.
func (n *Network) BuildTrain(batch int, rng *rand.Rand) (*Graph, error) {
	return n.build(batch, true, rng)
}

// BuildInference builds a forward-only graph that uses batch norm's running
// statistics and no dropout.
func (n *Network) BuildInference(batch int) (*Graph, error) {
	return n.build(batch, false, nil)
}

func (n *Network) build(batch int, training bool, rng *rand.Rand) (*Graph, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size must be at least 1")
	}
	gr := &Graph{Batch: batch, g: G.NewGraph()}
	g := gr.g
	gr.Input = tensor.New(tensor.WithShape(append([]int{batch}, n.Input...)...), tensor.Of(tensor.Float32))
	x := G.NodeFromAny(g, gr.Input, G.WithName("input"))
	var wrt []*G.Node
	param := func(p *Param) *G.Node {
		if p == nil {
			return nil
		}
		node := G.NodeFromAny(g, p.T, G.WithName(p.Name))
		wrt = append(wrt, node)
		return node
	}
	// No gradient is needed below the first layer with parameters.
	needInputGrad := false
	for i := 0; i < len(n.Layers); i++ {
		l := n.Layers[i]
		name := fmt.Sprintf("%d", l.Index)
		var err error
		switch l.Spec.Type {
		case "conv2d":
			w, b := param(l.Weight), param(l.Bias)
			geom := ops.ConvGeom{Kernel: l.Spec.Kernel, Stride: l.Spec.Stride, Pad: l.Spec.Padding}
			x, err = ops.NewConv2D(name, geom, b != nil, needInputGrad, training).Apply(x, w, b)
		case "dense":
			w, b := param(l.Weight), param(l.Bias)
			if b == nil {
				// Dense always takes a bias input; a bias-free layer gets zeros
				// that are not learned.
				b = G.NodeFromAny(g, tensor.New(tensor.WithShape(l.Out[0]), tensor.Of(tensor.Float32)), G.WithName(name+".zero_bias"))
			}
			x, err = ops.NewDense(name, needInputGrad).Apply(x, w, b)
		case "batchnorm":
			gamma, beta := param(l.Weight), param(l.Bias)
			// A ReLU right after batch norm runs inside it (one pass fewer),
			// and so does a 2×2 max pooling after that (its input is never
			// written).
			bn := ops.NewBatchNorm(name, l.BN, training, reluAt(n.Layers, i+1))
			if bn.ReLU {
				i++
				if x.Dims() == 4 && maxPool2x2At(n.Layers, i+1) {
					bn.WithMaxPool()
					i++
				}
			}
			x, err = bn.Apply(x, gamma, beta)
		case "relu":
			if x.Dims() == 4 && maxPool2x2At(n.Layers, i+1) {
				// A 2×2 max pooling right after runs the ReLU inside it.
				i++
				x, err = ops.NewMaxPool2D(fmt.Sprintf("%d", n.Layers[i].Index), ops.ConvGeom{Kernel: 2, Stride: 2}).WithReLU().Apply(x)
				break
			}
			x, err = ops.NewActivation(name, ops.ReLU, 0).Apply(x)
		case "leaky_relu":
			x, err = ops.NewActivation(name, ops.LeakyReLU, float32(l.Spec.Alpha)).Apply(x)
		case "sigmoid":
			x, err = ops.NewActivation(name, ops.Sigmoid, 0).Apply(x)
		case "tanh":
			x, err = ops.NewActivation(name, ops.Tanh, 0).Apply(x)
		case "maxpool", "avgpool":
			geom := ops.ConvGeom{Kernel: l.Spec.Kernel, Stride: l.Spec.Stride, Pad: l.Spec.Padding}
			if l.Spec.Type == "maxpool" {
				x, err = ops.NewMaxPool2D(name, geom).Apply(x)
			} else {
				x, err = ops.NewAvgPool2D(name, geom).Apply(x)
			}
		case "dropout":
			if training {
				x, err = ops.NewDropout(name, float32(l.Spec.Rate), rng).Apply(x)
			}
		case "flatten":
			if x.Dims() > 2 {
				x, err = ops.NewFlatten(name).Apply(x)
			}
		default:
			err = fmt.Errorf("unknown layer type %q", l.Spec.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("building layer %d (%s): %w", l.Index, l.Spec.Type, err)
		}
		if l.Weight != nil {
			needInputGrad = true
		}
	}
	gr.Logits = x
	if training {
		gr.Labels = tensor.New(tensor.WithShape(batch), tensor.Of(tensor.Float32))
		labels := G.NodeFromAny(g, gr.Labels, G.WithName("labels"))
		var err error
		if gr.Loss, err = ops.NewSoftmaxCrossEntropy("loss").Apply(x, labels); err != nil {
			return nil, err
		}
		if gr.Grads, err = G.Grad(gr.Loss, wrt...); err != nil {
			return nil, fmt.Errorf("differentiating the network: %w", err)
		}
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// Run executes the graph once on the current contents of Input (and Labels).
func (gr *Graph) Run() error {
	gr.vm.Reset()
	return gr.vm.RunAll()
}

// LogitsData returns the (B,K) logits of the last Run. The slice is the
// graph's own buffer: the next Run overwrites it.
func (gr *Graph) LogitsData() []float32 { return gr.Logits.Value().Data().([]float32) }

// LossValue returns the mean loss of the last Run of a training graph.
func (gr *Graph) LossValue() float32 {
	v, _ := gr.Loss.Value().(*G.F32)
	if v == nil {
		return float32(0)
	}
	return float32(*v)
}

// GradData returns the gradient of the i-th parameter from the last Run.
func (gr *Graph) GradData(i int) []float32 { return gr.Grads[i].Value().Data().([]float32) }

// Close releases the machine.
func (gr *Graph) Close() error { return gr.vm.Close() }

// reluAt and maxPool2x2At say whether layer i exists and is a ReLU, or a
// 2×2 stride-2 unpadded max pooling: the layers a batch norm can absorb.
func reluAt(ls []*Layer, i int) bool { return i < len(ls) && ls[i].Spec.Type == "relu" }

func maxPool2x2At(ls []*Layer, i int) bool {
	if i >= len(ls) {
		return false
	}
	s := ls[i].Spec
	return s.Type == "maxpool" && s.Kernel == 2 && s.Stride == 2 && s.Padding == 0
}
