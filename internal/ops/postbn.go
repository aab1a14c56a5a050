package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// PostBN is a batch norm at inference (with the ReLU and the pooling it
// runs) that the convolution before it applies to each image's output as
// soon as the image is done, while it is in cache: the convolution's full
// output — at batch 1000 the largest tensor of the pass — is never written
// to memory and read back. The convolution's node then takes γ and β too,
// and gives the batch norm's output. Inference only: a graph that takes
// gradients keeps the two ops.
type PostBN struct {
	BN   *BatchNorm
	img  []float32 // per worker: one image's convolution output
	arg  []int32   // per worker: a pooled plane's arg-maxima (not kept)
	size int       // one image's convolution output, O·OH·OW
	os   int       // one output plane
}

// NewPostBN makes bn, built for inference, the epilogue of a convolution.
func NewPostBN(bn *BatchNorm) *PostBN { return &PostBN{BN: bn} }

// prepare readies a call: the batch norm's scale and shift from γ and β,
// and scratch for nw workers' images of size values.
func (p *PostBN) prepare(gamma, beta []float32, size, nw int) {
	p.BN.inferenceAffine(gamma, beta)
	p.size = size
	p.os = p.BN.planeOut(size / len(p.BN.State.RunningMean))
	p.img = scratch.Grow(p.img, nw*size)
	if p.BN.pool != nil {
		p.arg = scratch.Grow(p.arg, nw*p.os)
	}
}

// run maps image b's convolution output yb (worker wk's) to its planes of
// the batch norm's output out.
func (p *PostBN) run(wk, b int, yb, out []float32) {
	bn, os := p.BN, p.os
	C := len(bn.State.RunningMean)
	S := p.size / C
	var arg []int32
	if bn.pool != nil {
		arg = p.arg[wk*os : (wk+1)*os]
	}
	for c := range C {
		i := b*C + c
		bn.emitPlane(yb[c*S:(c+1)*S], out[i*os:(i+1)*os], arg, bn.scale[c], bn.shift[c])
	}
}

// postSite is where a convolution meets its PostBN, if it has one: image
// gives the slice image b's output is computed into (the output's own
// slice without a PostBN, else worker wk's scratch), and done passes a
// finished image on.
type postSite struct{ Post *PostBN }

func (s postSite) image(y []float32, wk, b, size int) []float32 {
	if s.Post == nil {
		return y[b*size : (b+1)*size]
	}
	return s.Post.img[wk*size : (wk+1)*size]
}

func (s postSite) done(wk, b int, yb, out []float32) {
	if s.Post != nil {
		s.Post.run(wk, b, yb, out)
	}
}

// arity, typ, apply and shape extend a convolution's node with γ and β
// when it has a PostBN.
func (s postSite) arity(conv int) int {
	if s.Post != nil {
		return conv + 2
	}
	return conv
}

func (s postSite) typ(hasBias bool) hm.Type {
	in := []int{4, 4}
	if hasBias {
		in = append(in, 1)
	}
	if s.Post != nil {
		in = append(in, 1, 1)
	}
	return fnType(4, in...)
}

func (s postSite) apply(op G.Op, hasBias bool, x, w, b, gamma, beta *G.Node) (*G.Node, error) {
	in := []*G.Node{x, w}
	if hasBias {
		in = append(in, b)
	}
	if s.Post != nil {
		in = append(in, gamma, beta)
	}
	return G.ApplyOp(op, in...)
}

func (s postSite) shape(conv tensor.Shape) (tensor.Shape, error) {
	if s.Post == nil {
		return conv, nil
	}
	return s.Post.BN.InferShape(conv)
}

// begin prepares a call with inputs ds (γ and β the last two) for images
// of size values on nw workers, and returns the output buffer's shape:
// the convolution's, or the batch norm's for it.
func (s postSite) begin(ds [][]float32, conv tensor.Shape, nw int) ([]int, error) {
	if s.Post == nil {
		return conv, nil
	}
	if s.Post.BN.Training {
		return nil, fmt.Errorf("%s: only an inference batch norm runs inside a convolution", s.Post.BN.name)
	}
	out, err := s.Post.BN.InferShape(conv) // sets the pooling's geometry prepare reads
	if err != nil {
		return nil, err
	}
	s.Post.prepare(ds[len(ds)-2], ds[len(ds)-1], conv[1]*conv[2]*conv[3], nw)
	return out, nil
}

// finishAll runs the PostBN over a whole batch computed into full (the
// paths that do not go image by image).
func (s postSite) finishAll(full, out []float32, B int) {
	parallel.For(B, func(wk, lo, hi int) {
		for b := lo; b < hi; b++ {
			s.Post.run(wk, b, full[b*s.Post.size:(b+1)*s.Post.size], out)
		}
	})
}
