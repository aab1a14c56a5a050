package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cnnctl/cnnctl/internal/config"
	"github.com/cnnctl/cnnctl/internal/model"
	"github.com/nlpodyssey/safetensors"
)

const cfgDoc = `
name: ck
data: {source: xo, shape: [1, 10, 10]}
model:
  - {type: conv2d, filters: 2, kernel: 3}
  - {type: batchnorm}
  - {type: relu}
  - {type: flatten}
  - {type: dense, units: 2, bias: false}
train: {epochs: 2, optimizer: {name: momentum, lr: 0.1}}
`

func testState(t *testing.T) *State {
	t.Helper()
	cfg, err := config.Parse("ck.yaml", []byte(cfgDoc))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := model.New(cfg.Layers(), cfg.Data.Shape, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	bn := net.Layers[1].BN
	bn.RunningMean[0], bn.RunningVar[1], bn.NumBatches = 0.25, 2.5, 7
	slots := map[string][]float32{}
	for _, p := range net.Params() {
		v := make([]float32, len(p.Data()))
		for i := range v {
			v[i] = rng.Float32()
		}
		slots[p.Name+".momentum_buffer"] = v
	}
	return &State{Config: cfg, Classes: []string{"o", "x"}, Net: net, Epoch: 1, OptimizerStep: 42,
		OptimizerSlots: slots, RNG: map[string][]byte{"shuffle": {1, 2, 3}}, Meta: map[string]string{"best_val_acc": "0.5"}}
}

func TestRoundTrip(t *testing.T) {
	s := testState(t)
	path := filepath.Join(t.TempDir(), "a.ckpt")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 1 || got.OptimizerStep != 42 || !slices.Equal(got.Classes, s.Classes) ||
		!bytes.Equal(got.RNG["shuffle"], []byte{1, 2, 3}) || got.Meta["best_val_acc"] != "0.5" || got.Config.Name != "ck" {
		t.Errorf("metadata not restored: %+v", got)
	}
	for i, p := range s.Net.Params() {
		q := got.Net.Params()[i]
		if p.Name != q.Name || !slices.Equal(p.Data(), q.Data()) {
			t.Errorf("parameter %s differs", p.Name)
		}
		if !slices.Equal(got.OptimizerSlots[p.Name+".momentum_buffer"], s.OptimizerSlots[p.Name+".momentum_buffer"]) {
			t.Errorf("optimizer slot of %s differs", p.Name)
		}
	}
	bn := got.Net.Layers[1].BN
	if bn.RunningMean[0] != 0.25 || bn.RunningVar[1] != 2.5 || bn.NumBatches != 7 {
		t.Errorf("BN statistics: %+v", bn)
	}
}

// TestReadableByAnotherImplementation reads the file with an independent
// safetensors library, with PyTorch-style names and layouts.
func TestReadableByAnotherImplementation(t *testing.T) {
	s := testState(t)
	path := filepath.Join(t.TempDir(), "a.ckpt")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, err := safetensors.Deserialize(b)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := st.Tensor("0.weight")
	if !ok || w.DType().String() != "F32" || !slices.Equal(w.Shape(), []uint64{2, 1, 3, 3}) {
		t.Fatalf("0.weight: %v %v", w.DType(), w.Shape())
	}
	first := math.Float32frombits(binary.LittleEndian.Uint32(w.Data()))
	if first != s.Net.Layers[0].Weight.Data()[0] {
		t.Errorf("0.weight[0] = %v", first)
	}
	for _, name := range []string{"1.running_mean", "1.running_var", "1.num_batches_tracked", "4.weight"} {
		if _, ok := st.Tensor(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if _, ok := st.Tensor("4.bias"); ok {
		t.Error("a bias-free dense layer saved a bias")
	}
	_, md, _ := safetensors.ReadMetadata(b)
	if md.Metadata()["format"] != Format || !strings.Contains(md.Metadata()["config"], "conv2d") {
		t.Errorf("metadata %v", md.Metadata())
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	if err := Save(good, testState(t)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	foreign := &Safetensors{Tensors: map[string]Tensor{"w": {Shape: []int{1}, F32: []float32{1}}}}
	var fb bytes.Buffer
	bw := bufio.NewWriter(&fb)
	foreign.Write(bw)
	bw.Flush()
	cases := map[string]struct {
		data []byte
		want string
	}{
		"truncated.ckpt":   {b[:len(b)-10], "lies outside the"},
		"header-only.ckpt": {b[:30], "truncated: the header alone needs"},
		"text.ckpt":        {[]byte("model: lenet\nweights: none\n"), "not a safetensors file"},
		"empty.ckpt":       {nil, "too short"},
		"foreign.ckpt":     {fb.Bytes(), "not a cnnctl checkpoint"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, c.data, 0o644)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want %q and the path", name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.ckpt")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ckpt")
	s := testState(t)
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// A state that cannot be written (BN statistics that do not fit their
	// layer) fails and leaves the old file and no temporary behind.
	s.Net.Layers[1].BN.RunningMean = s.Net.Layers[1].BN.RunningMean[:1]
	if err := Save(path, s); err == nil {
		t.Fatal("inconsistent state saved")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed save changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// A shape whose element count overflows when multiplied out (2^62 floats in
// zero bytes: numel·4 wraps to 0) is an error, not a crash.
func TestOverflowingShapeIsRefused(t *testing.T) {
	for _, header := range []string{
		`{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`,
		`{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`,
		`{"w":{"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,0]}}`,
	} {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		b = append(b, header...)
		_, err := ParseSafetensors(b)
		if err == nil || !strings.Contains(err.Error(), "tensor w: shape") {
			t.Errorf("%s: %v", header, err)
		}
	}
}

// TestHugeEmbeddedConfigIsRefused: a small checkpoint whose embedded config
// describes a layer of 10⁸ units is refused before the network is
// allocated — its parameters would have to be in the file, which holds a
// few hundred values.
func TestHugeEmbeddedConfigIsRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	if err := Save(good, testState(t)); err != nil {
		t.Fatal(err)
	}
	st, err := ReadSafetensors(good)
	if err != nil {
		t.Fatal(err)
	}
	st.Metadata["config"] = strings.Replace(st.Metadata["config"], "units: 2", "units: 100000000", 1)
	bad := filepath.Join(dir, "bad.ckpt")
	f, _ := os.Create(bad)
	w := bufio.NewWriter(f)
	if err := st.Write(w); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(bad)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "embedded config: layer 4 (dense): the model would need more than") || !strings.Contains(err.Error(), "(the file holds ") {
		t.Fatalf("error %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("refusing it allocated %d MB", grew>>20)
	}
}
