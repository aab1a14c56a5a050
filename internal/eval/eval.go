// Package eval measures a network on a labelled dataset: loss, accuracy,
// per-class precision, recall and F1, and the confusion matrix, printed as a
// table, as JSON, or drawn as a heat map.
package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/ops"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// ClassStats are one class's figures.
type ClassStats struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Result is a network's performance on a dataset. Confusion[i][j] counts
// examples of true class i predicted as class j.
type Result struct {
	N         int          `json:"n"`
	Loss      float64      `json:"loss"`
	Accuracy  float64      `json:"accuracy"`
	PerClass  []ClassStats `json:"per_class"`
	Confusion [][]int      `json:"confusion"`
	Classes   []string     `json:"classes"`
}

// Runner evaluates batches with one inference graph, reused across calls.
type Runner struct {
	net   *model.Network
	graph *model.Graph
}

// NewRunner builds an inference graph of the given batch size.
func NewRunner(net *model.Network, batch int) (*Runner, error) {
	g, err := net.BuildInference(batch)
	return newRunner(net, g, err)
}

// NewFixedRunner is NewRunner for a network whose parameters do not change
// while the runner lives (a loaded checkpoint: predict, serve, eval): see
// model.BuildFixedInference.
func NewFixedRunner(net *model.Network, batch int) (*Runner, error) {
	g, err := net.BuildFixedInference(batch)
	return newRunner(net, g, err)
}

func newRunner(net *model.Network, g *model.Graph, err error) (*Runner, error) {
	if err != nil {
		return nil, err
	}
	return &Runner{net: net, graph: g}, nil
}

// Warm runs the graph once on whatever its input holds, so that its
// buffers are in memory before the first real batch (a server's first
// request at a new batch size is then not the one that pays for them).
func (r *Runner) Warm() error { return r.graph.Run() }

// Close releases the graph.
func (r *Runner) Close() error { return r.graph.Close() }

// Evaluate runs the whole dataset through the network.
func (r *Runner) Evaluate(d *data.Dataset, norm data.Norm, classes []string) (*Result, error) {
	k := r.net.Classes
	res := &Result{N: d.Len(), Classes: classes, Confusion: make([][]int, k)}
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, k)
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("the dataset is empty")
	}
	prob := make([]float32, k)
	var lossSum float64
	correct := 0
	err := r.forEachBatch(d, norm, func(idx []int, logits []float32) error {
		for row, i := range idx {
			y := d.Labels[i]
			if y >= k {
				return fmt.Errorf("example %d has label %d, but the model has %d classes", i, y, k)
			}
			z := logits[row*k : (row+1)*k]
			lossSum += ops.LogSoftmaxRow(z, prob, y)
			p := Argmax(z)
			res.Confusion[y][p]++
			if p == y {
				correct++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Loss = lossSum / float64(d.Len())
	res.Accuracy = float64(correct) / float64(d.Len())
	res.PerClass = perClass(res.Confusion, classes)
	return res, nil
}

// Softmax turns logits into probabilities (in float64, after subtracting
// the largest logit, so nothing overflows).
func Softmax(z []float32) []float64 {
	m := slices.Max(z)
	p := make([]float64, len(z))
	var s float64
	for i, v := range z {
		p[i] = math.Exp(float64(v - m))
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(z []float32) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

func perClass(conf [][]int, classes []string) []ClassStats {
	k := len(conf)
	stats := make([]ClassStats, k)
	for c := range k {
		tp, support, predicted := conf[c][c], 0, 0
		for j := range k {
			support += conf[c][j]
			predicted += conf[j][c]
		}
		s := ClassStats{Label: fmt.Sprint(c), Support: support}
		if c < len(classes) {
			s.Label = classes[c]
		}
		if predicted > 0 {
			s.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			s.Recall = float64(tp) / float64(support)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		stats[c] = s
	}
	return stats
}

// WriteJSON prints the result as one JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	return enc.Encode(r)
}

// WriteTable prints the summary, per-class table and confusion matrix.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "examples  %d\nloss      %.4f\naccuracy  %.2f%%\n\n", r.N, r.Loss, 100*r.Accuracy)
	width := 5
	for _, c := range r.PerClass {
		width = max(width, len(c.Label))
	}
	fmt.Fprintf(w, "%-*s  %9s  %9s  %9s  %7s\n", width, "class", "precision", "recall", "f1", "support")
	for _, c := range r.PerClass {
		fmt.Fprintf(w, "%-*s  %9.4f  %9.4f  %9.4f  %7d\n", width, c.Label, c.Precision, c.Recall, c.F1, c.Support)
	}
	fmt.Fprintf(w, "\nconfusion matrix (rows: true class, columns: predicted)\n")
	cell := 4
	for _, row := range r.Confusion {
		for _, v := range row {
			cell = max(cell, len(fmt.Sprint(v))+1)
		}
	}
	fmt.Fprintf(w, "%-*s", width, "")
	for _, c := range r.PerClass {
		fmt.Fprintf(w, " %*s", cell, trunc(c.Label, cell))
	}
	fmt.Fprintln(w)
	for i, row := range r.Confusion {
		fmt.Fprintf(w, "%-*s", width, r.PerClass[i].Label)
		for _, v := range row {
			fmt.Fprintf(w, " %*d", cell, v)
		}
		fmt.Fprintln(w)
	}
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:n])
}

// forEachBatch runs d through the graph in batches (the last one padded:
// inference does not mix examples) and calls fn with each batch's example
// indices and the logits of its rows.
func (r *Runner) forEachBatch(d *data.Dataset, norm data.Norm, fn func(idx []int, logits []float32) error) error {
	b := data.NewBatcher(d, norm)
	B := r.graph.Batch
	x := r.graph.Input.Data().([]float32)
	idx := make([]int, 0, B)
	for lo := 0; lo < d.Len(); lo += B {
		idx = idx[:0]
		for i := lo; i < min(lo+B, d.Len()); i++ {
			idx = append(idx, i)
		}
		b.FillWith(parallel.Range, x, nil, idx)
		if err := r.graph.Run(); err != nil {
			return err
		}
		if err := fn(idx, r.graph.LogitsData()); err != nil {
			return err
		}
	}
	return nil
}

// Logits returns the (N,K) logits of every example of d, in order.
func (r *Runner) Logits(d *data.Dataset, norm data.Norm) ([]float32, error) {
	k := r.net.Classes
	out := make([]float32, 0, d.Len()*k)
	err := r.forEachBatch(d, norm, func(idx []int, logits []float32) error {
		out = append(out, logits[:len(idx)*k]...)
		return nil
	})
	return out, err
}

// LogitsOf returns the (N,K) logits of inputs already normalised, each of
// the network's input size.
func (r *Runner) LogitsOf(inputs [][]float32) ([]float32, error) {
	k, B := r.net.Classes, r.graph.Batch
	x := r.graph.Input.Data().([]float32)
	size := len(x) / B
	out := make([]float32, 0, len(inputs)*k)
	for lo := 0; lo < len(inputs); lo += B {
		hi := min(lo+B, len(inputs))
		for i, in := range inputs[lo:hi] {
			if len(in) != size {
				return nil, fmt.Errorf("input %d has %d values, the network takes %d", lo+i, len(in), size)
			}
			copy(x[i*size:(i+1)*size], in)
		}
		if err := r.graph.Run(); err != nil {
			return nil, err
		}
		out = append(out, r.graph.LogitsData()[:(hi-lo)*k]...)
	}
	return out, nil
}

// Throughput times passes of one full batch (whatever the input holds) and
// returns the median images per second over passes runs, after a warm-up.
func (r *Runner) Throughput(passes int) (float64, error) {
	if err := r.graph.Run(); err != nil {
		return 0, err
	}
	times := make([]float64, passes)
	for i := range times {
		start := time.Now()
		if err := r.graph.Run(); err != nil {
			return 0, err
		}
		times[i] = time.Since(start).Seconds()
	}
	slices.Sort(times)
	return float64(r.graph.Batch) / times[passes/2], nil
}
