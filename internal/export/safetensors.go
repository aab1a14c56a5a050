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

// PyTorchModule is Python source for the PyTorch model whose state_dict
// the safetensors export matches: an nn.Sequential of one module per layer
// when the network is a plain list of unnamed layers, otherwise an
// nn.Module whose submodules are registered under the layers' IDs (a block's
// layers nested under the block's name) and whose forward pass follows the
// graph.
func PyTorchModule(n *model.Network) string {
	var b strings.Builder
	plain := n.IsChain()
	for _, l := range n.Layers {
		if l.Spec.Name != "" || l.Kind.Torch == nil || l.Kind.Torch(l).Module == "" {
			plain = false
		}
	}
	if plain {
		b.WriteString("import torch.nn as nn\n\nmodel = nn.Sequential(\n")
		for _, l := range n.Layers {
			fmt.Fprintf(&b, "    %s,  # %s\n", l.Kind.Torch(l).Module, l.ID)
		}
		b.WriteString(")\n")
		return b.String()
	}
	b.WriteString(`import torch
import torch.nn as nn


def _put(root, path, module):
    *parents, leaf = path.split(".")
    for p in parents:
        if p not in root._modules:
            root.add_module(p, nn.Module())
        root = root._modules[p]
    root.add_module(leaf, module)


def _get(root, path):
    for p in path.split("."):
        root = root._modules[p]
    return root


class Net(nn.Module):
    def __init__(self):
        super().__init__()
`)
	for _, l := range n.Layers {
		if t := l.Kind.Torch(l); t.Module != "" {
			fmt.Fprintf(&b, "        _put(self, %q, %s)\n", l.ID, t.Module)
		}
	}
	b.WriteString("\n    def forward(self, x):\n")
	vars := make([]string, len(n.Layers))
	for i, l := range n.Layers {
		in := make([]string, len(l.Inputs))
		for k, j := range l.Inputs {
			in[k] = "x"
			if j >= 0 {
				in[k] = vars[j]
			}
		}
		vars[i] = fmt.Sprintf("h%d", i)
		t := l.Kind.Torch(l)
		expr := ""
		if t.Module != "" {
			expr = fmt.Sprintf("_get(self, %q)(%s)", l.ID, in[0])
		} else {
			expr = t.Expr(in)
		}
		fmt.Fprintf(&b, "        %s = %s  # %s\n", vars[i], expr, l.Describe())
	}
	fmt.Fprintf(&b, "        return %s\n\n\nmodel = Net()\n", vars[len(vars)-1])
	return b.String()
}
