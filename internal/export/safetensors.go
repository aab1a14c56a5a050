package export

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/model"
)

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteSafetensors writes the state dict (weights only) to path atomically,
// with {"format": "pt"} and the export metadata.
func WriteSafetensors(path string, m Model) error {
	md := map[string]string{"format": "pt"}
	for k, v := range m.Metadata {
		md[k] = v
	}
	st := &checkpoint.Safetensors{Metadata: md, Tensors: checkpoint.StateDict(m.Net)}
	return atomicfile.Write(path, func(w *bufio.Writer) error { return st.Write(w) })
}

// PyTorchModule is Python source for the torch.nn.Sequential whose
// state_dict the safetensors export matches, one module per config layer.
func PyTorchModule(n *model.Network) string {
	var b strings.Builder
	b.WriteString("import torch.nn as nn\n\nmodel = nn.Sequential(\n")
	for _, l := range n.Layers {
		s := l.Spec
		var m string
		switch s.Type {
		case "conv2d":
			m = fmt.Sprintf("nn.Conv2d(%d, %d, kernel_size=%d, stride=%d, padding=%d, bias=%s)",
				l.In[0], s.Filters, s.Kernel, s.Stride, s.Padding, pyBool(l.Bias != nil))
		case "dense":
			m = fmt.Sprintf("nn.Linear(%d, %d, bias=%s)", l.In[0], s.Units, pyBool(l.Bias != nil))
		case "batchnorm":
			kind := "BatchNorm2d"
			if len(l.In) == 1 {
				kind = "BatchNorm1d"
			}
			m = fmt.Sprintf("nn.%s(%d, eps=%g, momentum=%g)", kind, l.In[0], s.Eps, s.Momentum)
		case "relu":
			m = "nn.ReLU()"
		case "sigmoid":
			m = "nn.Sigmoid()"
		case "tanh":
			m = "nn.Tanh()"
		case "leaky_relu":
			m = fmt.Sprintf("nn.LeakyReLU(%g)", s.Alpha)
		case "maxpool":
			m = fmt.Sprintf("nn.MaxPool2d(kernel_size=%d, stride=%d, padding=%d)", s.Kernel, s.Stride, s.Padding)
		case "avgpool":
			m = fmt.Sprintf("nn.AvgPool2d(kernel_size=%d, stride=%d, padding=%d)", s.Kernel, s.Stride, s.Padding)
		case "dropout":
			m = fmt.Sprintf("nn.Dropout(%g)", s.Rate)
		case "flatten":
			m = "nn.Flatten()"
		}
		fmt.Fprintf(&b, "    %s,  # %d\n", m, l.Index)
	}
	b.WriteString(")\n")
	return b.String()
}

func pyBool(v bool) string {
	if v {
		return "True"
	}
	return "False"
}
