package config_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/cnnctl/cnnctl/internal/config"
	_ "github.com/cnnctl/cnnctl/internal/model/layers" // the layer kinds
)

const good = `
name: t
seed: 3
data:
  source: xo
  train_size: 100
model:
  - {type: conv2d, filters: 4, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 2}
train:
  epochs: 2
  optimizer: {name: adam, lr: 0.01}
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model[0].Stride != Square(1) || !*c.Model[0].Bias || c.Model[3].Stride != Square(2) {
		t.Errorf("conv/pool defaults: %+v %+v", c.Model[0], c.Model[3])
	}
	if c.Model[1].Momentum != 0.1 || c.Model[1].Eps != 1e-5 {
		t.Errorf("batchnorm defaults: %+v", c.Model[1])
	}
	if c.Train.BatchSize != 64 || c.Train.Optimizer.Beta2 != 0.999 || c.Train.Schedule.Name != "constant" {
		t.Errorf("train defaults: %+v", c.Train)
	}
	if c.Output.Dir != "runs/t" || c.Data.TestSize != 1000 || c.Model[2].Line != 10 {
		t.Errorf("output %q, test size %d, line %d", c.Output.Dir, c.Data.TestSize, c.Model[2].Line)
	}
	// What Marshal writes parses back to the same config.
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse("again.yaml", b)
	if err != nil {
		t.Fatalf("re-parsing marshalled config: %v\n%s", err, b)
	}
	b2, _ := c2.Marshal()
	if string(b) != string(b2) {
		t.Errorf("round trip changed the config:\n%s\n---\n%s", b, b2)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, edit, want string
	}{
		{"misspelt key", "train:\n  epochs: 2\n", "x.yaml:15: unknown field \"learnig_rate\" in train"},
		{"wrong type", "", "x.yaml:2: expected a whole number, 0 or more, got \"three\""},
		{"unknown layer", "", "x.yaml:12: layer 5 (softmaxx): unknown layer type \"softmaxx\""},
		{"field of another layer", "", "x.yaml:10: layer 3 (maxpool): field \"filters\" does not apply (maxpool takes kernel, stride, padding, ceil_mode)"},
		{"negative stride", "", "x.yaml:7: layer 0 (conv2d): stride must be at least 1, got -1"},
		{"zero filters", "", "x.yaml:7: layer 0 (conv2d): filters must be at least 1, got 0"},
		{"dropout rate", "", "x.yaml:12: layer 5 (dropout): rate must be in (0, 1), got 1.5"},
		{"bad optimizer", "", "x.yaml:15: train.optimizer.name must be one of sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, got \"adamw\""},
		{"bad source", "", "x.yaml:4: data.source must be one of mnist, xo, folder, signals, got \"cifar\""},
		{"empty", "", "x.yaml: empty config"},
		{"no epochs", "", "x.yaml:14: train.epochs must be at least 1, got 0"},
		{"not a mapping", "", "x.yaml:7: a layer must be a mapping like {type: relu}"},
	}
	base := strings.Split(strings.TrimPrefix(good, "\n"), "\n")
	docs := map[string]string{
		"misspelt key":           replaceLine(base, "  epochs: 2", "  epochs: 2\n  learnig_rate: 0.1"),
		"wrong type":             replaceLine(base, "seed: 3", "seed: three"),
		"unknown layer":          replaceLine(base, "  - {type: dense, units: 2}", "  - {type: softmaxx}\n  - {type: dense, units: 2}"),
		"field of another layer": replaceLine(base, "  - {type: maxpool, kernel: 2}", "  - {type: maxpool, kernel: 2, filters: 3}"),
		"negative stride":        replaceLine(base, "  - {type: conv2d, filters: 4, kernel: 3}", "  - {type: conv2d, filters: 4, kernel: 3, stride: -1}"),
		"zero filters":           replaceLine(base, "  - {type: conv2d, filters: 4, kernel: 3}", "  - {type: conv2d, filters: 0, kernel: 3}"),
		"dropout rate":           replaceLine(base, "  - {type: flatten}", "  - {type: flatten}\n  - {type: dropout, rate: 1.5}"),
		"bad optimizer":          replaceLine(base, "  optimizer: {name: adam, lr: 0.01}", "  optimizer: {name: adamw, lr: 0.01}"),
		"bad source":             replaceLine(base, "  source: xo", "  source: cifar"),
		"empty":                  "",
		"no epochs":              replaceLine(base, "  epochs: 2", "  epochs: 0"),
		"not a mapping":          replaceLine(base, "  - {type: conv2d, filters: 4, kernel: 3}", "  - conv2d"),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(docs[c.name]))
			if err == nil {
				t.Fatalf("accepted:\n%s", docs[c.name])
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, c.want)
			}
		})
	}
}

func replaceLine(lines []string, old, repl string) string {
	out := make([]string, len(lines))
	found := false
	for i, l := range lines {
		if l == old && !found {
			l, found = repl, true
		}
		out[i] = l
	}
	if !found {
		panic("line not found: " + old)
	}
	return strings.Join(out, "\n")
}

func TestAllErrorsReportedTogether(t *testing.T) {
	doc := strings.Replace(good, "epochs: 2", "epochs: 0", 1)
	doc = strings.Replace(doc, "lr: 0.01", "lr: -1", 1)
	_, err := Parse("x.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "epochs") || !strings.Contains(err.Error(), "lr must be positive") {
		t.Fatalf("want both errors, got %v", err)
	}
}

// NaN and infinities are refused in every float field, by name: a range
// test alone lets NaN through (it compares false both ways).
func TestNonFiniteNumbers(t *testing.T) {
	base := strings.Split(strings.TrimPrefix(good, "\n"), "\n")
	for _, c := range []struct{ old, new, want string }{
		{"  train_size: 100", "  train_size: 100\n  validation: .nan", "x.yaml:6: data.validation must be a finite number, got NaN"},
		{"  train_size: 100", "  train_size: 100\n  test_split: .nan", "x.yaml:6: data.test_split must be a finite number, got NaN"},
		{"  train_size: 100", "  train_size: 100\n  normalize: {mean: [0], std: [.nan]}", "x.yaml:6: data.normalize.std must be a finite number, got NaN"},
		{"  optimizer: {name: adam, lr: 0.01}", "  optimizer: {name: adam, lr: .inf}", "x.yaml:15: train.optimizer.lr must be a finite number, got +Inf"},
		{"  - {type: flatten}", "  - {type: flatten}\n  - {type: dropout, rate: .nan}", "x.yaml:12: layer 5 (dropout): rate must be a finite number, got NaN"},
	} {
		doc := replaceLine(base, c.old, c.new)
		_, err := Parse("x.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.new, err, c.want)
		}
	}
}

// An explicit 0 where the defaults read 0 as "unset" is an error naming the
// field and its line, not a silent default.
func TestExplicitZeroIsNotTheDefault(t *testing.T) {
	base := strings.Split(strings.TrimPrefix(good, "\n"), "\n")
	for _, c := range []struct{ old, new, want string }{
		{"  epochs: 2", "  epochs: 2\n  batch_size: 0", "x.yaml:15: train.batch_size: 0 is not a value here"},
		{"  train_size: 100", "  train_size: 0", "x.yaml:5: data.train_size: 0 is not a value here"},
		{"  - {type: maxpool, kernel: 2}", "  - {type: maxpool, kernel: 2, stride: 0}", "x.yaml:10: layer 3: stride: 0 is not a value here"},
		{"  - {type: flatten}", "  - {type: flatten}\n  - {type: dropout, rate: 0.0}", "x.yaml:12: layer 5: rate: 0 is not a value here"},
	} {
		_, err := Parse("x.yaml", []byte(replaceLine(base, c.old, c.new)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.new, err, c.want)
		}
	}
	// Left out, the same keys take their defaults.
	c, err := Parse("x.yaml", []byte(good))
	if err != nil || c.Train.BatchSize != 64 || c.Model[3].Stride != Square(2) {
		t.Errorf("defaults: %v %+v", err, c)
	}
}

// Messages speak of the file, not of Go: a tab is called a tab, types are
// named as a user writes them, and section errors carry their line.
func TestMessagesInTheFilesTerms(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"data: {source: xo}\ntrain:\n\tepochs: 2\n", "x.yaml:3: a tab character: YAML indents with spaces only"},
		{"seed: -1\n", "x.yaml:1: expected a whole number, 0 or more, got the number -1"},
		{"data: {source: xo}\nmodel: {type: relu}\n", "x.yaml:2: expected a list of layers (each line starting with -), got a mapping"},
		{"data:\n  source: xo\n  validation: 2\nmodel:\n  - {type: flatten}\n  - {type: dense, units: 2}\ntrain: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n",
			"x.yaml:3: data.validation is a fraction in [0, 0.9), got 2"},
	} {
		_, err := Parse("x.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.doc, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "!!") || strings.Contains(err.Error(), "uint64")) {
			t.Errorf("Go or YAML internals in %q", err)
		}
	}
}

func TestFolderChannels(t *testing.T) {
	doc := func(c int) string {
		return fmt.Sprintf("data: {source: folder, dir: d, shape: [%d, 8, 8]}\nmodel:\n  - {type: flatten}\n  - {type: dense, units: 2}\ntrain: {epochs: 1, optimizer: {name: sgd, lr: 0.1}}\n", c)
	}
	for c := 1; c <= 4; c++ {
		if _, err := Parse("x.yaml", []byte(doc(c))); err != nil {
			t.Errorf("%d channels: %v", c, err)
		}
	}
	if _, err := Parse("x.yaml", []byte(doc(5))); err == nil || !strings.Contains(err.Error(), "x.yaml:1: data.shape: image folders have 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA) channels, got [5 8 8]") {
		t.Errorf("5 channels: %v", err)
	}
}
