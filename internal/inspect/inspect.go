// Package inspect looks inside a trained network: it draws the learned
// filters, the feature maps an input produces at every convolution and
// pooling, which input pixels the decision is most sensitive to (a
// saliency map, Simonyan et al. 2013) and where the last convolution found
// the evidence (Grad-CAM, Selvaraju et al. 2017), and puts them on one HTML
// page. The activations and gradients come from the network's own Gorgonia
// graph (model.Probe), so they are what training and prediction compute.
package inspect

import (
	"fmt"
	"math"
	"slices"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/eval"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/model/layers"
)

// Look is what one input does inside a network.
type Look struct {
	Pixels  []uint8   // the preprocessed input, C×H×W, as the dataset holds it
	Input   []float32 // the same, normalised: what the network is fed
	Probs   []float64 // softmax of the logits
	Class   int       // the class explained: the predicted one unless asked
	Outputs [][]float32
	// Saliency is |∂score/∂input|, the largest over channels, H×W, scaled
	// to [0,1] by its maximum; score is the class's logit.
	Saliency []float32
	// CAM is Grad-CAM at layer CAMLayer, upsampled to H×W and scaled to
	// [0,1]: ReLU(Σ_k α_k·A_k) with α_k the mean over the map of
	// ∂score/∂A_k. Nil when the network has no convolution.
	CAM      []float32
	CAMLayer int
	// CAMZero says the weighted maps were nowhere positive (CAM all zero).
	CAMZero bool
}

// CAMLayer is the layer Grad-CAM explains: the last convolution's output,
// or the batch norm and activations that alone follow it (the rectified
// maps of the paper); −1 if there is no convolution with a spatial output.
func CAMLayer(n *model.Network) int {
	at := -1
	for i, l := range n.Layers {
		if f := l.Kind.Family; (f == layers.Conv || f == layers.ConvTranspose) && len(l.Out) == 3 {
			at = i
		}
	}
	if at < 0 {
		return -1
	}
	consumers := n.Consumers()
	for {
		c := consumers[at]
		if len(c) != 1 || n.Layers[c[0]].Kind.Family != layers.Pointwise || c[0] == len(n.Layers)-1 {
			return at
		}
		at = c[0]
	}
}

// Examine runs one preprocessed input (C×H×W pixels) through the network
// and explains class (−1: the predicted class).
func Examine(n *model.Network, norm data.Norm, px []uint8, class int) (*Look, error) {
	c, h, w := n.Input[0], n.Input[1], n.Input[2]
	if len(px) != c*h*w {
		return nil, fmt.Errorf("input has %d values, the network takes %d×%d×%d", len(px), c, h, w)
	}
	if class >= n.Classes {
		return nil, fmt.Errorf("class %d: the network has %d classes", class, n.Classes)
	}
	at := CAMLayer(n)
	p, err := n.BuildProbe(1, at)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ds := &data.Dataset{Shape: [3]int{c, h, w}, Images: px, Labels: []int{0}}
	x := p.Input.Data().([]float32)
	data.NewBatcher(ds, norm).Fill(x, nil, []int{0})
	sel := p.Select.Data().([]float32)
	if err := p.Run(); err != nil { // the forward pass gives the prediction
		return nil, err
	}
	lk := &Look{Pixels: px, Input: slices.Clone(x), Probs: eval.Softmax(p.LogitsData()), Class: class, CAMLayer: at}
	if lk.Class < 0 {
		lk.Class = eval.Argmax(p.LogitsData())
	}
	sel[lk.Class] = 1
	if err := p.Run(); err != nil {
		return nil, err
	}
	for i := range n.Layers {
		lk.Outputs = append(lk.Outputs, slices.Clone(p.OutputData(i)))
	}
	lk.Saliency = saliency(p.InputGradData(), c, h*w)
	if at >= 0 {
		out := n.Layers[at].Out
		cam := gradCAM(lk.Outputs[at], p.LayerGradData(), out[0], out[1]*out[2])
		lk.CAMZero = slices.Max(cam) <= 0
		lk.CAM = normalise(bilinear(cam, out[1], out[2], h, w))
	}
	return lk, nil
}

// saliency is the largest |gradient| over the channels of each pixel,
// scaled to [0,1].
func saliency(g []float32, c, plane int) []float32 {
	s := make([]float32, plane)
	for ch := range c {
		for i, v := range g[ch*plane : (ch+1)*plane] {
			s[i] = max(s[i], float32(math.Abs(float64(v))))
		}
	}
	return normalise(s)
}

// gradCAM weighs each of the k maps A_k (plane values each) by the mean of
// its gradient and keeps the positive part of the sum.
func gradCAM(a, g []float32, k, plane int) []float32 {
	cam := make([]float32, plane)
	for ch := range k {
		var alpha float64
		for _, v := range g[ch*plane : (ch+1)*plane] {
			alpha += float64(v)
		}
		alpha /= float64(plane)
		for i, v := range a[ch*plane : (ch+1)*plane] {
			cam[i] += float32(alpha) * v
		}
	}
	for i, v := range cam {
		cam[i] = max(v, 0)
	}
	return cam
}

// bilinear resizes an h×w map to oh×ow, sampling at pixel centres (as
// image libraries and PyTorch's align_corners=False do).
func bilinear(m []float32, h, w, oh, ow int) []float32 {
	out := make([]float32, oh*ow)
	coord := func(o, n, on int) (int, int, float32) {
		f := (float64(o)+0.5)*float64(n)/float64(on) - 0.5
		f = max(0, min(f, float64(n-1)))
		i0 := int(f)
		i1 := min(i0+1, n-1)
		return i0, i1, float32(f - float64(i0))
	}
	for y := range oh {
		y0, y1, fy := coord(y, h, oh)
		for x := range ow {
			x0, x1, fx := coord(x, w, ow)
			top := m[y0*w+x0]*(1-fx) + m[y0*w+x1]*fx
			bot := m[y1*w+x0]*(1-fx) + m[y1*w+x1]*fx
			out[y*ow+x] = top*(1-fy) + bot*fy
		}
	}
	return out
}

// normalise scales non-negative values in place so the largest is 1.
func normalise(v []float32) []float32 {
	if m := slices.Max(v); m > 0 {
		for i := range v {
			v[i] /= m
		}
	}
	return v
}
