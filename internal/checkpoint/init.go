package checkpoint

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/model"
)

// Transfer says which layers InitFrom loaded and which it left as
// initialised, with the reason for each of those.
type Transfer struct {
	Loaded []string
	Fresh  []string // "11 (weight is 2×500 here, 10×500 in the file)"
}

// InitFrom copies into n the tensors of a checkpoint or of a PyTorch
// state_dict in safetensors (the names cnnctl exports: "<layer>.weight",
// "<layer>.running_mean", …), layer by layer: a layer is loaded when every
// one of its tensors is in the file with the same shape, and otherwise
// keeps its initial values. It fails when no layer matches.
func InitFrom(path string, n *model.Network) (*Transfer, error) {
	st, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	sd := StateDict(n) // the network's own tensors: writing t.F32 writes the network
	tr := &Transfer{}
	for _, l := range n.Layers {
		names := tensorNames(l)
		if len(names) == 0 {
			continue
		}
		why := ""
		for _, name := range names {
			want, got := sd[name], st.Tensors[name]
			switch {
			case got.F32 == nil && got.I64 == nil:
				why = name + " is not in the file"
			case !slices.Equal(want.Shape, got.Shape):
				why = fmt.Sprintf("%s is %s here, %s in the file", name, shapeText(want.Shape), shapeText(got.Shape))
			case (want.F32 == nil) != (got.F32 == nil):
				why = fmt.Sprintf("%s is %s in the file, not %s", name, got.dtype(), want.dtype())
			case !finite(got.F32):
				why = name + " holds a non-finite value in the file"
			}
			if why != "" {
				break
			}
		}
		if why != "" {
			tr.Fresh = append(tr.Fresh, fmt.Sprintf("%s (%s)", l.ID, why))
			continue
		}
		for _, name := range names {
			copy(sd[name].F32, st.Tensors[name].F32)
		}
		if l.BN != nil {
			if t := st.Tensors[l.ID+".num_batches_tracked"]; len(t.I64) == 1 {
				l.BN.NumBatches = t.I64[0]
			}
		}
		tr.Loaded = append(tr.Loaded, l.ID)
	}
	if len(tr.Loaded) == 0 {
		have := make([]string, 0, len(st.Tensors))
		for name := range st.Tensors {
			if !strings.HasPrefix(name, "optimizer.") {
				have = append(have, name)
			}
		}
		slices.Sort(have)
		if len(have) > 8 {
			have = append(have[:8], "…")
		}
		return nil, fmt.Errorf("%s: no layer of the model matches its tensors (it holds %s; the model's first layer wants %s)",
			path, strings.Join(have, ", "), firstWant(n, sd))
	}
	return tr, nil
}

// tensorNames lists a layer's float tensors in the state_dict.
func tensorNames(l *model.Layer) []string {
	var names []string
	for _, p := range l.Params() {
		names = append(names, p.Name)
	}
	if l.BN != nil {
		names = append(names, l.ID+".running_mean", l.ID+".running_var")
	}
	return names
}

func firstWant(n *model.Network, sd map[string]Tensor) string {
	for _, l := range n.Layers {
		if names := tensorNames(l); len(names) > 0 {
			return fmt.Sprintf("%s of %s", names[0], shapeText(sd[names[0]].Shape))
		}
	}
	return "nothing"
}

func shapeText(s []int) string {
	if len(s) == 0 {
		return "a scalar"
	}
	return model.ShapeString(s)
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
