package checkpoint

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// release1 is a checkpoint written by the first release (every layer kind
// it had, trained briefly on X-vs-O), with the logits that release computed
// for fixed inputs. Every later release must load it and give those logits.
const (
	release1       = "testdata/release1-every-layer.ckpt"
	release1Logits = "testdata/release1-every-layer.logits.json"
)

// compatInputs are 8 deterministic 1×28×28 inputs.
func compatInputs() []float32 {
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, 8*28*28)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestReleaseOneCheckpointGivesTheSameLogits(t *testing.T) {
	st, err := Load(release1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.Net.BuildInference(8)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	copy(g.Input.Data().([]float32), compatInputs())
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	got := g.LogitsData()
	if os.Getenv("CNNCTL_WRITE_GOLDEN") != "" {
		b, _ := json.Marshal(got)
		if err := os.WriteFile(release1Logits, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(release1Logits)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d logits, want %d", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
			t.Fatalf("logit %d = %v, release 1 gave %v", i, got[i], want[i])
		}
	}
}
