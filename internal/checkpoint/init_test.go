package checkpoint

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model"
)

func testNet(t *testing.T, seed uint64, layers string) *model.Network {
	t.Helper()
	c, err := config.Parse("m.yaml", []byte("data: {source: xo, shape: [1, 8, 8]}\nmodel:\n"+layers+"train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.New(c.Layers(), c.Data.Shape, 2, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInitFromStateDict loads a PyTorch-side state_dict (what export
// writes: format "pt", no cnnctl metadata) into a network whose head has
// another size: the trunk's tensors arrive, the head keeps its own.
func TestInitFromStateDict(t *testing.T) {
	trunk := "  - {type: conv2d, filters: 3, kernel: 3, name: conv}\n  - {type: batchnorm, name: bn}\n  - {type: relu}\n  - {type: flatten}\n"
	src := testNet(t, 1, trunk+"  - {type: dense, units: 2, name: head}\n")
	src.Layers[1].BN.RunningMean[0], src.Layers[1].BN.NumBatches = 0.5, 7
	path := filepath.Join(t.TempDir(), "pt.safetensors")
	st := &Safetensors{Metadata: map[string]string{"format": "pt"}, Tensors: StateDict(src)}
	f, _ := os.Create(path)
	w := bufio.NewWriter(f)
	if err := st.Write(w); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()

	dst := testNet(t, 2, trunk+"  - {type: dense, units: 4, name: hidden}\n  - {type: dense, units: 2, name: head}\n")
	before := slices.Clone(dst.Layers[5].Weight.Data())
	tr, err := InitFrom(path, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Loaded, []string{"conv", "bn"}) || len(tr.Fresh) != 2 ||
		tr.Fresh[0] != "hidden (hidden.weight is not in the file)" || tr.Fresh[1] != "head (head.weight is 2×4 here, 2×108 in the file)" {
		t.Fatalf("loaded %v, fresh %v", tr.Loaded, tr.Fresh)
	}
	for i := range 2 {
		for k, p := range src.Layers[i].Params() {
			if !slices.Equal(p.Data(), dst.Layers[i].Params()[k].Data()) {
				t.Errorf("%s not loaded", p.Name)
			}
		}
	}
	if dst.Layers[1].BN.RunningMean[0] != 0.5 || dst.Layers[1].BN.NumBatches != 7 {
		t.Error("batch-norm statistics not loaded")
	}
	if !slices.Equal(before, dst.Layers[5].Weight.Data()) {
		t.Error("the head changed")
	}

	// Nothing in common: an error naming the file and what it holds.
	other := testNet(t, 3, "  - {type: flatten}\n  - {type: dense, units: 2, name: fc}\n")
	if _, err := InitFrom(path, other); err == nil || !strings.Contains(err.Error(), path+": no layer of the model matches its tensors (it holds bn.bias, ") ||
		!strings.Contains(err.Error(), "the model's first layer wants fc.weight of 2×64") {
		t.Errorf("no match: %v", err)
	}
}
