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
	checkPrintedDigits(t, path, fonts, 2000, 0.98)
}

// TestPrintedDigitsWithAugmentedModel is the same for the model of
// configs/lenet-bn-mnist-augment.yaml, on twice the typefaces (italics and
// bold obliques too) and a higher bar:
// CNNCTL_MNIST_AUGMENT_MODEL=runs/lenet-bn-mnist-augment/best.ckpt.
func TestPrintedDigitsWithAugmentedModel(t *testing.T) {
	path := os.Getenv("CNNCTL_MNIST_AUGMENT_MODEL")
	if path == "" {
		t.Skip("set CNNCTL_MNIST_AUGMENT_MODEL to a checkpoint trained by configs/lenet-bn-mnist-augment.yaml")
	}
	checkPrintedDigits(t, path, append(append([]typeface(nil), fonts...), moreFonts...), 4000, 0.99)
}

func checkPrintedDigits(t *testing.T, path string, faces []typeface, n int, bar float64) {
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
	ins, labels := printedDigitsIn(t, faces, n, 1)
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
	if acc < bar {
		t.Errorf("accuracy %.2f%% < %.0f%%", 100*acc, 100*bar)
	}
}
