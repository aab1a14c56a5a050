package layers

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/export/onnxpb"
)

// ONNXGraph is the ONNX graph being written: kinds add nodes and
// initialisers to it.
type ONNXGraph struct {
	G *onnxpb.GraphProto
}

// Node appends a node named name (the layer's ID, or derived from it).
func (e *ONNXGraph) Node(name, op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	e.G.Node = append(e.G.Node, &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op),
		Input: in, Output: []string{out}, Attribute: attrs})
}

// Init adds a float32 initialiser and returns its name.
func (e *ONNXGraph) Init(name string, shape []int, v []float32) string {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
	for _, d := range shape {
		t.Dims = append(t.Dims, int64(d))
	}
	e.G.Initializer = append(e.G.Initializer, t)
	return name
}

// Params returns in followed by the layer's parameters, added as
// initialisers under their state_dict names.
func (e *ONNXGraph) Params(l *Layer, in []string) []string {
	out := append([]string(nil), in...)
	for _, p := range l.Params() {
		out = append(out, e.Init(p.Name, p.T.Shape(), p.Data()))
	}
	return out
}

// Ints is an INTS attribute.
func Ints(name string, v ...int) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum()}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}

// Int is an INT attribute.
func Int(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(v))}
}

// Float is a FLOAT attribute.
func Float(name string, v float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

// pads is ONNX's pads attribute for symmetric padding: begins, then ends.
func pads(p config.Pair) *onnxpb.AttributeProto { return Ints("pads", p.H, p.W, p.H, p.W) }

func hw(name string, p config.Pair) *onnxpb.AttributeProto { return Ints(name, p.H, p.W) }
