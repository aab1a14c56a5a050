// Package export hands a trained network to other tools: an ONNX model
// (IR 7, opset 13) for any ONNX runtime, and a safetensors file of weights
// with PyTorch state_dict names for torch.nn.Sequential.
package export

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/export/onnxpb"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/cnnctl/cnnctl/internal/model/layers"
	"google.golang.org/protobuf/proto"
)

// ONNX format versions written: IR 7 and opset 13 load in every current runtime.
const (
	onnxIRVersion = 7
	onnxOpset     = 13
)

// Model is what an export needs besides the network.
type Model struct {
	Net      *model.Network
	Name     string
	Classes  []string
	Metadata map[string]string // stored as metadata_props (normalisation, preprocessing…)
}

// ONNX builds the ONNX model: input "input" (batch, C, H, W) with a
// symbolic batch dimension, outputs "logits" and "probabilities" (softmax).
// Each layer kind writes its own nodes (internal/model/layers); dropout is
// omitted (inference); batch norm is exported as BatchNormalization (fuse
// first to fold it).
func ONNX(m Model) (*onnxpb.ModelProto, error) {
	g := &onnxpb.GraphProto{Name: proto.String(m.Name)}
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}}
	for _, d := range m.Net.Input {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	g.Input = append(g.Input, valueInfo("input", dims))
	e := &layers.ONNXGraph{G: g}
	// Each layer writes one value, named after it; a layer with no ONNX
	// form (dropout) passes its input on.
	value := make([]string, len(m.Net.Layers))
	for i, l := range m.Net.Layers {
		in := make([]string, len(l.Inputs))
		for k, j := range l.Inputs {
			in[k] = "input"
			if j >= 0 {
				in[k] = value[j]
			}
		}
		if l.Kind.ONNX == nil {
			value[i] = in[0]
			continue
		}
		value[i] = fmt.Sprintf("layer%s.%s", l.ID, l.Spec.Type)
		l.Kind.ONNX(e, l, in, value[i])
	}
	x := value[len(value)-1]
	k := int64(m.Net.Classes)
	batch := func() []*onnxpb.TensorShapeProto_Dimension {
		return []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: k}},
		}
	}
	g.Node = append(g.Node, op("Identity", []string{x}, "logits"), op("Softmax", []string{x}, "probabilities", layers.Int("axis", 1)))
	g.Output = append(g.Output, valueInfo("logits", batch()), valueInfo("probabilities", batch()))

	classes, _ := json.Marshal(m.Classes)
	props := []*onnxpb.StringStringEntryProto{{Key: proto.String("classes"), Value: proto.String(string(classes))}}
	for _, key := range sortedKeys(m.Metadata) {
		props = append(props, &onnxpb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(m.Metadata[key])})
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(onnxIRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(onnxOpset)}},
		ProducerName:    proto.String("cnnctl"),
		ProducerVersion: proto.String("1"),
		DocString:       proto.String("A " + m.Name + " network exported by cnnctl; input is normalised as metadata_props say."),
		Graph:           g,
		MetadataProps:   props,
	}, nil
}

// WriteONNX serialises the model to path atomically.
func WriteONNX(path string, m Model) error {
	mp, err := ONNX(m)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func op(typ string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(typ), Input: in, Output: []string{out}, Attribute: attrs}
}

func valueInfo(name string, dims []*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}
