package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
)

func parseModel(t *testing.T, layers string) *config.Config {
	t.Helper()
	doc := "data: {source: xo, shape: [1, 12, 12]}\nmodel:\n" + layers + "train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"
	if strings.HasPrefix(layers, "blocks:") {
		blocks, model, _ := strings.Cut(layers, "model:\n")
		doc = blocks + "data: {source: xo, shape: [1, 12, 12]}\nmodel:\n" + model + "train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"
	}
	c, err := config.Parse("m.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// graphLayers is a smooth graph network: a residual block used twice (with
// a batch norm before its add), Inception-style branches (1×1, dilated,
// depthwise, average pooling) joined by concat, a transposed convolution,
// global pooling and a flat concat. (Global max pooling's kinks are too
// close together here for finite differences: its op test has distinct
// inputs.)
const graphLayers = `blocks:
  res:
    - {type: conv2d, filters: 3, kernel: 3, padding: 1}
    - {type: tanh}
    - {type: conv2d, filters: 3, kernel: [3, 1], padding: [1, 0], bias: false}
    - {type: batchnorm, name: bn}
    - {type: add, inputs: [bn, input]}
    - {type: tanh}
model:
  - {type: conv2d, name: stem, filters: 3, kernel: 3, padding: 1}
  - {type: block, block: res, name: res1}
  - {type: block, block: res, name: res2}
  - {type: conv2d, name: b1, filters: 2, kernel: 1}
  - {type: conv2d, name: b2, filters: 2, kernel: 3, padding: 2, dilation: 2, inputs: [res2]}
  - {type: conv2d, name: b3, filters: 3, kernel: 3, padding: 1, groups: 3, inputs: [res2]}
  - {type: avgpool, name: b4, kernel: 3, stride: 1, padding: 1, inputs: [res2]}
  - {type: concat, inputs: [b1, b2, b3, b4]}
  - {type: avgpool, kernel: 2, ceil_mode: true}
  - {type: conv_transpose2d, filters: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}
  - {type: batchnorm}
  - {type: sigmoid, name: s}
  - {type: global_avgpool, name: gap}
  - {type: global_avgpool, name: gmp, inputs: [b4]}
  - {type: concat, inputs: [gap, gmp]}
  - {type: dense, units: 3}
`

const allLayers = `  - {type: conv2d, filters: 3, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: leaky_relu, alpha: 0.1}
  - {type: maxpool, kernel: 2}
  - {type: conv2d, filters: 4, kernel: 3, stride: 2, bias: false}
  - {type: tanh}
  - {type: avgpool, kernel: 3, stride: 1, padding: 1}
  - {type: flatten}
  - {type: dense, units: 6}
  - {type: batchnorm}
  - {type: sigmoid}
  - {type: dense, units: 5}
  - {type: relu}
  - {type: dense, units: 3}
`

func TestShapes(t *testing.T) {
	c := parseModel(t, allLayers)
	n, err := New(c.Layers(), c.Data.Shape, 3, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"3×12×12", "3×12×12", "3×12×12", "3×6×6", "4×2×2", "4×2×2", "4×2×2", "16", "6", "6", "6", "5", "5", "3"}
	for i, l := range n.Layers {
		if got := ShapeString(l.Out); got != want[i] {
			t.Errorf("layer %d (%s): shape %s, want %s", i, l.Spec.Type, got, want[i])
		}
	}
	if n.Layers[4].Bias != nil || n.Layers[4].Weight.Name != "4.weight" {
		t.Errorf("conv without bias: %+v", n.Layers[4])
	}
	// 3·1·9+3 + 3+3 + 4·3·9 + 16·6+6 + 6+6 + 6·5+5 + 5·3+3
	if got := n.NumParams(); got != 30+6+108+102+12+35+18 {
		t.Errorf("%d parameters", got)
	}
}

func TestShapeErrors(t *testing.T) {
	cases := []struct{ layers, want string }{
		{"  - {type: conv2d, filters: 2, kernel: 13}\n  - {type: flatten}\n  - {type: dense, units: 2}\n",
			"layer 0 (conv2d): kernel 13×13 is larger than its input 1×12×12 (padding 0)"},
		{"  - {type: dense, units: 2}\n", "layer 0 (dense): needs a flat input, but its input is 1×12×12; add a flatten layer before it"},
		{"  - {type: flatten}\n  - {type: conv2d, filters: 2, kernel: 3}\n  - {type: dense, units: 2}\n",
			"layer 1 (conv2d): needs a C×H×W input, but its input is flat (144)"},
		{"  - {type: flatten}\n  - {type: dense, units: 3}\n", "the model must end with a dense layer of 2 units"},
		{"  - {type: flatten}\n  - {type: dense, units: 2}\n  - {type: relu}\n", "layer 2 (relu): the model must end with a dense layer"},
		{"  - {type: maxpool, kernel: 2, stride: 2}\n  - {type: maxpool, kernel: 2}\n  - {type: maxpool, kernel: 2}\n  - {type: maxpool, kernel: 2}\n  - {type: flatten}\n  - {type: dense, units: 2}\n",
			"layer 3 (maxpool): kernel 2×2 is larger than its input 1×1×1"},
	}
	for _, c := range cases {
		cfg := parseModel(t, c.layers)
		_, err := New(cfg.Layers(), cfg.Data.Shape, 2, rand.New(rand.NewPCG(1, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
		var le *LayerError
		if err != nil && strings.HasPrefix(c.want, "layer") && (!errors.As(err, &le) || le.Line == 0) {
			t.Errorf("error %v carries no line", err)
		}
	}
}

const smoothLayers = `  - {type: conv2d, filters: 3, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: tanh}
  - {type: avgpool, kernel: 2}
  - {type: conv2d, filters: 4, kernel: 3, stride: 2}
  - {type: sigmoid}
  - {type: flatten}
  - {type: dense, units: 6}
  - {type: batchnorm}
  - {type: tanh}
  - {type: dense, units: 3}
`

// TestNetworkGradients checks whole training graphs and the loss against
// central differences of the loss: a smooth network tightly, and one with
// every layer kind but dropout loosely (max pooling and ReLU kinks make the
// finite differences of early layers noisy; a wrong gradient is off by
// O(1)).
func TestNetworkGradients(t *testing.T) {
	for _, c := range []struct {
		name, layers string
		tol          float64
	}{{"smooth", smoothLayers, 1e-2}, {"all layers", allLayers, 0.2}, {"graph", graphLayers, 1e-2}} {
		t.Run(c.name, func(t *testing.T) { checkNetworkGradients(t, c.layers, c.tol) })
	}
}

// frozenLayers is smooth (the fused batch norm, ReLU and pooling that a
// frozen batch norm runs at inference has its own gradient check in ops).
const frozenLayers = `  - {type: conv2d, filters: 4, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: tanh}
  - {type: avgpool, kernel: 2}
  - {type: conv2d, filters: 3, kernel: 3}
  - {type: batchnorm}
  - {type: tanh}
  - {type: flatten}
  - {type: dense, units: 6}
  - {type: tanh}
  - {type: dense, units: 3}
`

// TestFrozenGradients checks training graphs with frozen layers: the
// gradients of what is trained still equal central differences, whether
// the frozen layer is a batch norm at its running statistics between two
// trained convolutions, a convolution in the middle, or the whole trunk;
// and the graph differentiates exactly the trainable parameters.
func TestFrozenGradients(t *testing.T) {
	for _, frozen := range [][]string{{}, {"1"}, {"4"}, {"0", "1", "2", "3", "4", "5"}, {"8", "10"}} {
		t.Run(strings.Join(frozen, ","), func(t *testing.T) {
			ids := map[string]bool{}
			for _, id := range frozen {
				ids[id] = true
			}
			checkNetworkGradients(t, frozenLayers, 1e-2, ids)
		})
	}
}

func checkNetworkGradients(t *testing.T, layers string, tol float64, frozen ...map[string]bool) {
	checkGradients(t, parseModel(t, layers), tol, frozen...)
}

func checkGradients(t *testing.T, c *config.Config, tol float64, frozen ...map[string]bool) {
	rng := rand.New(rand.NewPCG(2, 3))
	n, err := New(c.Layers(), c.Data.Shape, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range frozen {
		if err := n.Freeze(ids, true); err != nil {
			t.Fatal(err)
		}
		for _, l := range n.Layers {
			if l.BN != nil { // running statistics that are not the initial 0 and 1
				for c := range l.BN.RunningMean {
					l.BN.RunningMean[c], l.BN.RunningVar[c] = float32(rng.NormFloat64()*0.2), 0.5+rng.Float32()
				}
			}
		}
	}
	g, err := n.BuildTrain(6, rng)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for i := range g.Input.Data().([]float32) {
		g.Input.Data().([]float32)[i] = float32(rng.NormFloat64())
	}
	for i := range g.Labels.Data().([]float32) {
		g.Labels.Data().([]float32)[i] = float32(i % 3)
	}
	loss := func() float64 {
		if err := g.Run(); err != nil {
			t.Fatal(err)
		}
		return float64(g.LossValue())
	}
	loss()
	if len(g.Grads) != len(n.Trainable()) {
		t.Fatalf("%d gradients for %d trainable parameters", len(g.Grads), len(n.Trainable()))
	}
	const eps = 3e-3
	for pi, p := range n.Trainable() {
		analytic := append([]float32(nil), g.GradData(pi)...)
		w := p.Data()
		var maxErr, maxMag float64
		for _, i := range rng.Perm(len(w))[:min(len(w), 12)] {
			old := w[i]
			w[i] = old + eps
			lp := loss()
			w[i] = old - eps
			lm := loss()
			w[i] = old
			num := (lp - lm) / (2 * eps)
			maxErr = math.Max(maxErr, math.Abs(num-float64(analytic[i])))
			maxMag = math.Max(maxMag, math.Abs(num))
		}
		if rel := maxErr / math.Max(maxMag, 1e-2); rel > tol {
			t.Errorf("%s: relative gradient error %.3g > %.3g (max |grad| %.3g)", p.Name, rel, tol, maxMag)
		}
	}
}

func TestGraphsShareParameters(t *testing.T) {
	c := parseModel(t, allLayers)
	rng := rand.New(rand.NewPCG(4, 5))
	n, _ := New(c.Layers(), c.Data.Shape, 3, rng)
	tr, err := n.BuildTrain(4, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Labels.Data().([]float32) {
		tr.Labels.Data().([]float32)[i] = 1
	}
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	bn := n.Layers[1].BN
	mean := append([]float32(nil), bn.RunningMean...)
	if bn.NumBatches != 1 {
		t.Fatalf("num batches %d", bn.NumBatches)
	}
	// Building more graphs (Gorgonia's own BN would reset its statistics
	// here) leaves the statistics alone.
	inf1, _ := n.BuildInference(1)
	inf3, _ := n.BuildInference(3)
	tr2, _ := n.BuildTrain(2, rng)
	defer tr2.Close()
	for i := range mean {
		if bn.RunningMean[i] != mean[i] {
			t.Fatal("running statistics changed by building graphs")
		}
	}
	// The same example gives the same logits whatever the batch size.
	img := make([]float32, 144)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	copy(inf1.Input.Data().([]float32), img)
	copy(inf3.Input.Data().([]float32)[2*144:], img)
	if err := inf1.Run(); err != nil {
		t.Fatal(err)
	}
	if err := inf3.Run(); err != nil {
		t.Fatal(err)
	}
	a, b := inf1.LogitsData(), inf3.LogitsData()[6:]
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("logits differ across batch sizes: %v vs %v", a, b)
		}
	}
	// A change to a parameter is seen by every graph.
	before := append([]float32(nil), a...)
	for i := range n.Params()[0].Data() {
		n.Params()[0].Data()[i] *= 2
	}
	_ = inf1.Run()
	if inf1.LogitsData()[0] == before[0] {
		t.Error("inference graph did not see the parameter change")
	}
}

// TestParamsCountedBeforeAllocating: each kind's Params says exactly what
// its Init allocates, and a layer over the bound is refused before it is.
func TestParamsCountedBeforeAllocating(t *testing.T) {
	c := parseModel(t, allLayers)
	n, err := New(c.Layers(), c.Data.Shape, 3, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range n.Layers {
		if l.Kind.Params != nil && l.Kind.Params(l) != int64(l.NumParams()) {
			t.Errorf("%s: Params says %d, Init allocated %d", l.ID, l.Kind.Params(l), l.NumParams())
		}
	}
	huge := parseModel(t, "  - {type: flatten}\n  - {type: dense, units: 1000000000}\n  - {type: dense, units: 3}\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = New(huge.Layers(), huge.Data.Shape, 3, rand.New(rand.NewPCG(1, 1)))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "layer 1 (dense): the model would need more than 268435456 parameters by this layer (dense 1000000000 alone has 145000000000)") {
		t.Fatalf("a dense layer of 10⁹ units: %v", err)
	}
	if after.TotalAlloc-before.TotalAlloc > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
	}
}

// TestPlannedSummaryIsTheAllocatedOne: a planned network (shapes only)
// summarises exactly as the allocated one, frozen layers included.
func TestPlannedSummaryIsTheAllocatedOne(t *testing.T) {
	c := parseModel(t, frozenLayers)
	planned, err := Plan(c.Layers(), c.Data.Shape, 3)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := New(c.Layers(), c.Data.Shape, 3, rand.New(rand.NewPCG(1, 1)))
	for _, n := range []*Network{planned, full} {
		if err := n.Freeze(map[string]bool{"0": true, "1": true}, true); err != nil {
			t.Fatal(err)
		}
	}
	a, b := planned.Summarize(16, 32), full.Summarize(16, 32)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("planned %+v\nallocated %+v", a, b)
	}
	if a.Frozen == 0 || a.Trainable == 0 || a.TrainFLOPs == 0 {
		t.Fatalf("summary %+v", a)
	}
}
