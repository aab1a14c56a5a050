// Package sweep runs a set of training trials that differ in a few config
// keys — a grid, a seeded random sample, or successive halving — each an
// ordinary run folder, and reports which settings won and at what cost.
package sweep

import (
	"fmt"
	"math"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnnctl/cnnctl/internal/config"
)

// Spec is a sweep file.
type Spec struct {
	Method string // grid, random or halving
	Metric string // val_acc (higher is better) or val_loss (lower)
	Trials int    // random and halving: how many
	Seed   uint64
	// Epochs per trial (grid, random); halving: of the first rung.
	Epochs int
	// MaxEpochs (halving) is what the last rung trains; Eta: each rung
	// keeps the best 1/Eta and trains them Eta times longer.
	MaxEpochs int
	Eta       int
	// Minutes, if set, stops starting trials once the sweep has run so long.
	Minutes float64
	Params  []Param
	file    string
}

// Param is one swept key and where its values come from.
type Param struct {
	Key    string
	Line   int
	Values []any      // a list (or a range written out)
	LogLo  float64    // log-uniform between LogLo and LogHi (random, halving)
	LogHi  float64    //
	node   *yaml.Node // for messages
}

// LogUniform says the values are drawn, not listed.
func (p Param) LogUniform() bool { return p.LogHi > 0 }

type specFile struct {
	Method    string               `yaml:"method"`
	Metric    string               `yaml:"metric"`
	Trials    int                  `yaml:"trials"`
	Seed      uint64               `yaml:"seed"`
	Epochs    int                  `yaml:"epochs"`
	MaxEpochs int                  `yaml:"max_epochs"`
	Eta       int                  `yaml:"eta"`
	Minutes   float64              `yaml:"minutes"`
	Params    yaml.Node            `yaml:"params"`
	Extra     map[string]yaml.Node `yaml:",inline"`
}

// Load reads and checks a sweep file (the keys are checked against a
// config by Check).
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse reads a sweep file held in memory.
func Parse(name string, b []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &config.Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var f specFile
	if err := doc.Decode(&f); err != nil {
		return nil, &config.Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	bad := func(line int, format string, a ...any) error {
		return &config.Error{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	for k, v := range f.Extra {
		return nil, bad(v.Line, "unknown field %q (method, metric, trials, seed, epochs, max_epochs, eta, minutes, params)", k)
	}
	s := &Spec{Method: f.Method, Metric: f.Metric, Trials: f.Trials, Seed: f.Seed, Epochs: f.Epochs,
		MaxEpochs: f.MaxEpochs, Eta: f.Eta, Minutes: f.Minutes, file: name}
	if s.Method == "" {
		s.Method = "grid"
	}
	if s.Metric == "" {
		s.Metric = "val_acc"
	}
	if s.Epochs == 0 {
		s.Epochs = 1
	}
	if s.Eta == 0 {
		s.Eta = 3
	}
	line := func(key string) int { return keyLine(&doc, key) }
	switch {
	case s.Method != "grid" && s.Method != "random" && s.Method != "halving":
		return nil, bad(line("method"), "method must be grid, random or halving, got %q", s.Method)
	case s.Metric != "val_acc" && s.Metric != "val_loss":
		return nil, bad(line("metric"), "metric must be val_acc or val_loss, got %q", s.Metric)
	case s.Method != "grid" && s.Trials < 1:
		return nil, bad(line("trials"), "trials must be at least 1 for method %s, got %d", s.Method, s.Trials)
	case s.Epochs < 1:
		return nil, bad(line("epochs"), "epochs must be at least 1, got %d", s.Epochs)
	case s.Method == "halving" && s.MaxEpochs < s.Epochs:
		return nil, bad(line("max_epochs"), "max_epochs (%d) must be at least epochs (%d) for halving", s.MaxEpochs, s.Epochs)
	case s.Eta < 2:
		return nil, bad(line("eta"), "eta must be at least 2, got %d", s.Eta)
	case s.Minutes < 0 || math.IsNaN(s.Minutes):
		return nil, bad(line("minutes"), "minutes cannot be negative, got %v", s.Minutes)
	}
	if f.Params.Kind != yaml.MappingNode || len(f.Params.Content) == 0 {
		return nil, bad(line("params"), "params must map config keys to values, e.g. train.optimizer.lr: [0.01, 0.1]")
	}
	for i := 0; i+1 < len(f.Params.Content); i += 2 {
		k, v := f.Params.Content[i], f.Params.Content[i+1]
		p, err := parseParam(name, k, v, s.Method)
		if err != nil {
			return nil, err
		}
		s.Params = append(s.Params, p)
	}
	return s, nil
}

// parseParam reads one swept key: [v, …], {range: [lo, hi], step: s} or
// {log_uniform: [lo, hi]}.
func parseParam(file string, k, v *yaml.Node, method string) (Param, error) {
	p := Param{Key: k.Value, Line: k.Line, node: v}
	bad := func(format string, a ...any) (Param, error) {
		return p, &config.Error{File: file, Line: v.Line, Msg: k.Value + ": " + fmt.Sprintf(format, a...)}
	}
	switch v.Kind {
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return bad("an empty list of values")
		}
		for _, e := range v.Content {
			var x any
			if err := e.Decode(&x); err != nil {
				return bad("%v", err)
			}
			p.Values = append(p.Values, x)
		}
		return p, nil
	case yaml.MappingNode:
		var r struct {
			Range      []float64 `yaml:"range"`
			Step       float64   `yaml:"step"`
			LogUniform []float64 `yaml:"log_uniform"`
		}
		if err := v.Decode(&r); err != nil {
			return bad("a range is {range: [lo, hi], step: s} or {log_uniform: [lo, hi]}: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		switch {
		case r.LogUniform != nil:
			if len(r.LogUniform) != 2 || !(r.LogUniform[0] > 0) || !(r.LogUniform[1] >= r.LogUniform[0]) || math.IsInf(r.LogUniform[1], 0) {
				return bad("log_uniform needs [lo, hi] with 0 < lo ≤ hi, got %v", r.LogUniform)
			}
			if method == "grid" {
				return bad("a log-uniform range has no grid; use method random or halving, or list the values")
			}
			p.LogLo, p.LogHi = r.LogUniform[0], r.LogUniform[1]
			return p, nil
		case r.Range != nil:
			if len(r.Range) != 2 || !(r.Step > 0) || !(r.Range[1] >= r.Range[0]) || math.IsInf(r.Range[1]-r.Range[0], 0) {
				return bad("range needs [lo, hi] with lo ≤ hi and a positive step, got %v step %v", r.Range, r.Step)
			}
			n := int(math.Floor((r.Range[1]-r.Range[0])/r.Step+1e-9)) + 1
			if n > 10000 {
				return bad("the range has %d values, more than 10000", n)
			}
			whole := r.Range[0] == math.Trunc(r.Range[0]) && r.Step == math.Trunc(r.Step)
			for i := range n {
				x := r.Range[0] + float64(i)*r.Step
				if whole {
					p.Values = append(p.Values, int(x))
				} else {
					p.Values = append(p.Values, x)
				}
			}
			return p, nil
		}
		return bad("a range is {range: [lo, hi], step: s} or {log_uniform: [lo, hi]}")
	}
	return bad("values are a list [a, b, …] or a range, got %q", v.Value)
}

// keyLine finds the line of a top-level key of a document.
func keyLine(doc *yaml.Node, key string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}
