package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// BNScaleShift is an inference-mode batch norm as an affine map per
// channel c: y = x·scale[c] + shift[c] with
//
//	scale = γ/√(σ²+ε),  shift = β − μ·scale
//
// so that folding it into the layer before (weights w[c,…], bias b) gives
// w' = w·scale and b' = (b − μ)·scale + β.
func BNScaleShift(gamma, beta, mean, variance []float32, eps float64) (scale, shift []float64) {
	scale, shift = make([]float64, len(gamma)), make([]float64, len(gamma))
	for c := range gamma {
		scale[c] = float64(gamma[c]) / math.Sqrt(float64(variance[c])+eps)
		shift[c] = float64(beta[c]) - float64(mean[c])*scale[c]
	}
	return scale, shift
}

// Fold records what FoldBatchNorm did with one batch-norm layer.
type Fold struct {
	BN     int // index of the batch-norm layer in the original model
	Into   int // index of the layer it was folded into, or −1
	Reason string
}

// FoldBatchNorm returns a new network in which every batch-norm layer whose
// input is the output of a layer that can take it in (conv2d, dense,
// conv_transpose2d), read by nothing else, is folded into that layer
// (inference semantics: the running statistics). That holds anywhere in the
// graph — inside a residual block, before an add. A batch norm after an
// activation, pooling or a join cannot be folded and stays. The folded
// layers are gone from the new network's list, so the positions (and the
// parameter names of unnamed layers) after them change; its outputs equal
// the old network's in inference up to float rounding. The original is not
// modified.
// FoldableKinds names the layer kinds a batch norm folds into: "conv1d,
// conv2d, conv_transpose2d or dense".
func FoldableKinds() string {
	var names []string
	for _, k := range layers.Kinds() {
		if k.Fold != nil {
			names = append(names, k.Name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func FoldBatchNorm(n *Network) (*Network, []Fold) {
	consumers := n.Consumers()
	var folds []Fold
	into := make([]int, len(n.Layers)) // host of a folded batch norm, else −1
	for i, l := range n.Layers {
		into[i] = -1
		if l.Spec.Type != "batchnorm" {
			continue
		}
		j := l.Inputs[0]
		switch {
		case j < 0:
			folds = append(folds, Fold{BN: i, Into: -1, Reason: "it is the first layer"})
		case n.Layers[j].Kind.Fold == nil:
			folds = append(folds, Fold{BN: i, Into: -1, Reason: fmt.Sprintf("it follows %s (layer %s), not a %s layer",
				n.Layers[j].Describe(), n.Layers[j].ID, FoldableKinds())})
		case len(consumers[j]) > 1:
			folds = append(folds, Fold{BN: i, Into: -1, Reason: fmt.Sprintf("the output of layer %s is also read by other layers, which need it unnormalised",
				n.Layers[j].ID)})
		default:
			into[i] = j
			folds = append(folds, Fold{BN: i, Into: j})
		}
	}
	// The new layer list: the old one without the folded batch norms, each
	// input naming its layer as the new list calls it.
	newIndex := make([]int, len(n.Layers))
	var specs []config.Layer
	var from []int // old index of each new layer
	for i, l := range n.Layers {
		if into[i] >= 0 {
			newIndex[i] = newIndex[into[i]]
			continue
		}
		k := len(specs)
		newIndex[i] = k
		s := l.Spec
		s.Inputs = nil
		if len(l.Inputs) != 1 || (l.Inputs[0] < 0) != (k == 0) || (l.Inputs[0] >= 0 && newIndex[l.Inputs[0]] != k-1) {
			for _, j := range l.Inputs {
				ref := config.Input
				if j >= 0 {
					m := newIndex[j]
					ref = specs[m].ID(m)
				}
				s.Inputs = append(s.Inputs, ref)
			}
		}
		specs = append(specs, s)
		from = append(from, i)
	}
	out, err := New(specs, n.Input, n.Classes, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		panic(fmt.Sprintf("model: folding batch norm made an invalid network: %v", err)) // a bug, not bad input
	}
	for k, l := range out.Layers {
		src := n.Layers[from[k]]
		copyValues(l, src)
	}
	for i, host := range into {
		if host < 0 {
			continue
		}
		bn, l := n.Layers[i], out.Layers[newIndex[host]]
		scale, shift := BNScaleShift(bn.Weight.Data(), bn.Bias.Data(), bn.BN.RunningMean, bn.BN.RunningVar, bn.BN.Eps)
		l.Kind.Fold(l, scale, shift)
	}
	return out, folds
}

// copyValues copies src's parameters and batch-norm state into l, a layer of
// the same kind and shapes.
func copyValues(l, src *Layer) {
	if l.Weight != nil {
		copy(l.Weight.Data(), src.Weight.Data())
	}
	if l.Bias != nil {
		copy(l.Bias.Data(), src.Bias.Data())
	}
	if l.BN != nil {
		copy(l.BN.RunningMean, src.BN.RunningMean)
		copy(l.BN.RunningVar, src.BN.RunningVar)
		l.BN.NumBatches = src.BN.NumBatches
	}
}

// Specs returns the layer list that describes the network (for its config):
// the expanded list, blocks written out layer by layer.
func (n *Network) Specs() []config.Layer {
	s := make([]config.Layer, len(n.Layers))
	for i, l := range n.Layers {
		s[i] = l.Spec.Flat()
		s[i].Inputs = slices.Clone(l.Spec.Inputs)
	}
	return s
}

// Describe is the line fuse prints for the fold.
func (f Fold) Describe(n *Network) string {
	bn := n.Layers[f.BN]
	if f.Into < 0 {
		return fmt.Sprintf("kept      layer %s (batchnorm): %s", bn.ID, f.Reason)
	}
	host := n.Layers[f.Into]
	return fmt.Sprintf("folded    layer %s (batchnorm) into layer %s (%s)", bn.ID, host.ID, strings.TrimSpace(host.Describe()))
}
