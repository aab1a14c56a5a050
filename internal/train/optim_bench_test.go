package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cnnctl/cnnctl/internal/model"
)

// BenchmarkOptimizerUpdate is one update of every parameter tensor of
// configs/vibration-1d.yaml (21,780 values in 18 tensors) and of LeNet-BN
// (431,080 in 12), per rule: what a training step spends after backward.
func BenchmarkOptimizerUpdate(b *testing.B) {
	nets := []struct {
		name  string
		sizes []int
	}{
		{"vibration-1d", []int{1024, 16, 16, 16, 1536, 32, 32, 32, 6144, 64, 64, 64, 12288, 64, 64, 64, 256, 4}},
		{"lenet-bn", []int{500, 20, 20, 20, 25000, 50, 50, 50, 400000, 500, 5000, 10}},
	}
	for _, net := range nets {
		rng := rand.New(rand.NewPCG(1, 2))
		params := make([]*model.Param, len(net.sizes))
		grads := make([][]float32, len(net.sizes))
		for i, n := range net.sizes {
			w, g := make([]float32, n), make([]float32, n)
			for j := range w {
				w[j], g[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			params[i], grads[i] = param(w...), g
		}
		for _, rule := range []string{"momentum", "adam"} {
			o, err := NewOptimizer(optimizerConfig(rule, 1e-3), params)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%s", net.name, rule), func(b *testing.B) {
				for b.Loop() {
					o.Update(grads, 1e-3)
				}
			})
		}
	}
}
