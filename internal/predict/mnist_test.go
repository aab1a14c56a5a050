package predict

import (
	"os"
	"testing"

	"github.com/cnnctl/cnnctl/internal/checkpoint"
)

// TestPrintedDigitsWithMNISTModel measures an MNIST model trained by
// configs/lenet-bn-mnist.yaml on printed digits in fonts it never saw. It
// needs that checkpoint (training takes minutes, so the quick suite does
// not): CNNCTL_MNIST_MODEL=runs/lenet-bn-mnist/best.ckpt, or `make
// check-predict`.
func TestPrintedDigitsWithMNISTModel(t *testing.T) {
	path := os.Getenv("CNNCTL_MNIST_MODEL")
	if path == "" {
		t.Skip("set CNNCTL_MNIST_MODEL to a checkpoint trained by configs/lenet-bn-mnist.yaml (make check-predict)")
	}
	st, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(st, st.Config.Preprocess, 256)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if dir := os.Getenv("CNNCTL_DEBUG_DIR"); dir != "" {
		p.DebugDir = dir
	}
	ins, labels := printedDigits(t, 2000, 1)
	correct := 0
	wrong := map[string]int{}
	i := 0
	_, err = p.Predict(ins, 1, func(pr Prediction, err error) {
		if err != nil {
			t.Errorf("%s: %v", pr.File, err)
		} else if pr.Index == labels[i] {
			correct++
		} else {
			wrong[pr.File]++
		}
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	acc := float64(correct) / float64(len(ins))
	t.Logf("printed digits: %d/%d = %.2f%% correct", correct, len(ins), 100*acc)
	for f := range wrong {
		t.Logf("wrong: %s", f)
	}
	if acc < 0.98 {
		t.Errorf("accuracy %.2f%% < 98%%", 100*acc)
	}
}
