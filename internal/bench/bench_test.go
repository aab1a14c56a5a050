package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cnnctl/cnnctl/internal/config"
)

func TestBenchSteadyStateAllocatesNoTensors(t *testing.T) {
	cfg, err := config.Parse("b.yaml", []byte(`
data: {source: xo, shape: [1, 16, 16]}
model:
  - {type: conv2d, filters: 4, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dropout, rate: 0.2}
  - {type: dense, units: 8}
  - {type: relu}
  - {type: dense, units: 2}
train: {epochs: 1, batch_size: 8, optimizer: {name: sgd, lr: 0.1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(cfg, 2, Options{InferBatch: 16, Duration: 50 * time.Millisecond, Reps: 3, Scaling: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.TrainImgPerS <= 0 || r.InferImgPerS <= 0 || r.LatencyMS <= 0 || r.PeakGFLOPS <= 0 || r.TrainGFLOPS <= 0 {
		t.Errorf("figures missing: %+v", r)
	}
	// Once warm, a training step allocates no tensors (small Gorgonia
	// bookkeeping objects only).
	if r.TensorAllocs != 0 {
		t.Errorf("%.2f tensor allocations per step", r.TensorAllocs)
	}
	if r.AllocBytesStep > 64<<10 {
		t.Errorf("%.0f bytes allocated per step", r.AllocBytesStep)
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	for _, want := range []string{"training", "inference", "latency", "peak RSS", "speed-up"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
