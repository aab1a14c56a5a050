package export

import (
	"encoding/binary"
	"encoding/json"
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

// randomNet builds a network on 1×12×12 inputs with random weights and
// non-trivial batch-norm statistics.
func randomNet(t *testing.T, layers string, seed uint64) *model.Network {
	t.Helper()
	c, err := config.Parse("e.yaml", []byte("data: {source: xo, shape: [1, 12, 12]}\nmodel:\n"+layers+"train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"))
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
	for _, c := range []struct {
		name string
		net  *model.Network
	}{{"batchnorm", bn}, {"fused", fused}, {"every layer", randomNet(t, everyLayer, 2)}} {
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
			cmd := exec.Command("node", filepath.Join(ort, "run.js"), path, in, "5", "1", "12", "12")
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
			want := g.LogitsData()
			if len(r.Logits) != len(want) || !slices.Equal(r.Dims, []int{5, 3}) {
				t.Fatalf("ONNX Runtime gave %v logits of %v", len(r.Logits), r.Dims)
			}
			var maxDiff float64
			for i := range want {
				maxDiff = math.Max(maxDiff, math.Abs(r.Logits[i]-float64(want[i])))
			}
			t.Logf("max |Δlogit| cnnctl vs ONNX Runtime: %.3g", maxDiff)
			if maxDiff > 1e-4 {
				t.Errorf("max |Δlogit| %.3g > 1e-4", maxDiff)
			}
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
