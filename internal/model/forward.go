package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/ops"
)

// forward runs a graph's ops in dependency order, on the calling
// goroutine: an inference graph's, or a training graph's forward and
// backward ops (G.Grad has already made the backward pass ops of the
// graph). Gorgonia's tape machine does the same work, but its RunAll locks
// the caller's OS thread and runs the tape on a new goroutine, so every Run
// costs two thread hand-offs (futex wake-ups) — about a quarter of
// LeNet-BN's batch-1 pass — and the helper core waits through them. Every
// op here returns a buffer it owns, so a step allocates nothing beyond
// what the ops themselves do.
type forward struct {
	leaves []forwardLeaf // read afresh each run: inputs and parameters
	vals   []G.Value     // by slot: every leaf's and every step's value
	steps  []forwardStep
	outs   []int // the slots of the outputs asked for
}

type forwardLeaf struct {
	node *G.Node
	slot int
}

type forwardStep struct {
	node *G.Node
	in   []int     // slots of the op's inputs, in argument order
	args []G.Value // reused argument slice
	out  int
	sum  *ops.Add // runs the step instead of its Gorgonia op (see newForward)
}

// newForward orders the ops that outs depend on so that each runs after
// its inputs (a depth-first walk from each output in turn; residual and
// branch joins, and the nodes outputs share, are reached more than once
// and kept once).
func newForward(outs ...*G.Node) (*forward, error) {
	f := &forward{}
	slot := map[*G.Node]int{}
	var visit func(n *G.Node) (int, error)
	visit = func(n *G.Node) (int, error) {
		if s, ok := slot[n]; ok {
			if s < 0 {
				return 0, fmt.Errorf("the graph has a cycle at %v", n)
			}
			return s, nil
		}
		kids := children(n)
		if n.Op() == nil || len(kids) == 0 {
			if n.Value() == nil {
				return 0, fmt.Errorf("graph leaf %v has no value", n)
			}
			s := len(f.vals)
			f.vals = append(f.vals, nil)
			f.leaves = append(f.leaves, forwardLeaf{n, s})
			slot[n] = s
			return s, nil
		}
		slot[n] = -1 // on the walk's path
		st := forwardStep{node: n, in: make([]int, len(kids)), args: make([]G.Value, len(kids))}
		if ops.GradSumTerms(n) != nil {
			// The sum G.Grad made of n's gradients: Gorgonia's Do is a
			// scalar loop on one core, over tensors as large as the
			// activations; ops.Add gives the same sums (each rounded once)
			// vectorised on all of them.
			st.sum = ops.NewSum(n.Name(), len(kids))
		}
		for i, k := range kids {
			s, err := visit(k)
			if err != nil {
				return 0, err
			}
			st.in[i] = s
		}
		st.out = len(f.vals)
		f.vals = append(f.vals, nil)
		f.steps = append(f.steps, st)
		slot[n] = st.out
		return st.out, nil
	}
	for _, out := range outs {
		s, err := visit(out)
		if err != nil {
			return nil, err
		}
		f.outs = append(f.outs, s)
	}
	return f, nil
}

// run executes every step once.
func (f *forward) run() error {
	for _, l := range f.leaves {
		f.vals[l.slot] = l.node.Value()
	}
	for i := range f.steps {
		st := &f.steps[i]
		for k, s := range st.in {
			st.args[k] = f.vals[s]
		}
		var v G.Value
		var err error
		if st.sum != nil {
			v, err = st.sum.Do(st.args...)
		} else if pd, ok := st.node.Op().(G.UsePreallocDoer); ok && f.vals[st.out] != nil {
			// Gorgonia's own ops allocate in Do: into last run's value
			// instead, as the tape machine does.
			v, err = pd.UsePreallocDo(f.vals[st.out], st.args...)
		} else {
			v, err = st.node.Op().Do(st.args...)
		}
		if err != nil {
			return fmt.Errorf("running %v: %w", st.node.Op(), err)
		}
		f.vals[st.out] = v
	}
	return nil
}

// output returns output i's value from the last run.
func (f *forward) output(i int) G.Value { return f.vals[f.outs[i]] }

// children returns n's inputs in argument order (Gorgonia exports them only
// through the graph's edge iterator, which keeps that order).
func children(n *G.Node) []*G.Node {
	it := n.Graph().From(n.ID())
	kids := make([]*G.Node, 0, it.Len())
	for it.Next() {
		kids = append(kids, it.Node().(*G.Node))
	}
	return kids
}
