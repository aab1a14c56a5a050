package model

import (
	"fmt"
	"math"

	"github.com/cnnctl/cnnctl/internal/config"
	"gorgonia.org/tensor"
)

// FoldScaleShift folds an inference-mode batch norm into the affine layer
// before it, per output channel o (weights laid out [out, …]):
//
//	s = γ/√(σ²+ε),  w'[o,…] = w[o,…]·s,  b' = (b − μ)·s + β
//
// bias may be nil (a layer without bias counts as b = 0). It returns the new
// weights and bias; the inputs are not modified.
func FoldScaleShift(w, bias, gamma, beta, mean, variance []float32, eps float64) (wf, bf []float32) {
	out := len(gamma)
	per := len(w) / out
	wf = make([]float32, len(w))
	bf = make([]float32, out)
	for o := range out {
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		for i := range per {
			wf[o*per+i] = float32(float64(w[o*per+i]) * s)
		}
		b := 0.0
		if bias != nil {
			b = float64(bias[o])
		}
		bf[o] = float32((b-float64(mean[o]))*s + float64(beta[o]))
	}
	return wf, bf
}

// Fold records what FoldBatchNorm did with one batch-norm layer.
type Fold struct {
	BN     int // index of the batch-norm layer in the original model
	Into   int // index of the layer it was folded into, or −1
	Reason string
}

// FoldBatchNorm returns a new network in which every batch-norm layer that
// directly follows a conv2d or dense layer is folded into it (inference
// semantics: the running statistics). A batch norm after anything else —
// an activation, pooling, dropout — cannot be folded and stays. The new
// network's layer list is the old one without the folded layers, so its
// parameter names (by index) change; its outputs equal the old network's in
// inference up to float rounding. The original is not modified.
func FoldBatchNorm(n *Network) (*Network, []Fold) {
	out := &Network{Input: n.Input, Classes: n.Classes}
	var folds []Fold
	for i := 0; i < len(n.Layers); i++ {
		src := n.Layers[i]
		j := len(out.Layers)
		l := &Layer{Spec: src.Spec, Index: j, In: src.In, Out: src.Out}
		out.Layers = append(out.Layers, l)
		var bn *Layer
		if (src.Spec.Type == "conv2d" || src.Spec.Type == "dense") && i+1 < len(n.Layers) && n.Layers[i+1].Spec.Type == "batchnorm" {
			bn = n.Layers[i+1]
		}
		switch {
		case bn != nil:
			var bias []float32
			if src.Bias != nil {
				bias = src.Bias.Data()
			}
			w, b := FoldScaleShift(src.Weight.Data(), bias, bn.Weight.Data(), bn.Bias.Data(), bn.BN.RunningMean, bn.BN.RunningVar, bn.BN.Eps)
			t := true
			l.Spec.Bias = &t
			l.Weight = copyParam(src.Weight, j, "weight", w)
			l.Bias = copyParam(&Param{Decay: false, T: tensor.New(tensor.WithShape(len(b)), tensor.Of(tensor.Float32))}, j, "bias", b)
			folds = append(folds, Fold{BN: i + 1, Into: i})
			i++ // the batch norm is gone
		case src.Spec.Type == "batchnorm":
			why := "it is the first layer"
			if i > 0 {
				why = fmt.Sprintf("it follows %s (layer %d), not a conv2d or dense layer", n.Layers[i-1].Describe(), i-1)
			}
			folds = append(folds, Fold{BN: i, Into: -1, Reason: why})
			fallthrough
		default:
			if src.Weight != nil {
				l.Weight = copyParam(src.Weight, j, "weight", src.Weight.Data())
			}
			if src.Bias != nil {
				l.Bias = copyParam(src.Bias, j, "bias", src.Bias.Data())
			}
			if src.BN != nil {
				st := *src.BN
				st.RunningMean = append([]float32(nil), src.BN.RunningMean...)
				st.RunningVar = append([]float32(nil), src.BN.RunningVar...)
				l.BN = &st
			}
		}
	}
	return out, folds
}

// Specs returns the layer list that describes the network (for its config).
func (n *Network) Specs() []config.Layer {
	s := make([]config.Layer, len(n.Layers))
	for i, l := range n.Layers {
		s[i] = l.Spec
	}
	return s
}

// copyParam makes parameter `<index>.<kind>` shaped like p holding values.
func copyParam(p *Param, index int, kind string, values []float32) *Param {
	return &Param{Name: fmt.Sprintf("%d.%s", index, kind), Decay: p.Decay,
		T: tensor.New(tensor.WithShape(p.T.Shape().Clone()...), tensor.WithBacking(append([]float32(nil), values...)))}
}
