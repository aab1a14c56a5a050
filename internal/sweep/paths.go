package sweep

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/data"
	"github.com/cnnctl/cnnctl/internal/model"
)

// Base is the config a sweep varies, kept as its YAML document so that a
// trial's config is the user's file with the swept keys set — and then
// checked by the config loader like any file.
type Base struct {
	Path string
	doc  yaml.Node
}

// LoadBase reads the config to sweep.
func LoadBase(path string) (*Base, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := config.Parse(path, b); err != nil {
		return nil, err
	}
	base := &Base{Path: path}
	if err := yaml.Unmarshal(b, &base.doc); err != nil {
		return nil, err
	}
	return base, nil
}

// Trial is one point of a sweep: a value for each swept key, in the
// order of the sweep file.
type Trial struct {
	Values []any
}

// Config builds the trial's config: the base with each key set.
func (b *Base) Config(s *Spec, t Trial) (*config.Config, []byte, error) {
	doc := cloneNode(&b.doc)
	for i, p := range s.Params {
		if err := set(doc, p.Key, t.Values[i]); err != nil {
			return nil, nil, &config.Error{File: s.file, Line: p.Line, Msg: err.Error()}
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(b.Path, out)
	if err == nil {
		if errs := cfg.Check(b.Path); len(errs) > 0 {
			err = errs
		}
	}
	if err == nil { // and its shapes: a kernel larger than its input, say
		_, err = model.Plan(cfg.Layers(), cfg.Data.Shape, data.ClassCount(cfg))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s gives a config that does not load: %s", t.Describe(s), configMessage(err))
	}
	return cfg, out, nil
}

// configMessage is a config error without the (generated) file's line.
func configMessage(err error) string {
	msg := err.Error()
	var le *model.LayerError
	if es, ok := err.(config.Errors); ok && len(es) > 0 {
		msg = es[0].Msg
	} else if e, ok := err.(*config.Error); ok {
		msg = e.Msg
	} else if errors.As(err, &le) {
		msg = le.Error()
	}
	return msg
}

// Describe is "model[0].kernel=5 train.optimizer.lr=0.01".
func (t Trial) Describe(s *Spec) string {
	parts := make([]string, len(s.Params))
	for i, p := range s.Params {
		parts[i] = p.Key + "=" + format(t.Values[i])
	}
	return strings.Join(parts, " ")
}

func format(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', 4, 64)
	}
	return fmt.Sprint(v)
}

var reIndex = regexp.MustCompile(`^([a-z_]+)?\[(\d+)\]$`)

// set writes value at a key path of a config document: dotted mapping
// keys (created where missing, so that the config loader judges them),
// list elements by index ("model[2]") or, in the model and block lists,
// by layer name ("model.conv1").
func set(doc *yaml.Node, key string, value any) error {
	n := doc
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	parts := strings.Split(key, ".")
	for i, part := range parts {
		last := i == len(parts)-1
		name, index := part, -1
		if m := reIndex.FindStringSubmatch(part); m != nil {
			name = m[1]
			index, _ = strconv.Atoi(m[2])
		}
		if name != "" {
			switch n.Kind {
			case yaml.MappingNode:
				child := lookup(n, name)
				if child == nil {
					if index >= 0 {
						return fmt.Errorf("%s: the config has no list %q", key, name)
					}
					child = &yaml.Node{Kind: yaml.MappingNode}
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, child)
				}
				n = child
			case yaml.SequenceNode: // a layer by its name
				found := false
				for _, e := range n.Content {
					if e.Kind == yaml.MappingNode && lookup(e, "name") != nil && lookup(e, "name").Value == name {
						n, found = e, true
						break
					}
				}
				if !found {
					return fmt.Errorf("%s: no layer is named %q", key, name)
				}
			default:
				return fmt.Errorf("%s: %q is not a section of the config", key, strings.Join(parts[:i], "."))
			}
		}
		if index >= 0 {
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s: %q is not a list", key, name)
			}
			if index >= len(n.Content) {
				return fmt.Errorf("%s: the list has %d entries", key, len(n.Content))
			}
			n = n.Content[index]
		}
		if last {
			var v yaml.Node
			if err := v.Encode(value); err != nil {
				return err
			}
			*n = v
		}
	}
	return nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = cloneNode(k)
	}
	return &c
}

// Check tries every listed value of every key (and a log-uniform range's
// bounds) on the base config, so that a sweep whose key or value does not
// fit fails before any trial runs.
func (b *Base) Check(s *Spec) error {
	first := s.first()
	for i, p := range s.Params {
		values := p.Values
		if p.LogUniform() {
			values = []any{p.LogLo, p.LogHi}
		}
		for _, v := range values {
			t := Trial{Values: append([]any(nil), first.Values...)}
			t.Values[i] = v
			if _, _, err := b.Config(s, t); err != nil {
				if e, ok := err.(*config.Error); ok {
					return e
				}
				return &config.Error{File: s.file, Line: p.Line, Msg: err.Error()}
			}
		}
	}
	return nil
}

// first is a trial of every key's first value (a log-uniform one's lower
// bound).
func (s *Spec) first() Trial {
	t := Trial{}
	for _, p := range s.Params {
		if p.LogUniform() {
			t.Values = append(t.Values, p.LogLo)
		} else {
			t.Values = append(t.Values, p.Values[0])
		}
	}
	return t
}
