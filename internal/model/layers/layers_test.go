package layers

import (
	"os"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
)

// Every kind declares what the model, export and docs need of it.
func TestEveryKindIsComplete(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Kinds() {
		if k.Doc == "" || k.Shape == nil || k.Build == nil || k.Torch == nil {
			t.Errorf("%s: Doc, Shape, Build and Torch are required", k.Name)
		}
		if k.ONNX == nil && k.Name != "dropout" {
			t.Errorf("%s: no ONNX form", k.Name)
		}
		if (k.Init == nil) != (k.Params == nil) {
			t.Errorf("%s: a kind with parameters must count them (Params) for the check before allocating", k.Name)
		}
		if (k.Init == nil) != (k.Fold == nil) && k.Name != "batchnorm" {
			t.Errorf("%s: a kind with parameters should say whether batch norm folds into it", k.Name)
		}
		if !strings.Contains(string(readme), "`"+k.Name+"`") {
			t.Errorf("%s: the README's layer table does not name it", k.Name)
		}
	}
	if len(config.LayerKinds()) != len(Kinds()) {
		t.Errorf("config knows %d kinds, the registry %d", len(config.LayerKinds()), len(Kinds()))
	}
}

// Sizes are written as one number or [h, w]; "same" is padding only.
func TestPairsAndPadding(t *testing.T) {
	c, err := config.Parse("p.yaml", []byte(`data: {source: xo, shape: [1, 9, 10]}
model:
  - {type: conv2d, filters: 2, kernel: [3, 5], padding: same, dilation: [1, 2]}
  - {type: maxpool, kernel: [2, 3], ceil_mode: true}
  - {type: flatten}
  - {type: dense, units: 2}
train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Layers()
	if p := padding(&ls[0]); p != (config.Pair{H: 1, W: 4}) {
		t.Errorf("same padding of kernel 3×5 dilated 1×2 = %v, want 1×4", p)
	}
	if ls[1].Stride != (config.Pair{H: 2, W: 3}) {
		t.Errorf("pool stride defaults to its kernel: %v", ls[1].Stride)
	}
	out, err := conv2d.Shape(&ls[0], [][]int{{1, 9, 10}})
	if err != nil || out[1] != 9 || out[2] != 10 {
		t.Errorf("same padding keeps the size: %v %v", out, err)
	}
	b, _ := c.Marshal()
	if !strings.Contains(string(b), "kernel: [3, 5]") || !strings.Contains(string(b), "padding: same") {
		t.Errorf("marshalled:\n%s", b)
	}
	for _, bad := range []string{"kernel: [3]", "kernel: three", "padding: full", "kernel: [3, 4, 5]"} {
		_, err := config.Parse("p.yaml", []byte("data: {source: xo}\nmodel:\n  - {type: conv2d, filters: 2, "+bad+"}\n  - {type: flatten}\n  - {type: dense, units: 2}\ntrain: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n"))
		if err == nil || !strings.Contains(err.Error(), "p.yaml:3:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
