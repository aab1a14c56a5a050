package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/im2col"
)

// naiveConvGeneral is the definition of a grouped, dilated convolution with
// rectangular kernels, written as explicit loops.
func naiveConvGeneral(x, w, b []float32, B, C, H, W, O, groups int, g im2col.Geom) []float32 {
	OH, OW := g.Out(H, W)
	cg, og := C/groups, O/groups
	y := make([]float32, B*O*OH*OW)
	for n := range B {
		for o := range O {
			grp := o / og
			for oy := range OH {
				for ox := range OW {
					var acc float64
					if b != nil {
						acc = float64(b[o])
					}
					for c := range cg {
						ci := grp*cg + c
						for ki := range g.KH {
							for kj := range g.KW {
								iy, ix := oy*g.SH-g.PH+ki*g.DH, ox*g.SW-g.PW+kj*g.DW
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									continue
								}
								acc += float64(x[((n*C+ci)*H+iy)*W+ix]) * float64(w[((o*cg+c)*g.KH+ki)*g.KW+kj])
							}
						}
					}
					y[((n*O+o)*OH+oy)*OW+ox] = float32(acc)
				}
			}
		}
	}
	return y
}

// naiveConvTranspose scatters every input pixel through the kernel, the
// textbook picture of a transposed convolution; w is (C, O/G, KH, KW).
func naiveConvTranspose(x, w, b []float32, B, C, H, W, O, groups int, g im2col.Geom, op [2]int) []float32 {
	OH := im2col.TransposedOut(H, g.KH, g.SH, g.PH, g.DH, op[0])
	OW := im2col.TransposedOut(W, g.KW, g.SW, g.PW, g.DW, op[1])
	cg, og := C/groups, O/groups
	y := make([]float64, B*O*OH*OW)
	for n := range B {
		for c := range C {
			grp := c / cg
			for iy := range H {
				for ix := range W {
					v := float64(x[((n*C+c)*H+iy)*W+ix])
					for j := range og {
						o := grp*og + j
						for ki := range g.KH {
							for kj := range g.KW {
								oy, ox := iy*g.SH-g.PH+ki*g.DH, ix*g.SW-g.PW+kj*g.DW
								if oy < 0 || oy >= OH || ox < 0 || ox >= OW {
									continue
								}
								y[((n*O+o)*OH+oy)*OW+ox] += v * float64(w[((c*og+j)*g.KH+ki)*g.KW+kj])
							}
						}
					}
				}
			}
		}
	}
	out := make([]float32, len(y))
	for i := range y {
		out[i] = float32(y[i])
		if b != nil {
			out[i] += b[(i/(OH*OW))%O]
		}
	}
	return out
}

var generalCases = []struct {
	name          string
	B, C, H, W, O int
	groups        int
	g             im2col.Geom
	outPad        [2]int
	bias          bool
}{
	{"rectangular kernel and stride", 2, 2, 7, 9, 3, 1, im2col.Geom{KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 0, DH: 1, DW: 1}, [2]int{1, 0}, true},
	{"dilation 2", 2, 3, 9, 8, 2, 1, im2col.Geom{KH: 3, KW: 3, SH: 1, SW: 1, PH: 2, PW: 2, DH: 2, DW: 2}, [2]int{}, false},
	{"groups 2", 3, 4, 6, 6, 6, 2, im2col.Geom{KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, [2]int{}, true},
	{"depthwise", 2, 3, 6, 5, 3, 3, im2col.Geom{KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, [2]int{1, 1}, true},
	{"depthwise ×2", 2, 2, 5, 5, 4, 2, im2col.Geom{KH: 2, KW: 3, SH: 1, SW: 2, PH: 0, PW: 1, DH: 2, DW: 1}, [2]int{0, 1}, false},
	{"depthwise stride 1", 3, 4, 7, 6, 4, 4, im2col.Geom{KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}, [2]int{}, true},
	{"depthwise stride 1 ×2 rectangular", 2, 3, 6, 9, 6, 3, im2col.Geom{KH: 3, KW: 5, SH: 1, SW: 1, PH: 0, PW: 2, DH: 1, DW: 1}, [2]int{}, true},
}

func TestConvGeneralMatchesNaiveLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range generalCases {
		for _, transposed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s transposed=%v", c.name, transposed), func(t *testing.T) {
				x := randTensor(rng, 1, c.B, c.C, c.H, c.W)
				ws := []int{c.O, c.C / c.groups, c.g.KH, c.g.KW}
				if transposed {
					ws = []int{c.C, c.O / c.groups, c.g.KH, c.g.KW}
				}
				w := randTensor(rng, 1, ws...)
				bias := randTensor(rng, 1, c.O)
				op := NewConvGeneral("t", c.g, c.groups, transposed, c.outPad, c.bias, true, false)
				vs := []G.Value{x, w}
				var b []float32
				if c.bias {
					vs = append(vs, bias)
					b = bias.Data().([]float32)
				}
				if _, err := op.InferShape(x.Shape(), w.Shape()); err != nil {
					t.Fatal(err)
				}
				y, err := op.Do(vs...)
				if err != nil {
					t.Fatal(err)
				}
				var want []float32
				if transposed {
					want = naiveConvTranspose(x.Data().([]float32), w.Data().([]float32), b, c.B, c.C, c.H, c.W, c.O, c.groups, c.g, c.outPad)
				} else {
					want = naiveConvGeneral(x.Data().([]float32), w.Data().([]float32), b, c.B, c.C, c.H, c.W, c.O, c.groups, c.g)
				}
				got := y.(tensor.Tensor).Data().([]float32)
				if len(got) != len(want) {
					t.Fatalf("%d outputs, want %d (shape %v)", len(got), len(want), y.(tensor.Tensor).Shape())
				}
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-4 {
						t.Fatalf("y[%d] = %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestConvGeneralGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range generalCases {
		for _, transposed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s transposed=%v", c.name, transposed), func(t *testing.T) {
				ws := []int{c.O, c.C / c.groups, c.g.KH, c.g.KW}
				if transposed {
					ws = []int{c.C, c.O / c.groups, c.g.KH, c.g.KW}
				}
				ins := []checkInput{
					{"x", randTensor(rng, 1, c.B, c.C, c.H, c.W), true},
					{"w", randTensor(rng, 1, ws...), true},
				}
				if c.bias {
					ins = append(ins, checkInput{"b", randTensor(rng, 1, c.O), true})
				}
				gradCheck(t, ins, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
					op := NewConvGeneral("t", c.g, c.groups, transposed, c.outPad, c.bias, true, true)
					var b *G.Node
					if c.bias {
						b = n[2]
					}
					return op.Apply(n[0], n[1], b)
				}, 2e-3)
			})
		}
	}
}

// The general op and the tuned square one agree where both apply.
func TestConvGeneralAgreesWithConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randTensor(rng, 1, 3, 2, 9, 9)
	w := randTensor(rng, 1, 4, 2, 3, 3)
	b := randTensor(rng, 1, 4)
	sq := NewConv2D("a", ConvGeom{Kernel: 3, Stride: 2, Pad: 1}, true, true, false)
	gen := NewConvGeneral("b", im2col.Geom{KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}, 1, false, [2]int{}, true, true, false)
	sq.InferShape(x.Shape(), w.Shape())
	gen.InferShape(x.Shape(), w.Shape())
	ya, _ := sq.Do(x, w, b)
	yb, _ := gen.Do(x, w, b)
	a, bb := ya.(tensor.Tensor).Data().([]float32), yb.(tensor.Tensor).Data().([]float32)
	for i := range a {
		if math.Abs(float64(a[i]-bb[i])) > 1e-4 {
			t.Fatalf("y[%d]: square %v, general %v", i, a[i], bb[i])
		}
	}
}

// TestConvGeneralWeightGradientRows checks dW and db of 1-D convolutions
// lowered tap by tap, whose images go through the GEMM several side by
// side, against the sums written as loops: dW[o,c,j] = Σ_b Σ_t dy[b,o,t]·
// x[b, c, t·s − p + j·d], db[o] = Σ_b Σ_t dy[b,o,t]. The batches leave a
// last group smaller than the others on each worker.
func TestConvGeneralWeightGradientRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ B, C, L, O, K, S, P, D int }{
		{7, 3, 40, 5, 3, 1, 1, 1}, {13, 4, 100, 6, 3, 1, 1, 1}, {9, 2, 33, 4, 5, 2, 2, 1}, {5, 3, 20, 3, 3, 1, 2, 2},
		{1, 2, 10, 3, 3, 1, 0, 1}, {32, 16, 128, 8, 3, 1, 1, 1},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			g := im2col.Geom{KH: 1, KW: c.K, SH: 1, SW: c.S, PW: c.P, DH: 1, DW: c.D}
			_, ow := g.Out(1, c.L)
			x := randTensor(rng, 1, c.B, c.C, 1, c.L)
			w := randTensor(rng, 1, c.O, c.C, 1, c.K)
			dy := randTensor(rng, 1, c.B, c.O, 1, ow)
			op := NewConvGeneral("t", g, 1, false, [2]int{}, true, true, true)
			if _, err := op.InferShape(x.Shape(), w.Shape()); err != nil {
				t.Fatal(err)
			}
			gw := &convGeneralGradW{gradBase: newGradBase("t.dW"), fwd: op}
			out, err := gw.Do(x, w, dy)
			if err != nil {
				t.Fatal(err)
			}
			dw, db := out.(tensor.Tensor).Data().([]float32), gw.db.get(c.O).Data().([]float32)
			xs, ys := x.Data().([]float32), dy.Data().([]float32)
			for o := range c.O {
				var wantB float64
				for b := range c.B {
					for t := range ow {
						wantB += float64(ys[(b*c.O+o)*ow+t])
					}
				}
				if math.Abs(float64(db[o])-wantB) > 1e-4*float64(c.B*ow) {
					t.Fatalf("db[%d] = %v, want %v", o, db[o], wantB)
				}
				for ch := range c.C {
					for j := range c.K {
						var want float64
						for b := range c.B {
							for t := range ow {
								if i := t*c.S - c.P + j*c.D; i >= 0 && i < c.L {
									want += float64(ys[(b*c.O+o)*ow+t]) * float64(xs[(b*c.C+ch)*c.L+i])
								}
							}
						}
						if got := dw[(o*c.C+ch)*c.K+j]; math.Abs(float64(got)-want) > 1e-4*float64(c.B*ow) {
							t.Fatalf("dW[%d,%d,%d] = %v, want %v", o, ch, j, got, want)
						}
					}
				}
			}
		})
	}
}
