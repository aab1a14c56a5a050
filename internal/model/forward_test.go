package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/cnnctl/cnnctl/internal/ops"
)

// TestForwardMatchesTape runs every shipped network's inference graph both
// ways — its ops directly, and on Gorgonia's tape machine — and wants the
// same logits, bit for bit (the same ops on the same buffers in an order
// that respects the same dependencies).
func TestForwardMatchesTape(t *testing.T) {
	forEachShippedNet(t, func(t *testing.T, n *Network) {
		direct, tape := bothWays(t, func() (*Graph, error) { return n.BuildInference(3) })
		for round := range 2 { // the second run reuses every buffer
			runBoth(t, direct, tape)
			sameBits(t, fmt.Sprintf("round %d, logits", round), direct.LogitsData(), tape.LogitsData())
		}
	})
}

// TestTrainForwardMatchesTape is TestForwardMatchesTape for training
// graphs: every shipped network's loss, logits and every gradient, run
// directly and on Gorgonia's tape machine, bit for bit, twice.
func TestTrainForwardMatchesTape(t *testing.T) {
	forEachShippedNet(t, func(t *testing.T, n *Network) {
		direct, tape := bothWays(t, func() (*Graph, error) { return n.BuildTrain(4, rand.New(rand.NewPCG(5, 5))) })
		for round := range 2 {
			runBoth(t, direct, tape)
			if a, b := direct.LossValue(), tape.LossValue(); math.Float32bits(a) != math.Float32bits(b) || a == 0 {
				t.Fatalf("round %d: loss %v directly, %v on the tape", round, a, b)
			}
			sameBits(t, fmt.Sprintf("round %d, logits", round), direct.LogitsData(), tape.LogitsData())
			for i := range direct.Grads {
				sameBits(t, fmt.Sprintf("round %d, gradient %d", round, i), direct.GradData(i), tape.GradData(i))
			}
		}
	})
}

// bothWays builds a graph twice, the second to run on Gorgonia's tape
// machine, with the same random input (and labels).
func bothWays(t *testing.T, build func() (*Graph, error)) (direct, tape *Graph) {
	t.Helper()
	direct, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if tape, err = build(); err != nil {
		t.Fatal(err)
	}
	tape.fwd, tape.vm = nil, G.NewTapeMachine(tape.g)
	t.Cleanup(func() { tape.Close() })
	classes := direct.Logits.Shape()[1]
	fillRandom(direct, classes)
	fillRandom(tape, classes)
	return direct, tape
}

func runBoth(t *testing.T, gs ...*Graph) {
	t.Helper()
	for _, g := range gs {
		if err := g.Run(); err != nil {
			t.Fatal(err)
		}
	}
}

// sameBits fails unless a and b hold the same, non-empty, floats bit for bit.
func sameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%s: %d and %d values", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s[%d]: %v directly, %v on the tape", what, i, a[i], b[i])
		}
	}
}

// forEachShippedNet runs f on the network of every shipped config (but a
// sweep's base config, whose network is one of the others).
func forEachShippedNet(t *testing.T, f func(t *testing.T, n *Network)) {
	paths, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped configs: %v", err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		if strings.HasPrefix(name, "sweep-") {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) { f(t, shippedNet(t, name)) })
	}
}

// TestFixedInference: a graph built for fixed parameters answers as an
// inference graph does, bit for bit, at batch 1 (the convolutions' path
// that checks its packed filters) and batch 8 (the dense layers' GEMM on
// packed weights), and it packs the filters once: changed afterwards, they
// change the inference graph's answer but not its own — the contract
// BuildFixedInference states (its callers never change them). The dense
// layer's side: TestDenseFixedParams.
func TestFixedInference(t *testing.T) {
	for _, batch := range []int{1, 8} {
		n := shippedNet(t, "lenet-bn-mnist.yaml")
		plain, err := n.BuildInference(batch)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		fixed, err := n.BuildFixedInference(batch)
		if err != nil {
			t.Fatal(err)
		}
		defer fixed.Close()
		logits := func(g *Graph) []float32 {
			fillRandom(g, n.Classes)
			if err := g.Run(); err != nil {
				t.Fatal(err)
			}
			return slices.Clone(g.LogitsData())
		}
		want, got := logits(plain), logits(fixed)
		if !slices.Equal(got, want) {
			t.Fatalf("batch %d: fixed %v, inference graph %v", batch, got[:4], want[:4])
		}
		for _, l := range n.Layers {
			if l.Spec.Type == "conv2d" {
				for i, v := range l.Weight.Data() {
					l.Weight.Data()[i] = 2 * v
				}
			}
		}
		changed := logits(plain)
		if slices.Equal(changed, want) {
			t.Fatalf("batch %d: doubling the filters did not change the inference graph's logits", batch)
		}
		if got := logits(fixed); !slices.Equal(got, want) {
			t.Errorf("batch %d: the fixed graph repacked its filters (logits %v, were %v)", batch, got[:4], want[:4])
		}
	}
}

// TestGradSumsRunVectorised checks what becomes of the sums G.Grad makes
// where a value has two consumers (each ResNet block's input feeds its
// first convolution and its join): where the value is a ReLU's output, the
// ReLU's gradient sums the two terms itself (the stage outputs: three),
// and the others run as ops.Add (the stem's output, whose ReLU is inside
// its batch norm) — none as Gorgonia's scalar addition. The ReLU after
// each join runs inside it.
func TestGradSumsRunVectorised(t *testing.T) {
	g, err := shippedNet(t, "resnet-mnist.yaml").BuildTrain(2, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	sums, gorgonia, joins, masks := 0, 0, 0, 0
	for _, st := range g.fwd.steps {
		switch name := st.node.Op().String(); {
		case st.sum != nil:
			sums++
		case ops.IsGradSum(st.node.Op()):
			gorgonia++
		case strings.HasPrefix(name, "add_relu:") && strings.HasSuffix(name, ".dX") && len(st.in) == 3:
			masks++
		case strings.HasPrefix(name, "add_relu:") && !strings.HasSuffix(name, ".dX"):
			joins++
		}
	}
	if sums != 1 || gorgonia != 0 || masks != 3 || joins != 4 {
		t.Errorf("%d sums by ops.Add, %d by Gorgonia, %d inside ReLU gradients, %d joins with their ReLU; want 1, 0, 3, 4",
			sums, gorgonia, masks, joins)
	}
}
