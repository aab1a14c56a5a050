package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinogradMatchesNaiveLoops checks the F(2×2,3×3) path against the
// direct definition, with and without padding, for even and odd sizes.
func TestWinogradMatchesNaiveLoops(t *testing.T) {
	defer func(on bool) { Winograd = on }(Winograd)
	Winograd = true
	rng := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct{ B, C, H, W, O, P int }{
		{2, 16, 8, 8, 16, 1}, {1, 17, 7, 9, 20, 0}, {3, 16, 5, 6, 16, 1}, {2, 32, 14, 14, 24, 1},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			x := randTensor(rng, 1, c.B, c.C, c.H, c.W)
			w := randTensor(rng, 0.3, c.O, c.C, 3, 3)
			b := randTensor(rng, 1, c.O)
			op := NewConv2D("t", ConvGeom{3, 1, c.P}, true, false, false)
			if _, err := op.InferShape(x.Shape(), w.Shape()); err != nil {
				t.Fatal(err)
			}
			if !useWinograd(op.dims(x.Shape(), w.Shape()), false) {
				t.Fatal("not on the Winograd path")
			}
			got, err := op.Do(x, w, b)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveConv(x.Data().([]float32), w.Data().([]float32), b.Data().([]float32), c.B, c.C, c.H, c.W, c.O, 3, 1, c.P)
			var maxErr float64
			for i, v := range got.Data().([]float32) {
				maxErr = math.Max(maxErr, math.Abs(float64(v-want[i]))/(1+math.Abs(float64(want[i]))))
			}
			if maxErr > 1e-5 {
				t.Errorf("max relative difference %.3g from the direct convolution", maxErr)
			}
		})
	}
}

// BenchmarkConv3x3 compares im2col+GEMM, the shifted GEMMs and F(2×2,3×3)
// on 3×3 convolutions of 28×28 images (padding 1, batch 64, inference) as
// the channels grow.
func BenchmarkConv3x3(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, ch := range []int{8, 16, 32, 64} {
		x := randTensor(rng, 1, 64, ch, 28, 28)
		w := randTensor(rng, 0.1, ch, ch, 3, 3)
		bias := randTensor(rng, 0.1, ch)
		for _, path := range []string{"im2col", "shifted", "winograd"} {
			b.Run(fmt.Sprintf("C%d/%s", ch, path), func(b *testing.B) {
				op := NewConv2D("b", ConvGeom{3, 1, 1}, true, false, false)
				op.InferShape(x.Shape(), w.Shape())
				d := op.dims(x.Shape(), w.Shape())
				y := make([]float32, 64*ch*28*28)
				xd, wd, bd := x.Data().([]float32), w.Data().([]float32), bias.Data().([]float32)
				for b.Loop() {
					switch path {
					case "winograd":
						op.winogradForward(xd, wd, bd, y, d)
					case "shifted":
						op.shift.forward(xd, wd, bd, y, d, postSite{})
					default:
						op.im2colForward(xd, wd, bd, y, d)
					}
				}
				flops := 2 * 64 * float64(ch*ch*9*28*28)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
