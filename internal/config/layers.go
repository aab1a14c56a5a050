package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Input is the name by which a layer takes the network's input (inside a
// block: the block's input).
const Input = "input"

// ID is how other layers and messages refer to the layer at position i of
// the expanded model list: its name, or else its position.
func (l *Layer) ID(i int) string {
	if l.Name != "" {
		return l.Name
	}
	return strconv.Itoa(i)
}

// Where names the layer in messages: "layer 3 (conv2d)", with the block
// entry it came from.
func (l *Layer) Where(i int) string {
	s := fmt.Sprintf("layer %s (%s)", l.ID(i), l.Type)
	if l.Use > 0 {
		s += fmt.Sprintf(" of the block used at line %d", l.Use)
	}
	return s
}

// Flat is the layer as an entry of a flat model list: a block's layer
// written out on its own (its name already says where it came from).
func (l Layer) Flat() Layer {
	l.Use, l.origin = 0, ""
	return l
}

// whereInFile names the layer as the file shows it: inside a block by its
// place in the block (a problem there is the same for every use).
func (l *Layer) whereInFile(i int) string {
	if l.origin != "" {
		return fmt.Sprintf("%s (%s)", l.origin, l.Type)
	}
	return l.Where(i)
}

// Names are letters, digits and _, not starting with a digit; a block's
// layers are called <use>.<name>, and a flat list (a fused model's) may
// name layers so too.
var (
	reName       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reDottedName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)
)

func setLayerDefaults(ls []Layer) {
	for i := range ls {
		if s, ok := schemas[ls[i].Type]; ok && s.Defaults != nil {
			s.Defaults(&ls[i])
		}
	}
}

// Layers returns the model list with every block entry replaced by the
// block's layers and every reference resolved: what the model is built
// from. Layers of a block used as "res1" are named res1.<their name or
// position in the block>, and "res1" itself stands for the block's last
// layer. Parse has checked the list; Layers of a config that did not pass
// returns what it could expand.
func (c *Config) Layers() []Layer {
	ls, _ := c.expand("")
	return ls
}

// expand builds the list Layers returns, with every problem of the layer
// list that needs no shapes: unknown kinds, fields that do not apply, bad
// values, names, and inputs that do not exist or come later.
func (c *Config) expand(file string) ([]Layer, Errors) {
	x := &expander{file: file, ids: map[string]string{Input: Input}, seen: map[string]bool{}}
	for _, l := range c.Model {
		l.Inputs = slices.Clone(l.Inputs)
		if l.Type == "block" {
			x.block(c, l)
			continue
		}
		x.checkName(&l)
		x.add(l, nil, func(ref string) int { return laterLine(c.Model, ref) })
	}
	return x.out, x.es
}

// expander accumulates the expanded list and its problems.
type expander struct {
	file string
	out  []Layer
	es   Errors
	ids  map[string]string // what each name a later layer may use stands for
	seen map[string]bool   // names taken
}

// bad records a problem once: a block used twice has its problems once.
func (x *expander) bad(line int, format string, a ...any) {
	e := &Error{File: x.file, Line: line, Msg: fmt.Sprintf(format, a...)}
	for _, old := range x.es {
		if *old == *e {
			return
		}
	}
	x.es = append(x.es, e)
}

// prev is the ID of the last layer added, or the network input.
func (x *expander) prev() string {
	if len(x.out) == 0 {
		return Input
	}
	i := len(x.out) - 1
	return x.out[i].ID(i)
}

func (x *expander) checkName(l *Layer) {
	re := reDottedName
	if l.origin != "" {
		re = reName
	}
	if l.Name != "" && (!re.MatchString(l.Name) || l.Name == Input) {
		x.bad(l.Line, "%s: name %q must be a letter or _ followed by letters, digits or _ (and not %q)", l.whereInFile(len(x.out)), l.Name, Input)
	}
}

// add resolves l's inputs (local names first: a block's own), checks it and
// appends it. later gives the line of a layer that a name refers to but
// that comes after l, or 0.
func (x *expander) add(l Layer, local map[string]string, later func(string) int) {
	i := len(x.out)
	for j, ref := range l.Inputs {
		id, ok := local[ref]
		if !ok {
			id, ok = x.ids[ref]
		}
		switch {
		case ok:
			l.Inputs[j] = id
		case ref == l.Name || strings.HasSuffix(l.Name, "."+ref):
			x.bad(l.Line, "%s: inputs: a layer cannot take its own output (that would be a cycle)", l.whereInFile(i))
		case later(ref) > 0:
			x.bad(l.Line, "%s: inputs: %q comes later (line %d); a layer takes only the outputs of layers before it, so the graph has no cycles", l.whereInFile(i), ref, later(ref))
		default:
			x.bad(l.Line, "%s: inputs: no layer before it is named %q", l.whereInFile(i), ref)
		}
	}
	for _, e := range checkLayer(x.file, &l, i) {
		x.bad(e.Line, "%s", e.Msg)
	}
	if l.Name != "" {
		if x.seen[l.Name] {
			x.bad(l.Line, "%s: the name %q is used twice", l.whereInFile(i), l.Name)
		}
		x.seen[l.Name] = true
	}
	id := l.ID(i)
	x.ids[id] = id
	x.out = append(x.out, l)
}

// block adds the layers of the block that entry l stands for.
func (x *expander) block(c *Config, l Layer) {
	bad := func(format string, a ...any) {
		x.bad(l.Line, "layer %s (block): %s", l.ID(len(x.out)), fmt.Sprintf(format, a...))
	}
	for _, k := range l.keys {
		if !slices.Contains([]string{"type", "name", "block", "inputs"}, k) {
			bad("field %q does not apply (a block entry takes name, block and inputs)", k)
		}
	}
	body, ok := c.Blocks[l.Block]
	switch {
	case l.Block == "":
		bad("block: which block of the blocks section? (known: %s)", strings.Join(c.blockNames(), ", "))
		return
	case !ok:
		bad("no block is named %q (known: %s)", l.Block, strings.Join(c.blockNames(), ", "))
		return
	case l.Name == "" || !reName.MatchString(l.Name) || l.Name == Input:
		bad("a block entry needs a name of letters, digits and _ (its layers are called <name>.<layer>), got %q", l.Name)
		return
	case x.seen[l.Name]:
		bad("the name %q is used twice", l.Name)
		return
	case len(body) == 0:
		bad("block %q has no layers", l.Block)
		return
	}
	x.seen[l.Name] = true
	// The block's input: the layer the entry names, or the one before it.
	in := x.prev()
	switch len(l.Inputs) {
	case 0:
	case 1:
		id, ok := x.ids[l.Inputs[0]]
		if !ok {
			if line := laterLine(c.Model, l.Inputs[0]); line > 0 {
				bad("inputs: %q comes later (line %d); a layer takes only the outputs of layers before it", l.Inputs[0], line)
			} else {
				bad("inputs: no layer before it is named %q", l.Inputs[0])
			}
			return
		}
		in = id
	default:
		bad("a block takes one input, got %d", len(l.Inputs))
		return
	}
	local := map[string]string{Input: in}
	for j, inner := range body {
		inner.Inputs = slices.Clone(inner.Inputs)
		inner.Use = l.Line
		if inner.Type == "block" {
			x.bad(inner.Line, "block %s: a block cannot contain a block entry", l.Block)
			continue
		}
		own := inner.Name
		if own == "" {
			own = strconv.Itoa(j)
		}
		inner.origin = fmt.Sprintf("block %s, layer %s", l.Block, own)
		x.checkName(&inner)
		inner.Name = l.Name + "." + own
		if j == 0 && len(inner.Inputs) == 0 && in != x.prev() {
			inner.Inputs = []string{in}
		}
		x.add(inner, local, func(ref string) int { return laterLine(body[j+1:], ref) })
		local[own] = inner.Name
	}
	last := body[len(body)-1].Name
	if last == "" {
		last = strconv.Itoa(len(body) - 1)
	}
	x.ids[l.Name] = l.Name + "." + last
}

// laterLine returns the line of the layer of ls named ref, or 0.
func laterLine(ls []Layer, ref string) int {
	for _, l := range ls {
		if l.Name == ref {
			return l.Line
		}
	}
	return 0
}

func (c *Config) blockNames() []string {
	ns := make([]string, 0, len(c.Blocks))
	for n := range c.Blocks {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	if len(ns) == 0 {
		return []string{"none: the config has no blocks section"}
	}
	return ns
}

// checkLayer reports what is wrong with one layer without looking at shapes.
func checkLayer(file string, l *Layer, i int) Errors {
	var es Errors
	bad := func(format string, a ...any) {
		es = append(es, &Error{File: file, Line: l.Line, Msg: l.whereInFile(i) + ": " + fmt.Sprintf(format, a...)})
	}
	s, ok := schemas[l.Type]
	if !ok {
		if l.Type == "block" {
			bad("a block entry is only allowed in the model list")
			return es
		}
		bad("unknown layer type %q (known: %s)", l.Type, strings.Join(LayerKinds(), ", "))
		return es
	}
	unknown := false
	for _, k := range l.keys {
		if k == "type" || k == "name" || k == "inputs" || slices.Contains(s.Fields, k) {
			continue
		}
		unknown = true
		if len(s.Fields) == 0 {
			bad("field %q does not apply (%s takes no settings)", k, l.Type)
		} else {
			bad("field %q does not apply (%s takes %s)", k, l.Type, strings.Join(s.Fields, ", "))
		}
	}
	switch n := len(l.Inputs); {
	case s.Joins && n < 2:
		bad("%s joins two or more layers: give inputs: [a, b]", l.Type)
	case !s.Joins && n > 1:
		bad("%s takes one input, got %d (%s)", l.Type, n, strings.Join(l.Inputs, ", "))
	}
	// A field that does not apply is usually a misspelt one: the value
	// checks would only report its consequences (filters 0 for "filtres").
	if s.Check != nil && !unknown {
		s.Check(l, bad)
	}
	return es
}
