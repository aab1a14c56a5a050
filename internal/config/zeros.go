package config

import (
	"fmt"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// zeroMeansUnset lists, by section, the keys whose zero value the defaults
// read as "not given": written out as 0 they would silently become the
// default (batch_size: 0 training with 64), so an explicit 0 is an error.
var zeroMeansUnset = map[string][]string{
	"data":            {"train_size", "test_size"},
	"train":           {"batch_size"},
	"train.optimizer": {"momentum", "eps", "rho"},
	"train.schedule":  {"step_epochs", "gamma"},
	"layer":           {"stride", "dilation", "groups", "rate", "alpha", "momentum", "eps"},
}

// explicitZeros reports every key of zeroMeansUnset that the file sets to 0.
func explicitZeros(file string, root *yaml.Node) Errors {
	var es Errors
	check := func(section string, m *yaml.Node, where func(key string) string) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if !slices.Contains(zeroMeansUnset[section], k.Value) || v.Kind != yaml.ScalarNode {
				continue
			}
			if f, err := strconv.ParseFloat(v.Value, 64); err == nil && f == 0 {
				es = append(es, &Error{File: file, Line: v.Line,
					Msg: fmt.Sprintf("%s: 0 is not a value here; leave it out for the default", where(k.Value))})
			}
		}
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	top := value(doc, "")
	train := value(top, "train")
	check("data", value(top, "data"), func(k string) string { return "data." + k })
	check("train", train, func(k string) string { return "train." + k })
	check("train.optimizer", value(train, "optimizer"), func(k string) string { return "train.optimizer." + k })
	check("train.schedule", value(train, "schedule"), func(k string) string { return "train.schedule." + k })
	layers := func(list *yaml.Node, prefix string) {
		if list == nil || list.Kind != yaml.SequenceNode {
			return
		}
		for i, l := range list.Content {
			check("layer", l, func(k string) string { return fmt.Sprintf("%s %d: %s", prefix, i, k) })
		}
	}
	layers(value(top, "model"), "layer")
	if bs := value(top, "blocks"); bs != nil && bs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(bs.Content); i += 2 {
			layers(bs.Content[i+1], "block "+bs.Content[i].Value+", layer")
		}
	}
	return es
}

// value returns the value of key in mapping m (m itself for key ""), or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if key == "" || m == nil {
		return m
	}
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
