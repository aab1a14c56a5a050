package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
)

// SoftmaxCrossEntropy is the mean over the batch of −log softmax(z)[label]
// for logits z (B,K) and labels (B) holding class indices as float32. It is
// one op, computed with the log-sum-exp shift, so it neither overflows nor
// depends on a separate softmax node (Gorgonia's SoftMax and LogSoftMax
// share a hash and can be merged).
//
// With Loss settings it is PyTorch's CrossEntropyLoss(weight, label_smoothing):
// for row b with label y, ε the smoothing and w the class weights,
//
//	ℓ_b = (1−ε)·w_y·(−log p_y) + (ε/K)·Σ_k w_k·(−log p_k),  loss = Σ_b ℓ_b / Σ_b w_{y_b}
type SoftmaxCrossEntropy struct {
	base
	Loss
	classes int
	prob    []float32 // softmax, kept for the backward pass
	wsum    float64   // Σ_b w_{y_b} of the last batch
	loss    G.F32
}

// Loss holds the settings of the cross-entropy: label smoothing ε in
// [0,1) and per-class weights (nil: all 1).
type Loss struct {
	Smoothing float64
	Weights   []float32
}

func NewSoftmaxCrossEntropy(name string) *SoftmaxCrossEntropy {
	return &SoftmaxCrossEntropy{base: newBase("softmax_xent:" + name)}
}

// weight is class k's weight.
func (l *Loss) weight(k int) float64 {
	if l.Weights == nil {
		return 1
	}
	return float64(l.Weights[k])
}

func (op *SoftmaxCrossEntropy) Apply(logits, labels *G.Node) (*G.Node, error) {
	return G.ApplyOp(op, logits, labels)
}

func (op *SoftmaxCrossEntropy) Arity() int { return 2 }
func (op *SoftmaxCrossEntropy) Type() hm.Type {
	return hm.NewFnType(tt(2), tt(1), tensor.Float32)
}
func (op *SoftmaxCrossEntropy) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	zs, ls, err := twoShapes(in)
	if err != nil {
		return nil, err
	}
	if len(zs) != 2 || len(ls) != 1 || ls[0] != zs[0] {
		return nil, fmt.Errorf("%s: logits %v and labels %v do not fit", op.name, zs, ls)
	}
	op.classes = zs[1]
	return tensor.ScalarShape(), nil
}

// labelIndex checks that a float label is a class index in [0,K).
func labelIndex(v float32, k int) (int, error) {
	i := int(v)
	if float32(i) != v || i < 0 || i >= k {
		return 0, fmt.Errorf("label %v is not a class index in [0,%d)", v, k)
	}
	return i, nil
}

func (op *SoftmaxCrossEntropy) Do(vs ...G.Value) (G.Value, error) {
	ds, ss, err := inputs(op.name, 2, vs)
	if err != nil {
		return nil, err
	}
	z, labels := ds[0], ds[1]
	B, K := ss[0][0], ss[0][1]
	if op.Weights != nil && len(op.Weights) != K {
		return nil, fmt.Errorf("%s: %d class weights for %d classes", op.name, len(op.Weights), K)
	}
	op.prob = scratch.Grow(op.prob, B*K)
	eps := op.Smoothing
	var total, wsum float64
	for b := range B {
		y, err := labelIndex(labels[b], K)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", op.name, b, err)
		}
		zb := z[b*K : (b+1)*K]
		nll := LogSoftmaxRow(zb, op.prob[b*K:(b+1)*K], y)
		wy := op.weight(y)
		row := (1 - eps) * wy * nll
		if eps > 0 {
			// −log p_k = −log p_y + z_y − z_k, without the underflow of log p_k.
			var smooth float64
			for k, v := range zb {
				smooth += op.weight(k) * (nll + float64(zb[y]-v))
			}
			row += eps / float64(K) * smooth
		}
		total += row
		wsum += wy
	}
	op.wsum = wsum
	op.loss = G.F32(total / wsum)
	return &op.loss, nil
}

// LogSoftmaxRow writes softmax(z) into p and returns −log p[y], computed in
// float64 after subtracting max(z).
func LogSoftmaxRow(z, p []float32, y int) float64 {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	var s float64
	for i, v := range z {
		e := math.Exp(float64(v - m))
		p[i] = float32(e)
		s += e
	}
	for i := range p {
		p[i] = float32(float64(p[i]) / s)
	}
	return math.Log(s) - float64(z[y]-m)
}

func (op *SoftmaxCrossEntropy) DiffWRT(int) []bool { return []bool{true, false} }

func (op *SoftmaxCrossEntropy) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&softmaxCEGrad{gradBase: newGradBase(op.name + ".dZ"), fwd: op}, in[1], grad)
	return G.Nodes{dz, nil}, err
}

// softmaxCEGrad computes dz = g·(softmax(z) − onehot(label))/B, or with
// the loss settings dz_j = g·[(1−ε)·w_y·(p_j − δ_jy) + (ε/K)·(p_j·Σ_k w_k − w_j)] / Σ_b w_{y_b}.
type softmaxCEGrad struct {
	gradBase
	fwd *SoftmaxCrossEntropy
	out buffer
}

func (op *softmaxCEGrad) Arity() int { return 2 }
func (op *softmaxCEGrad) Type() hm.Type {
	return hm.NewFnType(tt(1), hm.TypeVariable('a'), tt(2))
}
func (op *softmaxCEGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ls, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{ls[0], op.fwd.classes}, nil
}

func (op *softmaxCEGrad) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 2 {
		return nil, fmt.Errorf("%s: expected 2 inputs", op.name)
	}
	labels, _, err := f32(vs[0])
	if err != nil {
		return nil, err
	}
	g, err := scalarF32(vs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	B, K := len(labels), op.fwd.classes
	if len(op.fwd.prob) != B*K {
		return nil, fmt.Errorf("%s: forward pass has not run", op.name)
	}
	out := op.out.get(B, K)
	dz := out.Data().([]float32)
	f := op.fwd
	if f.Smoothing == 0 && f.Weights == nil {
		s := g / float32(B)
		for b := range B {
			for k := range K {
				dz[b*K+k] = s * f.prob[b*K+k]
			}
			dz[b*K+int(labels[b])] -= s
		}
		return out, nil
	}
	eps, s := f.Smoothing, float64(g)/f.wsum
	var wall float64 // Σ_k w_k
	for k := range K {
		wall += f.weight(k)
	}
	for b := range B {
		y := int(labels[b])
		wy := f.weight(y)
		for j := range K {
			p := float64(f.prob[b*K+j])
			v := (1 - eps) * wy * p
			if j == y {
				v -= (1 - eps) * wy
			}
			v += eps / float64(K) * (p*wall - f.weight(j))
			dz[b*K+j] = float32(s * v)
		}
	}
	return out, nil
}
