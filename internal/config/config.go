// Package config holds the YAML schema of a training run as named Go types,
// its strict decoding (unknown or misspelt keys are errors with their line),
// defaults, and the checks that need nothing but the file itself. Checks that
// need shapes (a kernel larger than its input, dense before flatten) are made
// by the model package, which knows each layer's line from here.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config describes one training run: data, model, training and output.
type Config struct {
	Name  string  `yaml:"name,omitempty"`
	Seed  uint64  `yaml:"seed"`
	Data  Data    `yaml:"data"`
	Model []Layer `yaml:"model"`
	// Blocks are named layer lists that model entries of type block stand
	// for, each use with parameters of its own (a residual block, say).
	Blocks map[string][]Layer `yaml:"blocks,omitempty"`
	Train  Train              `yaml:"train"`
	// Augment transforms each training image afresh every epoch.
	Augment *Augment `yaml:"augment,omitempty"`
	Output  Output   `yaml:"output,omitempty"`
	// Preprocess is how predict turns an arbitrary image file into an input.
	Preprocess Preprocess `yaml:"preprocess"`

	src *yaml.Node // the parsed file, for the lines of messages
}

// Preprocess is the recipe predict applies to image files.
type Preprocess struct {
	// Mode is mnist (crop to the ink, fit in 20×20 keeping the aspect
	// ratio, centre the mass in 28×28 — how MNIST itself was made), fit
	// (crop to the ink and scale its longer side to Fill of the frame) or
	// resize (scale the whole image to the input shape).
	Mode string `yaml:"mode" json:"mode"`
	// Invert is auto (make the ink bright if the background is light, as in
	// MNIST), yes or no.
	Invert string  `yaml:"invert" json:"invert"`
	Fill   float64 `yaml:"fill,omitempty" json:"fill,omitempty"`
}

// Data says where examples come from and how they are shaped and scaled.
type Data struct {
	// Source is mnist (idx files in Dir), xo (generated from the seed),
	// folder (one subfolder of images per class in Dir) or signals (CSV or
	// .npy recordings, see Signals).
	Source string `yaml:"source"`
	Dir    string `yaml:"dir,omitempty"`
	// TestDir is a folder source's test set; without it TestSplit of Dir is held out.
	TestDir   string  `yaml:"test_dir,omitempty"`
	TestSplit float64 `yaml:"test_split,omitempty"`
	// Shape is the network input [channels, height, width], or
	// [channels, length] for signals.
	Shape []int `yaml:"shape,omitempty"`
	// TrainSize and TestSize: how many X-vs-O examples to generate; for other
	// sources TrainSize > 0 limits the training set (quick experiments).
	TrainSize int `yaml:"train_size,omitempty"`
	TestSize  int `yaml:"test_size,omitempty"`
	// Validation is the fraction of the training set held out for validation.
	Validation float64   `yaml:"validation"`
	Normalize  Normalize `yaml:"normalize"`
	Signals    `yaml:",inline"`
}

// Normalize maps pixel values in [0,1] to (v − mean)/std, per channel (or one
// value for all channels).
type Normalize struct {
	Mean []float64 `yaml:"mean,flow"`
	Std  []float64 `yaml:"std,flow"`
}

// Layer is one entry of the model list. Which fields apply depends on Type;
// each layer kind declares its own (see RegisterLayer).
type Layer struct {
	Type string `yaml:"type"`
	// Name lets other layers take this one's output (inputs: [name]); an
	// unnamed layer is called by its position in the (expanded) model list.
	Name string `yaml:"name,omitempty"`
	// Inputs are the layers whose outputs this one takes; default: the one
	// before it. "input" is the network's input (inside a block: the block's).
	Inputs []string `yaml:"inputs,omitempty,flow"`
	// Block names a block of the config's blocks section that this entry
	// (type: block) stands for, with parameters of its own.
	Block string `yaml:"block,omitempty"`

	Filters       int     `yaml:"filters,omitempty"`
	Kernel        Pair    `yaml:"kernel,omitempty"`
	Stride        Pair    `yaml:"stride,omitempty"`
	Padding       Padding `yaml:"padding,omitempty"`
	Dilation      Pair    `yaml:"dilation,omitempty"`
	Groups        int     `yaml:"groups,omitempty"`
	OutputPadding Pair    `yaml:"output_padding,omitempty"`
	CeilMode      bool    `yaml:"ceil_mode,omitempty"`
	Bias          *bool   `yaml:"bias,omitempty"`
	Units         int     `yaml:"units,omitempty"`
	Rate          float64 `yaml:"rate,omitempty"`
	Alpha         float64 `yaml:"alpha,omitempty"`
	Momentum      float64 `yaml:"momentum,omitempty"`
	Eps           float64 `yaml:"eps,omitempty"`

	Line int `yaml:"-"` // where the layer starts in the file
	// Use is the line of the block entry this layer was expanded from (0 at the top level).
	Use    int    `yaml:"-"`
	origin string // "block res, layer 2": where a block's layer stands in the file
	keys   []string
}

// Has says whether the file set key for this layer (defaults do not count).
func (l *Layer) Has(key string) bool { return slices.Contains(l.keys, key) }

// Pair is a size along height and width, written as one number for both or
// as [h, w]. The zero value means "not set".
type Pair struct{ H, W int }

// Square makes a Pair of one number.
func Square(v int) Pair { return Pair{v, v} }

func (p Pair) IsZero() bool { return p == Pair{} }

func (p Pair) String() string {
	if p.H == p.W {
		return fmt.Sprint(p.H)
	}
	return fmt.Sprintf("%d×%d", p.H, p.W)
}

func (p *Pair) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var v int
		if err := n.Decode(&v); err != nil {
			return lineError(n, "expected a whole number or [height, width], got %q", n.Value)
		}
		*p = Pair{v, v}
		return nil
	case yaml.SequenceNode:
		var v []int
		if err := n.Decode(&v); err != nil || len(v) != 2 {
			return lineError(n, "expected a whole number or [height, width]")
		}
		*p = Pair{v[0], v[1]}
		return nil
	}
	return lineError(n, "expected a whole number or [height, width]")
}

func (p Pair) MarshalYAML() (any, error) {
	if p.H == p.W {
		return p.H, nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range []int{p.H, p.W} {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(v)})
	}
	return n, nil
}

// Padding is a Pair, or "same": as much zero padding as keeps the output
// the size of the input (stride 1).
type Padding struct {
	Pair
	Same bool
}

func (p Padding) IsZero() bool { return p == Padding{} }

func (p Padding) String() string {
	if p.Same {
		return "same"
	}
	return p.Pair.String()
}

func (p *Padding) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "same" {
		*p = Padding{Same: true}
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == "valid" {
		*p = Padding{}
		return nil
	}
	if err := p.Pair.UnmarshalYAML(n); err != nil {
		return lineError(n, "expected a whole number, [height, width] or same")
	}
	p.Same = false
	return nil
}

func (p Padding) MarshalYAML() (any, error) {
	if p.Same {
		return "same", nil
	}
	return p.Pair.MarshalYAML()
}

// lineError is a decoding error at a node, in the YAML library's own form
// so that it is reported with its line like the library's.
func lineError(n *yaml.Node, format string, a ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, a...))}}
}

// LayerSchema is what the config needs to know of a layer kind: the keys it
// takes besides type, name and inputs, its defaults, and the checks of its
// values that need no shapes. Each kind registers its own, in its file of
// internal/model/layers.
type LayerSchema struct {
	Fields []string
	// Joins says the kind takes two or more inputs (add, concat).
	Joins    bool
	Defaults func(*Layer)
	// Check calls bad once per problem.
	Check func(l *Layer, bad func(format string, a ...any))
}

var schemas = map[string]LayerSchema{}

// RegisterLayer declares a layer kind to the config loader.
func RegisterLayer(kind string, s LayerSchema) {
	if _, dup := schemas[kind]; dup {
		panic("config: layer kind registered twice: " + kind)
	}
	schemas[kind] = s
}

// LayerKinds lists the registered layer kinds, sorted.
func LayerKinds() []string {
	ks := make([]string, 0, len(schemas))
	for k := range schemas {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Train sets the optimisation.
type Train struct {
	Epochs    int       `yaml:"epochs"`
	BatchSize int       `yaml:"batch_size"`
	Optimizer Optimizer `yaml:"optimizer"`
	Schedule  Schedule  `yaml:"schedule,omitempty"`
	// InitFrom starts training from a checkpoint's (or a PyTorch
	// state_dict's) weights for every layer whose name and shapes match.
	InitFrom string `yaml:"init_from,omitempty"`
	// Freeze names layers (or block uses: all their layers) whose
	// parameters are not trained; FreezeUntil freezes every layer up to
	// and including the one named. FreezeBN (default true) keeps frozen
	// batch norms at their running statistics, as at inference.
	Freeze      []string `yaml:"freeze,omitempty,flow"`
	FreezeUntil string   `yaml:"freeze_until,omitempty"`
	FreezeBN    *bool    `yaml:"freeze_bn,omitempty"`
	// EarlyStopping ends training when the monitored validation figure
	// has not improved for Patience epochs; best.ckpt is then the best
	// epoch by that figure.
	EarlyStopping *EarlyStopping `yaml:"early_stopping,omitempty"`
	// LabelSmoothing mixes the one-hot targets with the uniform
	// distribution: (1−ε)·onehot + ε/K, as PyTorch's label_smoothing.
	LabelSmoothing float64 `yaml:"label_smoothing,omitempty"`
	// ClassWeights weighs each class's examples in the loss (PyTorch's
	// weight): auto gives each class N/(K·n_class), inverse frequency.
	ClassWeights *ClassWeights `yaml:"class_weights,omitempty"`
	// ClipGradNorm rescales the gradients whenever their global L2 norm
	// exceeds it (PyTorch's clip_grad_norm_); 0: no clipping.
	ClipGradNorm float64 `yaml:"clip_grad_norm,omitempty"`
	// Stages split training into consecutive parts, each with its own
	// epochs, learning rate and frozen layers (train a new head, then
	// fine-tune everything); train.epochs is then their sum.
	Stages []Stage `yaml:"stages,omitempty"`
}

// Augment lists the random transformations applied to every training
// image (never to validation or test images), each drawn anew per image
// and epoch. Zero values are off.
type Augment struct {
	Rotate    float64   `yaml:"rotate,omitempty"`     // degrees: uniform in ±rotate
	Translate float64   `yaml:"translate,omitempty"`  // fraction of the width and height: uniform in ±
	Scale     []float64 `yaml:"scale,omitempty,flow"` // [lo, hi]: uniform zoom factor
	Shear     float64   `yaml:"shear,omitempty"`      // degrees: uniform in ±shear
	Elastic   *Elastic  `yaml:"elastic,omitempty"`
	HFlip     bool      `yaml:"hflip,omitempty"` // mirror left-right with probability ½ (wrong for digits)
	VFlip     bool      `yaml:"vflip,omitempty"`
	Crop      int       `yaml:"crop,omitempty"` // pad by this many zero pixels, crop back at a random offset
	// Photometric, on pixel values in [0, 1].
	Brightness float64 `yaml:"brightness,omitempty"` // add uniform ±brightness
	Contrast   float64 `yaml:"contrast,omitempty"`   // scale about the mean by uniform 1 ± contrast
	Noise      float64 `yaml:"noise,omitempty"`      // add Gaussian noise of this standard deviation
	Erase      *Erase  `yaml:"erase,omitempty"`
	// Thickness is the probability of a stroke about one pixel thicker or
	// thinner (half a dilation or erosion by the 4-neighbourhood), half each.
	Thickness float64 `yaml:"thickness,omitempty"`
}

// Elastic is Simard, Steinkraus & Platt's (2003) distortion: a random
// displacement field, uniform in ±1 per pixel, smoothed by a Gaussian of
// Sigma pixels and scaled by Alpha pixels.
type Elastic struct {
	Alpha float64 `yaml:"alpha"`
	Sigma float64 `yaml:"sigma"`
}

// Erase is random erasing (cutout): with probability P a rectangle of a
// random fraction Area[0]…Area[1] of the image, of aspect ratio 0.3…3.3,
// is set to 0.
type Erase struct {
	P    float64   `yaml:"p"`
	Area []float64 `yaml:"area,flow"`
}

// EarlyStopping says when training stops for lack of progress.
type EarlyStopping struct {
	Monitor  string  `yaml:"monitor"` // val_loss or val_acc
	Patience int     `yaml:"patience"`
	MinDelta float64 `yaml:"min_delta,omitempty"`
}

// ClassWeights is "auto" or one weight per class.
type ClassWeights struct {
	Auto   bool
	Values []float64
}

func (w *ClassWeights) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "auto" {
		*w = ClassWeights{Auto: true}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: class_weights is auto or a list of numbers, one per class", n.Line)
	}
	return n.Decode(&w.Values)
}

func (w ClassWeights) MarshalYAML() (any, error) {
	if w.Auto {
		return "auto", nil
	}
	return w.Values, nil
}

// Stage is one part of a staged training run. The schedule runs within
// each stage; the optimizer starts afresh at each stage's first epoch.
type Stage struct {
	Epochs      int      `yaml:"epochs"`
	LR          float64  `yaml:"lr,omitempty"` // default: train.optimizer.lr
	Freeze      []string `yaml:"freeze,omitempty,flow"`
	FreezeUntil string   `yaml:"freeze_until,omitempty"`
	FreezeBN    *bool    `yaml:"freeze_bn,omitempty"`
}

// Optimizer names an update rule and its hyper-parameters. Unset values take
// the usual defaults (PyTorch's) for that rule.
type Optimizer struct {
	Name        string  `yaml:"name"`
	LR          float64 `yaml:"lr"`
	Momentum    float64 `yaml:"momentum,omitempty"`
	WeightDecay float64 `yaml:"weight_decay,omitempty"`
	Beta1       float64 `yaml:"beta1,omitempty"`
	Beta2       float64 `yaml:"beta2,omitempty"`
	Rho         float64 `yaml:"rho,omitempty"`
	Eps         float64 `yaml:"eps,omitempty"`
}

// Schedule changes the learning rate once per epoch.
type Schedule struct {
	Name       string  `yaml:"name,omitempty"` // constant, step or cosine
	StepEpochs int     `yaml:"step_epochs,omitempty"`
	Gamma      float64 `yaml:"gamma,omitempty"`
	MinLR      float64 `yaml:"min_lr,omitempty"`
	// Warmup is how many epochs (a fraction allowed) the learning rate rises
	// linearly from lr/25 to lr before the schedule starts; a cosine then
	// runs over the epochs after it (PyTorch's OneCycleLR, with cos_anneal).
	Warmup float64 `yaml:"warmup,omitempty"`
}

// Output says where the run folder goes.
type Output struct {
	Dir string `yaml:"dir,omitempty"`
}

// Optimizers and Schedules are the accepted names.
var (
	Optimizers = []string{"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"}
	Schedules  = []string{"constant", "step", "cosine"}
	Sources    = []string{"mnist", "xo", "folder", "signals"}
)

// UnmarshalYAML records the layer's line and keys, so that fields that do not
// apply to its type can be reported where they stand.
func (l *Layer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a layer must be a mapping like {type: relu}", n.Line)}}
	}
	type plain Layer
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = Layer(p)
	l.Line = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		l.keys = append(l.keys, n.Content[i].Value)
	}
	return nil
}

// Error is a problem in a config file, located by line when it can be.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one file, reported together.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads, decodes, defaults and checks a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse is Load for bytes already read; name is used in messages.
func Parse(name string, b []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "empty config"}
		}
		return nil, yamlError(name, b, err)
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // it decoded above
	c.src = &root
	zeros := explicitZeros(name, &root)
	c.SetDefaults()
	if errs := append(zeros, c.Check(name)...); len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}

var (
	reUnmarshal = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")
	reLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown   = regexp.MustCompile(`^field (\S+) not found in type config\.(\w+)$`)
)

// sectionOf names a Go type as the section a user sees in the file.
var sectionOf = map[string]string{
	"Config": "the top level", "Data": "data", "Normalize": "data.normalize", "Signals": "data", "plain": "a layer",
	"Train": "train", "Optimizer": "train.optimizer", "Preprocess": "preprocess", "Schedule": "train.schedule", "Output": "output",
	"EarlyStopping": "train.early_stopping", "Stage": "a stage of train.stages",
	"Augment": "augment", "Elastic": "augment.elastic", "Erase": "augment.erase",
}

// yamlError turns the YAML library's messages into file:line messages.
func yamlError(name string, src []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := reLine.FindStringSubmatch(msg); m != nil {
			var line int
			fmt.Sscan(m[1], &line)
			if strings.Contains(m[2], "found character that cannot start any token") && lineHasTab(src, line) {
				return &Error{File: name, Line: line, Msg: "a tab character: YAML indents with spaces only"}
			}
			return &Error{File: name, Line: line, Msg: m[2]}
		}
		return &Error{File: name, Msg: msg}
	}
	var es Errors
	for _, s := range te.Errors {
		e := &Error{File: name, Msg: s}
		if m := reLine.FindStringSubmatch(s); m != nil {
			fmt.Sscan(m[1], &e.Line)
			e.Msg = m[2]
			if u := reUnknown.FindStringSubmatch(m[2]); u != nil {
				e.Msg = fmt.Sprintf("unknown field %q in %s", u[1], sectionOf[u[2]])
			}
			e.Msg = strings.ReplaceAll(e.Msg, "config.plain", "a layer")
			e.Msg = strings.ReplaceAll(e.Msg, "config.", "")
			if u := reUnmarshal.FindStringSubmatch(e.Msg); u != nil {
				e.Msg = fmt.Sprintf("expected %s, got %s", goTypeWords(u[3]), yamlWords(u[1], u[2]))
			}
		}
		es = append(es, e)
	}
	return es
}

var rePath = regexp.MustCompile(`^([a-z_]+(?:\.[a-z_]+)+)`)

// lineOf finds the line of the field a message starts with ("data.validation
// …"), where the file sets it: the field's, else its section's; 0 if the
// file does not say.
func (c *Config) lineOf(msg string) int {
	m := rePath.FindString(msg)
	if m == "" || c.src == nil {
		return 0
	}
	n := c.src
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range strings.Split(m, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// goTypeWords says what a Go type is in a config file's terms.
func goTypeWords(t string) string {
	switch t {
	case "uint64", "uint":
		return "a whole number, 0 or more"
	case "int", "int64":
		return "a whole number"
	case "float64":
		return "a number"
	case "string":
		return "a word"
	case "bool":
		return "true or false"
	case "[]int":
		return "a list of whole numbers"
	case "[]float64":
		return "a list of numbers"
	case "[]string":
		return "a list of names"
	case "[]Layer":
		return "a list of layers (each line starting with -)"
	}
	if strings.HasPrefix(t, "map[") {
		return "a mapping of names to lists of layers"
	}
	return "a section (key: value lines)"
}

// yamlWords says what a YAML node is: "the number -1", "a mapping".
func yamlWords(tag, value string) string {
	switch tag {
	case "int", "float":
		return "the number " + value
	case "str":
		return fmt.Sprintf("%q", value)
	case "bool":
		return value
	case "map":
		return "a mapping (key: value lines)"
	case "seq":
		return "a list"
	case "null":
		return "nothing"
	}
	return value
}

// lineHasTab reports whether line n (from 1) of src contains a tab.
func lineHasTab(src []byte, n int) bool {
	lines := strings.Split(string(src), "\n")
	return n >= 1 && n <= len(lines) && strings.Contains(lines[n-1], "\t")
}

// SetDefaults fills every value the file may leave out.
func (c *Config) SetDefaults() {
	d := &c.Data
	if len(d.Shape) == 0 && (d.Source == "mnist" || d.Source == "xo") {
		d.Shape = []int{1, 28, 28}
	}
	if d.Source == "mnist" && len(d.Normalize.Mean) == 0 && len(d.Normalize.Std) == 0 {
		d.Normalize = Normalize{Mean: []float64{0.1307}, Std: []float64{0.3081}}
	}
	// Signals without a normalize section are normalised per channel by
	// the training set's statistics (computed when training starts).
	if len(d.Normalize.Mean) == 0 && !d.IsSignals() {
		d.Normalize.Mean = []float64{0}
	}
	if len(d.Normalize.Std) == 0 && !d.IsSignals() {
		d.Normalize.Std = []float64{1}
	}
	d.signalDefaults()
	if d.Source == "xo" {
		if d.TrainSize == 0 {
			d.TrainSize = 4000
		}
		if d.TestSize == 0 {
			d.TestSize = 1000
		}
	}
	if d.Source == "folder" && d.TestDir == "" && d.TestSplit == 0 {
		d.TestSplit = 0.2
	}
	setLayerDefaults(c.Model)
	for _, ls := range c.Blocks {
		setLayerDefaults(ls)
	}
	t := &c.Train
	if t.BatchSize == 0 {
		t.BatchSize = 64
	}
	if t.Epochs == 0 && len(t.Stages) > 0 {
		for _, st := range t.Stages {
			t.Epochs += st.Epochs
		}
	}
	o := &t.Optimizer
	if o.Name == "" {
		o.Name = "sgd"
	}
	switch o.Name {
	case "adam":
		o.Beta1 = or(o.Beta1, 0.9)
		o.Beta2 = or(o.Beta2, 0.999)
		o.Eps = or(o.Eps, 1e-8)
	case "rmsprop":
		o.Rho = or(o.Rho, 0.99)
		o.Eps = or(o.Eps, 1e-8)
	case "adadelta":
		o.Rho = or(o.Rho, 0.9)
		o.Eps = or(o.Eps, 1e-6)
		o.LR = or(o.LR, 1)
	case "adagrad":
		o.Eps = or(o.Eps, 1e-10)
	case "momentum", "nesterov":
		o.Momentum = or(o.Momentum, 0.9)
	}
	s := &t.Schedule
	if s.Name == "" {
		s.Name = "constant"
	}
	if s.Name == "step" {
		s.StepEpochs = max(s.StepEpochs, 1)
		s.Gamma = or(s.Gamma, 0.1)
	}
	if c.Output.Dir == "" {
		c.Output.Dir = filepath.Join("runs", c.Name)
	}
	p := &c.Preprocess
	if p.Mode == "" {
		switch d.Source {
		case "mnist":
			p.Mode = "mnist"
		case "xo":
			p.Mode = "fit"
		default:
			p.Mode = "resize"
		}
	}
	if p.Invert == "" {
		p.Invert = "auto"
		if d.Source == "folder" {
			p.Invert = "no"
		}
	}
	if p.Mode == "fit" && p.Fill == 0 {
		p.Fill = 0.6
	}
}

func or(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Check returns every problem that the file alone shows, each with a line
// where the layer list gives one.
func (c *Config) Check(name string) Errors {
	var es Errors
	add := func(line int, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if line == 0 {
			line = c.lineOf(msg)
		}
		es = append(es, &Error{File: name, Line: line, Msg: msg})
	}
	for _, e := range c.nonFinite(name) {
		if e.Line == 0 {
			e.Line = c.lineOf(e.Msg)
		}
		es = append(es, e)
	}
	d := c.Data
	if !slices.Contains(Sources, d.Source) {
		add(0, "data.source must be one of %s, got %q", strings.Join(Sources, ", "), d.Source)
	}
	if (d.Source == "mnist" || d.Source == "folder") && d.Dir == "" {
		add(0, "data.dir is required for source %s", d.Source)
	}
	c.checkSignals(add)
	if d.IsSignals() {
		// checked above
	} else if len(d.Shape) != 3 {
		add(0, "data.shape must be [channels, height, width], got %v", d.Shape)
	} else {
		for _, v := range d.Shape {
			if v <= 0 {
				add(0, "data.shape must be positive, got %v", d.Shape)
				break
			}
		}
		if d.Source == "mnist" && !slices.Equal(d.Shape, []int{1, 28, 28}) {
			add(0, "data.shape must be [1, 28, 28] for mnist, got %v", d.Shape)
		}
		if d.Source == "xo" && d.Shape[0] != 1 {
			add(0, "data.shape must have 1 channel for xo, got %v", d.Shape)
		}
		if d.Source == "folder" && (d.Shape[0] < 1 || d.Shape[0] > 4) {
			add(0, "data.shape: image folders have 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA) channels, got %v", d.Shape)
		}
		for _, v := range [][]float64{d.Normalize.Mean, d.Normalize.Std} {
			if len(v) != 1 && len(v) != d.Shape[0] {
				if d.Shape[0] == 1 {
					add(0, "data.normalize mean and std need 1 value (one channel), got %v", v)
				} else {
					add(0, "data.normalize mean and std need 1 or %d values (one per channel), got %v", d.Shape[0], v)
				}
			}
		}
	}
	for _, s := range d.Normalize.Std {
		if s <= 0 {
			add(0, "data.normalize.std must be positive, got %v", s)
		}
	}
	if d.Validation < 0 || d.Validation >= 0.9 { // NaN: reported as not finite
		add(0, "data.validation is a fraction in [0, 0.9), got %v", d.Validation)
	}
	if d.TestSplit < 0 || d.TestSplit >= 0.9 {
		add(0, "data.test_split is a fraction in [0, 0.9), got %v", d.TestSplit)
	}
	if d.TrainSize < 0 || d.TestSize < 0 {
		add(0, "data.train_size and data.test_size cannot be negative")
	}
	if len(c.Model) == 0 {
		add(0, "model: no layers")
	}
	_, lerrs := c.expand(name)
	es = append(es, lerrs...)
	t := c.Train
	if t.Epochs < 1 && len(t.Stages) == 0 { // with stages, each stage's epochs are checked
		add(0, "train.epochs must be at least 1, got %d", t.Epochs)
	}
	if t.BatchSize < 1 {
		add(0, "train.batch_size must be at least 1, got %d", t.BatchSize)
	}
	if _, err := c.Plan(); err != nil {
		add(0, "%v", err)
	}
	if e := t.EarlyStopping; e != nil {
		if e.Monitor != "val_loss" && e.Monitor != "val_acc" {
			add(0, "train.early_stopping.monitor must be val_loss or val_acc, got %q", e.Monitor)
		}
		if e.Patience < 1 {
			add(0, "train.early_stopping.patience must be at least 1 epoch, got %d", e.Patience)
		}
		if e.MinDelta < 0 {
			add(0, "train.early_stopping.min_delta cannot be negative, got %v", e.MinDelta)
		}
	}
	if t.LabelSmoothing < 0 || t.LabelSmoothing >= 1 {
		add(0, "train.label_smoothing is a fraction in [0, 1), got %v", t.LabelSmoothing)
	}
	if w := t.ClassWeights; w != nil && !w.Auto {
		for _, v := range w.Values {
			if !(v >= 0) || math.IsInf(v, 0) {
				add(0, "train.class_weights must be finite and not negative, got %v", v)
				break
			}
		}
	}
	if t.ClipGradNorm < 0 {
		add(0, "train.clip_grad_norm cannot be negative, got %v", t.ClipGradNorm)
	}
	if a := c.Augment; a != nil {
		c.checkAugment(a, func(format string, args ...any) { add(0, format, args...) })
	}
	o := t.Optimizer
	if !slices.Contains(Optimizers, o.Name) {
		add(0, "train.optimizer.name must be one of %s, got %q", strings.Join(Optimizers, ", "), o.Name)
	}
	if o.LR <= 0 {
		add(0, "train.optimizer.lr must be positive, got %v", o.LR)
	}
	if o.Momentum < 0 || o.Momentum >= 1 {
		add(0, "train.optimizer.momentum must be in [0, 1), got %v", o.Momentum)
	}
	if o.Momentum > 0 && o.Name != "momentum" && o.Name != "nesterov" {
		add(0, "train.optimizer.momentum applies to momentum and nesterov, not %s", o.Name)
	}
	if o.WeightDecay < 0 {
		add(0, "train.optimizer.weight_decay cannot be negative, got %v", o.WeightDecay)
	}
	for _, v := range []float64{o.Beta1, o.Beta2, o.Rho} {
		if v < 0 || v >= 1 {
			add(0, "train.optimizer beta1, beta2 and rho must be in [0, 1), got %v", v)
		}
	}
	p := c.Preprocess
	if !slices.Contains([]string{"mnist", "fit", "resize"}, p.Mode) {
		add(0, "preprocess.mode must be mnist, fit or resize, got %q", p.Mode)
	}
	if !slices.Contains([]string{"auto", "yes", "no"}, p.Invert) {
		add(0, "preprocess.invert must be auto, yes or no, got %q", p.Invert)
	}
	if p.Fill < 0 || p.Fill > 1 || (p.Mode == "fit" && p.Fill == 0) {
		add(0, "preprocess.fill is a fraction in (0, 1], got %v", p.Fill)
	}
	if len(d.Shape) == 3 && d.Shape[0] != 1 && (p.Mode != "resize" || p.Invert != "no") {
		add(0, "preprocess: colour inputs take mode resize and invert no")
	}
	if len(d.Shape) == 3 && p.Mode == "mnist" && (d.Shape[1] < 8 || d.Shape[1] != d.Shape[2]) {
		add(0, "preprocess.mode mnist needs a square input of at least 8×8, got %v", d.Shape)
	}
	s := t.Schedule
	if !slices.Contains(Schedules, s.Name) {
		add(0, "train.schedule.name must be one of %s, got %q", strings.Join(Schedules, ", "), s.Name)
	}
	if s.Gamma < 0 || s.MinLR < 0 {
		add(0, "train.schedule gamma and min_lr cannot be negative")
	}
	if s.Warmup < 0 || (s.Warmup > 0 && t.Epochs > 0 && s.Warmup >= float64(t.Epochs)) {
		add(0, "train.schedule.warmup is a number of epochs in [0, train.epochs), got %v", s.Warmup)
	}
	return es
}

// Marshal renders the config as YAML (for the run folder and checkpoints).
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
