// Package export hands a trained network to other tools: an ONNX model
// (IR 7, opset 13) for any ONNX runtime, and a safetensors file of weights
// with PyTorch state_dict names for torch.nn.Sequential.
package export

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/cnnctl/cnnctl/internal/atomicfile"
	"github.com/cnnctl/cnnctl/internal/export/onnxpb"
	"github.com/cnnctl/cnnctl/internal/model"
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
// Dropout is omitted (inference); batch norm is exported as
// BatchNormalization (fuse first to fold it).
func ONNX(m Model) (*onnxpb.ModelProto, error) {
	g := &onnxpb.GraphProto{Name: proto.String(m.Name)}
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}}
	for _, d := range m.Net.Input {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	g.Input = append(g.Input, valueInfo("input", dims))
	x := "input"
	for _, l := range m.Net.Layers {
		s := l.Spec
		out := fmt.Sprintf("layer%d.%s", l.Index, s.Type)
		var node *onnxpb.NodeProto
		params := func() []string {
			in := []string{x}
			for _, p := range []*model.Param{l.Weight, l.Bias} {
				if p != nil {
					g.Initializer = append(g.Initializer, floatTensor(p.Name, p.T.Shape(), p.Data()))
					in = append(in, p.Name)
				}
			}
			return in
		}
		switch s.Type {
		case "conv2d":
			node = op("Conv", params(), out,
				ints("kernel_shape", s.Kernel, s.Kernel), ints("strides", s.Stride, s.Stride),
				ints("pads", s.Padding, s.Padding, s.Padding, s.Padding), ints("dilations", 1, 1))
		case "dense":
			node = op("Gemm", params(), out, intAttr("transB", 1))
		case "batchnorm":
			in := params()
			mean, variance := fmt.Sprintf("%d.running_mean", l.Index), fmt.Sprintf("%d.running_var", l.Index)
			c := []int{len(l.BN.RunningMean)}
			g.Initializer = append(g.Initializer, floatTensor(mean, c, l.BN.RunningMean), floatTensor(variance, c, l.BN.RunningVar))
			node = op("BatchNormalization", append(in, mean, variance), out,
				floatAttr("epsilon", l.BN.Eps), floatAttr("momentum", 1-l.BN.Momentum))
		case "relu":
			node = op("Relu", []string{x}, out)
		case "sigmoid":
			node = op("Sigmoid", []string{x}, out)
		case "tanh":
			node = op("Tanh", []string{x}, out)
		case "leaky_relu":
			node = op("LeakyRelu", []string{x}, out, floatAttr("alpha", s.Alpha))
		case "maxpool", "avgpool":
			attrs := []*onnxpb.AttributeProto{ints("kernel_shape", s.Kernel, s.Kernel), ints("strides", s.Stride, s.Stride),
				ints("pads", s.Padding, s.Padding, s.Padding, s.Padding)}
			if s.Type == "maxpool" {
				node = op("MaxPool", []string{x}, out, attrs...)
			} else {
				node = op("AveragePool", []string{x}, out, append(attrs, intAttr("count_include_pad", 1))...)
			}
		case "flatten":
			node = op("Flatten", []string{x}, out, intAttr("axis", 1))
		case "dropout":
			continue // identity at inference
		default:
			return nil, fmt.Errorf("layer %d: cannot export %s to ONNX", l.Index, s.Type)
		}
		node.Name = proto.String(fmt.Sprintf("%d.%s", l.Index, s.Type))
		g.Node = append(g.Node, node)
		x = out
	}
	k := int64(m.Net.Classes)
	batch := func() []*onnxpb.TensorShapeProto_Dimension {
		return []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: k}},
		}
	}
	g.Node = append(g.Node, op("Identity", []string{x}, "logits"), op("Softmax", []string{x}, "probabilities", intAttr("axis", 1)))
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

func ints(name string, v ...int) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum()}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}

func intAttr(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

func floatAttr(name string, v float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

func floatTensor(name string, shape []int, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
	for _, d := range shape {
		t.Dims = append(t.Dims, int64(d))
	}
	return t
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
