package model

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestTmpFirstStep(t *testing.T) {
	b := &testing.B{}
	n := shippedNet(b, "vibration-1d.yaml")
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		g, err := n.BuildTrain(32, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		fillRandom(g, 4)
		t1 := time.Now()
		var d []time.Duration
		for j := 0; j < 6; j++ {
			s := time.Now()
			if err := g.Run(); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(s))
		}
		t.Logf("build %v steps %v", t1.Sub(t0), d)
		g.Close()
	}
}
