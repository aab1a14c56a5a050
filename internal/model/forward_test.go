package model

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestForwardMatchesTape runs every shipped network's inference graph both
// ways — its ops directly, and on Gorgonia's tape machine — and wants the
// same logits, bit for bit (the same ops on the same buffers in an order
// that respects the same dependencies).
func TestForwardMatchesTape(t *testing.T) {
	paths, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped configs: %v", err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		if strings.HasPrefix(name, "sweep-") {
			continue // a sweep's base config, its network one of the others
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			n := shippedNet(t, name)
			direct, err := n.BuildInference(3)
			if err != nil {
				t.Fatal(err)
			}
			tape, err := n.BuildInference(3)
			if err != nil {
				t.Fatal(err)
			}
			tape.fwd, tape.vm = nil, G.NewTapeMachine(tape.g)
			defer tape.Close()
			classes := direct.Logits.Shape()[1]
			fillRandom(direct, classes)
			fillRandom(tape, classes)
			for round := range 2 { // the second run reuses every buffer
				if err := direct.Run(); err != nil {
					t.Fatal(err)
				}
				if err := tape.Run(); err != nil {
					t.Fatal(err)
				}
				a, b := direct.LogitsData(), tape.LogitsData()
				if len(a) != 3*classes || len(b) != len(a) {
					t.Fatalf("logits: %d and %d values, want %d", len(a), len(b), 3*classes)
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("round %d, logit %d: %v directly, %v on the tape", round, i, a[i], b[i])
					}
				}
			}
		})
	}
}
