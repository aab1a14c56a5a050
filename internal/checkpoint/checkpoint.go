package checkpoint

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model"
)

// Format identifies cnnctl checkpoints in the metadata.
const Format = "cnnctl.checkpoint.v1"

// State is everything a checkpoint holds.
type State struct {
	Config  *config.Config
	Classes []string
	Net     *model.Network
	// Epoch is the number of completed epochs.
	Epoch int
	// OptimizerStep and OptimizerSlots are the optimizer's state; slots are
	// keyed "<param>.<slot>" (e.g. "0.weight.momentum_buffer").
	OptimizerStep  int64
	OptimizerSlots map[string][]float32
	// RNG holds serialized random-number generator states by name.
	RNG map[string][]byte
	// Meta holds further string facts (best validation accuracy, version…).
	Meta map[string]string
}

// Save writes the state to path atomically.
func Save(path string, s *State) error {
	cfgYAML, err := s.Config.Marshal()
	if err != nil {
		return err
	}
	classes, _ := json.Marshal(s.Classes)
	st := &Safetensors{
		Metadata: map[string]string{
			"format":         Format,
			"config":         string(cfgYAML),
			"classes":        string(classes),
			"epoch":          strconv.Itoa(s.Epoch),
			"optimizer_step": strconv.FormatInt(s.OptimizerStep, 10),
		},
		Tensors: map[string]Tensor{},
	}
	for k, v := range s.Meta {
		st.Metadata[k] = v
	}
	for name, b := range s.RNG {
		st.Metadata["rng."+name] = base64.StdEncoding.EncodeToString(b)
	}
	st.Tensors = StateDict(s.Net)
	for k, v := range s.OptimizerSlots {
		st.Tensors["optimizer."+k] = Tensor{Shape: []int{len(v)}, F32: v}
	}
	return atomicfile.Write(path, func(w *bufio.Writer) error { return st.Write(w) })
}

// Load reads a checkpoint and rebuilds its network with the saved weights.
func Load(path string) (*State, error) {
	st, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	s, err := fromSafetensors(path, st)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func fromSafetensors(path string, st *Safetensors) (*State, error) {
	md := st.Metadata
	if md["format"] != Format {
		if md["format"] == "" {
			return nil, fmt.Errorf("a safetensors file, but not a cnnctl checkpoint (no format in its metadata)")
		}
		return nil, fmt.Errorf("checkpoint format %q is not %q", md["format"], Format)
	}
	cfg, err := config.Parse(path+" (embedded config)", []byte(md["config"]))
	if err != nil {
		return nil, err
	}
	s := &State{Config: cfg, RNG: map[string][]byte{}, Meta: map[string]string{}, OptimizerSlots: map[string][]float32{}}
	if err := json.Unmarshal([]byte(md["classes"]), &s.Classes); err != nil {
		return nil, fmt.Errorf("bad class list in metadata: %v", err)
	}
	if s.Epoch, err = strconv.Atoi(md["epoch"]); err != nil {
		return nil, fmt.Errorf("bad epoch in metadata: %q", md["epoch"])
	}
	if s.OptimizerStep, err = strconv.ParseInt(md["optimizer_step"], 10, 64); err != nil {
		return nil, fmt.Errorf("bad optimizer_step in metadata: %q", md["optimizer_step"])
	}
	for k, v := range md {
		switch {
		case strings.HasPrefix(k, "rng."):
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("bad %s in metadata", k)
			}
			s.RNG[strings.TrimPrefix(k, "rng.")] = b
		case !slices.Contains([]string{"format", "config", "classes", "epoch", "optimizer_step"}, k):
			s.Meta[k] = v
		}
	}
	// Parameters are overwritten below; the initialiser's seed is irrelevant.
	// Every parameter is a tensor of the file, so a config that needs more
	// values than the file holds is refused before they are allocated.
	var held int64
	for _, t := range st.Tensors {
		held += int64(len(t.F32))
	}
	net, err := model.NewBounded(cfg.Layers(), cfg.Data.Shape, len(s.Classes), rand.New(rand.NewPCG(0, 0)), held)
	if err != nil {
		return nil, fmt.Errorf("embedded config: %w (the file holds %d values)", err, held)
	}
	s.Net = net
	used := map[string]bool{}
	take := func(name string, dst []float32, shape []int) error {
		t, ok := st.Tensors[name]
		if !ok {
			return fmt.Errorf("tensor %s is missing", name)
		}
		if t.F32 == nil || !slices.Equal(t.Shape, shape) {
			return fmt.Errorf("tensor %s has shape %v (%s), the model needs %v (F32)", name, t.Shape, t.dtype(), shape)
		}
		for i, v := range t.F32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %s holds %v at index %d: a model with non-finite weights gives no usable output (did the run that wrote it diverge?)", name, v, i)
			}
		}
		copy(dst, t.F32)
		used[name] = true
		return nil
	}
	for _, l := range net.Layers {
		for _, p := range l.Params() {
			if err := take(p.Name, p.Data(), p.T.Shape()); err != nil {
				return nil, err
			}
		}
		if l.BN != nil {
			c := []int{len(l.BN.RunningMean)}
			if err := take(l.ID+".running_mean", l.BN.RunningMean, c); err != nil {
				return nil, err
			}
			if err := take(l.ID+".running_var", l.BN.RunningVar, c); err != nil {
				return nil, err
			}
			nb := l.ID + ".num_batches_tracked"
			if t, ok := st.Tensors[nb]; ok && len(t.I64) == 1 {
				l.BN.NumBatches = t.I64[0]
				used[nb] = true
			}
		}
	}
	for name, t := range st.Tensors {
		if k, ok := strings.CutPrefix(name, "optimizer."); ok && t.F32 != nil {
			s.OptimizerSlots[k] = t.F32
			used[name] = true
		}
	}
	for name := range st.Tensors {
		if !used[name] {
			return nil, fmt.Errorf("tensor %s does not belong to the model in the embedded config", name)
		}
	}
	return s, nil
}

// StateDict returns the network's tensors under the names PyTorch gives
// them, each layer being the module registered under its ID (layer i of a
// plain list is module i of an nn.Sequential; a named layer, or a layer
// res1.conv1 of a block, is that module): "<id>.weight", "<id>.bias", and
// for batch norm "<id>.running_mean", "<id>.running_var",
// "<id>.num_batches_tracked". Layouts are PyTorch's: conv weights
// [out, in/groups, kh, kw], transposed conv [in, out/groups, kh, kw],
// linear weights [out, in].
func StateDict(n *model.Network) map[string]Tensor {
	sd := map[string]Tensor{}
	for _, l := range n.Layers {
		for _, p := range l.Params() {
			sd[p.Name] = Tensor{Shape: p.T.Shape().Clone(), F32: p.Data()}
		}
		if l.BN != nil {
			c := []int{len(l.BN.RunningMean)}
			sd[l.ID+".running_mean"] = Tensor{Shape: c, F32: l.BN.RunningMean}
			sd[l.ID+".running_var"] = Tensor{Shape: c, F32: l.BN.RunningVar}
			sd[l.ID+".num_batches_tracked"] = Tensor{Shape: []int{}, I64: []int64{l.BN.NumBatches}}
		}
	}
	return sd
}
