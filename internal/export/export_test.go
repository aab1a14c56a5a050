package export

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/nlpodyssey/safetensors"
)

// tool finds an external checker. Locally a missing tool skips the test; in
// CI (CI=true), where .ci/run installs them, it fails.
func tool(t *testing.T, what string, find func() (string, bool)) string {
	t.Helper()
	p, ok := find()
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run should have installed it", what)
		}
		t.Skipf("%s is not installed (.ci/run installs it)", what)
	}
	return p
}

func pythonWithONNX() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import onnx").Run() == nil {
			return py, true
		}
	}
	return "", false
}

func onnxRuntime() (string, bool) {
	dir, _ := filepath.Abs("../../tools/onnx")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node")); err != nil {
		return "", false
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", false
	}
	return dir, true
}

const (
	bnLayers = `  - {type: conv2d, filters: 4, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: conv2d, filters: 6, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 3}
`
	everyLayer = `  - {type: conv2d, filters: 3, kernel: 3, padding: 1, bias: false}
  - {type: batchnorm}
  - {type: leaky_relu, alpha: 0.1}
  - {type: maxpool, kernel: 3, stride: 2, padding: 1}
  - {type: conv2d, filters: 4, kernel: 3, stride: 2}
  - {type: tanh}
  - {type: avgpool, kernel: 3, stride: 1, padding: 1}
  - {type: flatten}
  - {type: dropout, rate: 0.3}
  - {type: dense, units: 6}
  - {type: batchnorm}
  - {type: sigmoid}
  - {type: dense, units: 5, bias: false}
  - {type: relu}
  - {type: dense, units: 3}
`
)

// graphBlocks and graphLayers use every kind of the graph era: a residual
// block (used twice), Inception-style branches joined by concat (1×1,
// dilated, depthwise, pooling), rectangular kernels, padding same, ceil
// mode, a transposed convolution, global pooling of both kinds, and batch
// norms before an add and after a transposed convolution.
const (
	graphBlocks = `blocks:
  res:
    - {type: conv2d, name: a, filters: 4, kernel: 3, padding: 1, bias: false}
    - {type: batchnorm}
    - {type: relu}
    - {type: conv2d, filters: 4, kernel: 3, padding: same, bias: false}
    - {type: batchnorm, name: bn2}
    - {type: add, inputs: [bn2, input]}
    - {type: relu}
`
	graphLayers = `  - {type: conv2d, name: stem, filters: 4, kernel: [3, 2], padding: [1, 0], bias: false}
  - {type: batchnorm}
  - {type: relu}
  - {type: block, block: res, name: res1}
  - {type: block, block: res, name: res2}
  - {type: conv2d, name: b1, filters: 2, kernel: 1, inputs: [res2]}
  - {type: conv2d, name: b2, filters: 4, kernel: 3, padding: 2, dilation: 2, inputs: [res2]}
  - {type: conv2d, name: b3, filters: 8, kernel: 3, padding: 1, groups: 4, inputs: [res2]}
  - {type: maxpool, name: b4, kernel: 3, stride: 1, padding: 1, inputs: [res2]}
  - {type: concat, inputs: [b1, b2, b3, b4]}
  - {type: maxpool, kernel: 2, ceil_mode: true}
  - {type: conv_transpose2d, filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}
  - {type: batchnorm}
  - {type: avgpool, kernel: [3, 2], stride: 2, padding: 1, ceil_mode: true}
  - {type: conv2d, name: head, filters: 5, kernel: 1}
  - {type: global_avgpool, name: gap}
  - {type: global_maxpool, name: gmp, inputs: [head]}
  - {type: concat, inputs: [gap, gmp]}
  - {type: dense, units: 3}
`
)

// signalLayers use every 1-D kind on 2×40 signals: strided, padded,
// dilated and grouped conv1d, both 1-D poolings (ceil mode, padding),
// batch norm on C×L (with a ReLU and pooling run inside it), global
// pooling of a signal, and a residual join.
const signalLayers = `  - {type: conv1d, name: stem, filters: 4, kernel: 7, stride: 2, padding: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: conv1d, filters: 4, kernel: 3, padding: same, bias: false}
  - {type: batchnorm, name: bn}
  - {type: add, inputs: [bn, stem]}
  - {type: maxpool1d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
  - {type: conv1d, filters: 6, kernel: 3, dilation: 2, padding: 2, groups: 2}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool1d, kernel: 2}
  - {type: conv1d, filters: 6, kernel: 3, padding: 1}
  - {type: tanh}
  - {type: avgpool1d, kernel: 2}
  - {type: conv1d, name: head, filters: 8, kernel: 1}
  - {type: global_avgpool, name: gap}
  - {type: global_maxpool, name: gmp, inputs: [head]}
  - {type: concat, inputs: [gap, gmp]}
  - {type: dense, units: 3}
`

// randomNet builds a network on 1×12×12 inputs (2×40 signals for
// signalLayers) with random weights and non-trivial batch-norm statistics.
func randomNet(t *testing.T, layers string, seed uint64) *model.Network {
	t.Helper()
	blocks, input := "", "data: {source: xo, shape: [1, 12, 12]}\n"
	switch layers {
	case graphLayers:
		blocks = graphBlocks
	case signalLayers:
		input = "data: {source: signals, dir: s.csv, shape: [2, 40]}\n"
	}
	c, err := config.Parse("e.yaml", []byte(blocks+input+"model:\n"+layers+"train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	n, err := model.New(c.Layers(), c.Data.Shape, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range n.Layers {
		if l.BN != nil {
			for i := range l.BN.RunningMean {
				l.BN.RunningMean[i] = float32(0.2 * rng.NormFloat64())
				l.BN.RunningVar[i] = float32(0.5 + rng.Float64())
				l.Weight.Data()[i] = float32(0.5 + rng.Float64())
				l.Bias.Data()[i] = float32(0.2 * rng.NormFloat64())
			}
		}
	}
	return n
}

func TestONNXMatchesCnnctl(t *testing.T) {
	py := tool(t, "python3 with onnx (Debian python3-onnx)", pythonWithONNX)
	ort := tool(t, "onnxruntime-node (tools/onnx, npm ci)", onnxRuntime)
	bn := randomNet(t, bnLayers, 1)
	fused, _ := model.FoldBatchNorm(bn)
	graph := randomNet(t, graphLayers, 5)
	graphFused, _ := model.FoldBatchNorm(graph)
	signals := randomNet(t, signalLayers, 7)
	signalsFused, _ := model.FoldBatchNorm(signals)
	for _, c := range []struct {
		name string
		net  *model.Network
	}{{"batchnorm", bn}, {"fused", fused}, {"every layer", randomNet(t, everyLayer, 2)},
		{"graph", graph}, {"graph fused", graphFused}, {"signals", signals}, {"signals fused", signalsFused}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.onnx")
			err := WriteONNX(path, Model{Net: c.net, Name: "m", Classes: []string{"a", "b", "c"}, Metadata: map[string]string{"k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "../../tools/onnx/check.py", path).CombinedOutput()
			if err != nil {
				t.Fatalf("onnx.checker: %v\n%s", err, out)
			}
			var info struct {
				IRVersion int               `json:"ir_version"`
				Opset     []int             `json:"opset"`
				Metadata  map[string]string `json:"metadata"`
				Ops       []string          `json:"ops"`
			}
			if err := json.Unmarshal(out, &info); err != nil {
				t.Fatal(err)
			}
			if info.IRVersion != 7 || !slices.Equal(info.Opset, []int{13}) || info.Metadata["classes"] != `["a","b","c"]` ||
				info.Metadata["k"] != "v" || slices.Contains(info.Ops, "Dropout") {
				t.Errorf("model info %+v", info)
			}
			// A batch of 5 (the graph's batch dimension is symbolic).
			const B = 5
			g, err := c.net.BuildInference(B)
			if err != nil {
				t.Fatal(err)
			}
			x := g.Input.Data().([]float32)
			rng := rand.New(rand.NewPCG(3, 3))
			raw := make([]byte, 4*len(x))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x[i]))
			}
			if err := g.Run(); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "x.f32")
			os.WriteFile(in, raw, 0o644)
			cmd := exec.Command("node", append([]string{filepath.Join(ort, "run.js"), path, in}, dims(B, c.net)...)...)
			cmd.Dir = ort
			res, err := cmd.Output()
			if err != nil {
				t.Fatalf("onnxruntime: %v", err)
			}
			var r struct {
				Logits []float64
				Dims   []int
			}
			if err := json.Unmarshal(res, &r); err != nil {
				t.Fatal(err)
			}
			compareLogits(t, "ONNX Runtime", r.Logits, r.Dims, g.LogitsData())
		})
	}
}

// dims is the input's shape on a command line: the batch, then the network's input.
func dims(batch int, n *model.Network) []string {
	d := []string{fmt.Sprint(batch)}
	for _, v := range n.Input {
		d = append(d, fmt.Sprint(v))
	}
	return d
}

func compareLogits(t *testing.T, who string, got []float64, dims []int, want []float32) {
	t.Helper()
	if len(got) != len(want) || !slices.Equal(dims, []int{5, 3}) {
		t.Fatalf("%s gave %v logits of %v", who, len(got), dims)
	}
	var maxDiff, maxAbs float64
	for i := range want {
		maxDiff = math.Max(maxDiff, math.Abs(got[i]-float64(want[i])))
		maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
	}
	t.Logf("max |Δlogit| cnnctl vs %s: %.3g (max |logit| %.3g)", who, maxDiff, maxAbs)
	if maxDiff > 1e-4 {
		t.Errorf("max |Δlogit| %.3g > 1e-4", maxDiff)
	}
}

func pythonWithTorch() (string, bool) {
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() == nil {
		return "/usr/bin/python3", true
	}
	return "", false
}

// TestPyTorchLoadsTheExport loads the safetensors export into the module
// PyTorchModule prints, strictly, and compares PyTorch's logits with
// cnnctl's: a chain (nn.Sequential), the graph network (an nn.Module with
// blocks nested) and its folded version.
func TestPyTorchLoadsTheExport(t *testing.T) {
	py := tool(t, "PyTorch (Debian python3-torch)", pythonWithTorch)
	graph := randomNet(t, graphLayers, 6)
	graphFused, _ := model.FoldBatchNorm(graph)
	signals := randomNet(t, signalLayers, 8)
	signalsFused, _ := model.FoldBatchNorm(signals)
	for _, c := range []struct {
		name string
		net  *model.Network
	}{{"every layer", randomNet(t, everyLayer, 3)}, {"graph", graph}, {"graph fused", graphFused},
		{"signals", signals}, {"signals fused", signalsFused}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			weights, module, in := filepath.Join(dir, "w.safetensors"), filepath.Join(dir, "m.py"), filepath.Join(dir, "x.f32")
			if err := WriteSafetensors(weights, Model{Net: c.net, Name: "m", Classes: []string{"a", "b", "c"}}); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(module, []byte(PyTorchModule(c.net)), 0o644)
			g, err := c.net.BuildInference(5)
			if err != nil {
				t.Fatal(err)
			}
			x := g.Input.Data().([]float32)
			rng := rand.New(rand.NewPCG(4, 4))
			raw := make([]byte, 4*len(x))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x[i]))
			}
			os.WriteFile(in, raw, 0o644)
			if err := g.Run(); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, append([]string{"../../tools/pytorch/run.py", module, weights, in}, dims(5, c.net)...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("PyTorch: %v\n%s\nmodule:\n%s", err, out, PyTorchModule(c.net))
			}
			var r struct {
				Logits []float64
				Dims   []int
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			compareLogits(t, "PyTorch", r.Logits, r.Dims, g.LogitsData())
		})
	}
}

func TestSafetensorsStateDict(t *testing.T) {
	n := randomNet(t, everyLayer, 4)
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteSafetensors(path, Model{Net: n, Name: "m", Classes: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, err := safetensors.Deserialize(b)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the state_dict keys of the equivalent nn.Sequential.
	want := []string{"0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight",
		"10.bias", "10.num_batches_tracked", "10.running_mean", "10.running_var", "10.weight",
		"12.weight", "14.bias", "14.weight", "4.bias", "4.weight", "9.bias", "9.weight"}
	got := st.Names()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("names %v\nwant  %v", got, want)
	}
	w, _ := st.Tensor("9.weight")
	if !slices.Equal(w.Shape(), []uint64{6, 16}) {
		t.Errorf("linear weight shape %v, want [out, in] = [6 16]", w.Shape())
	}
	back, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Tensors["4.weight"].F32, n.Layers[4].Weight.Data()) || back.Metadata["format"] != "pt" {
		t.Error("round trip changed the conv weight or metadata")
	}
	py := PyTorchModule(n)
	for _, s := range []string{"nn.Conv2d(1, 3, kernel_size=3, stride=1, padding=1, bias=False),  # 0",
		"nn.BatchNorm1d(6, eps=1e-05, momentum=0.1),  # 10", "nn.Dropout(0.3),  # 8", "nn.Linear(6, 5, bias=False),  # 12",
		"nn.AvgPool2d(kernel_size=3, stride=1, padding=1),  # 6", "nn.LeakyReLU(0.1),  # 2"} {
		if !strings.Contains(py, s) {
			t.Errorf("PyTorch module lacks %q:\n%s", s, py)
		}
	}
}
