package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/checkpoint"
	"github.com/cnnctl/cnnctl/internal/export"
	"github.com/spf13/cobra"
)

type exportOptions struct {
	Model  string
	Format string
	Out    string
	Module string // safetensors: also write the PyTorch module's source here
}

func newExportCmd(s streams) *cobra.Command {
	o := &exportOptions{}
	c := &cobra.Command{
		Use:   "export --model CKPT --format onnx|safetensors --out FILE",
		Short: "Write a model as ONNX or as PyTorch-loadable safetensors",
		Long: `Export hands a checkpoint to other tools.

onnx: an ONNX model (IR 7, opset 13) with input "input" (batch, C, H, W) — a
symbolic batch dimension — and outputs "logits" and "probabilities". Dropout is
dropped; batch norm is exported as BatchNormalization (run cnnctl fuse first to
fold it). Class names and the input normalisation are in metadata_props.

safetensors: the weights only, with the names and layouts of the state_dict of
the equivalent PyTorch model, which export prints (and --module writes to a
file): an nn.Sequential (module i = layer i of the config) for a plain list,
an nn.Module with a submodule per named layer and a forward pass that follows
the graph otherwise. model.load_state_dict(safetensors.torch.load_file(FILE))
then works, strictly.`,
		Example: `  cnnctl export --model best.ckpt --format onnx --out lenet.onnx
  cnnctl export --model best.ckpt --format safetensors --out lenet.safetensors
  cnnctl export --model best.ckpt --format safetensors --out resnet.safetensors --module resnet.py`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if o.Model == "" || o.Out == "" {
				return usagef("export needs --model CKPT and --out FILE")
			}
			if o.Format != "onnx" && o.Format != "safetensors" {
				return usagef("unknown --format %q: use onnx or safetensors", o.Format)
			}
			if o.Module != "" && o.Format != "safetensors" {
				return usagef("--module goes with --format safetensors")
			}
			return runExport(o, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint to export")
	f.StringVar(&o.Format, "format", "onnx", "onnx or safetensors")
	f.StringVar(&o.Out, "out", "", "file to write")
	f.StringVar(&o.Module, "module", "", "with safetensors: write the PyTorch module's Python source to this file too")
	return c
}

func runExport(o *exportOptions, s streams) error {
	st, err := checkpoint.Load(o.Model)
	if err != nil {
		return err
	}
	cfg := st.Config
	recipe, _ := json.Marshal(cfg.Preprocess) // how predict prepares images: mode, invert, fill
	meta := map[string]string{
		"cnnctl.input_shape":    fmt.Sprint(cfg.Data.Shape),
		"cnnctl.normalize.mean": fmt.Sprint(cfg.Data.Normalize.Mean),
		"cnnctl.normalize.std":  fmt.Sprint(cfg.Data.Normalize.Std),
		"cnnctl.source":         cfg.Data.Source,
		"cnnctl.preprocess":     string(recipe),
	}
	m := export.Model{Net: st.Net, Name: cfg.Name, Classes: st.Classes, Metadata: meta}
	if o.Format == "onnx" {
		err = export.WriteONNX(o.Out, m)
	} else {
		m.Metadata["classes"] = strings.Join(st.Classes, ",")
		err = export.WriteSafetensors(o.Out, m)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", o.Out, err)
	}
	if o.Module != "" {
		if err := atomicfile.WriteBytes(o.Module, []byte(export.PyTorchModule(st.Net))); err != nil {
			return fmt.Errorf("writing %s: %w", o.Module, err)
		}
	}
	info, _ := os.Stat(o.Out)
	fmt.Fprintf(s.Out, "wrote %s (%s, %d bytes, %d parameters)\n", o.Out, o.Format, info.Size(), st.Net.NumParams())
	if o.Format == "safetensors" {
		fmt.Fprintf(s.Out, "\nload it into PyTorch with:\n\n%s\nfrom safetensors.torch import load_file\nmodel.load_state_dict(load_file(%q))\nmodel.eval()\n", export.PyTorchModule(st.Net), o.Out)
	}
	return nil
}
