package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/cnnctl/cnnctl/internal/kernels/gemm"
)

// naiveConv is the textbook definition, written with explicit loops over
// batch, output channel, output position, input channel and kernel tap.
func naiveConv(x, w, b []float32, B, C, H, W, O, K, S, P int) []float32 {
	OH, OW := (H+2*P-K)/S+1, (W+2*P-K)/S+1
	y := make([]float32, B*O*OH*OW)
	for n := range B {
		for o := range O {
			for oy := range OH {
				for ox := range OW {
					var acc float64
					if b != nil {
						acc = float64(b[o])
					}
					for c := range C {
						for ki := range K {
							for kj := range K {
								iy, ix := oy*S-P+ki, ox*S-P+kj
								if iy < 0 || iy >= H || ix < 0 || ix >= W {
									continue
								}
								acc += float64(x[((n*C+c)*H+iy)*W+ix]) * float64(w[((o*C+c)*K+ki)*K+kj])
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

var convCases = []struct {
	B, C, H, W, O, K, S, P int
	bias                   bool
}{
	{2, 1, 6, 6, 3, 3, 1, 0, true},
	{3, 2, 7, 5, 4, 3, 2, 1, true},
	{2, 3, 8, 8, 2, 5, 1, 2, false},
	{1, 2, 5, 5, 3, 1, 1, 0, true},
	{3, 3, 12, 12, 4, 1, 1, 0, true},
	{4, 5, 6, 6, 3, 1, 1, 0, false},
	{2, 2, 9, 9, 3, 4, 3, 2, true},
	{2, 17, 9, 7, 5, 3, 1, 1, true},
	{3, 4, 6, 8, 3, 2, 1, 0, false},
	{1, 9, 7, 40, 5, 3, 1, 1, true}, // one image, fewer than the workers: its columns shared out
}

// loweringPaths runs f with each way a convolution's forward pass and
// input gradient can run: lowered by im2col, and as shifted GEMMs (forced
// on for every stride-1 size, see convshift.go).
func loweringPaths(t *testing.T, f func(t *testing.T)) {
	saveC, saveT, saveW, saveG, saveR := shiftMinC, shiftTapsMinC, shiftMaxWaste, shiftGradAsConv, shiftRows
	defer func() {
		shiftMinC, shiftTapsMinC, shiftMaxWaste, shiftGradAsConv, shiftRows = saveC, saveT, saveW, saveG, saveR
	}()
	shiftMinC, shiftTapsMinC = 1<<30, 1<<30
	t.Run("im2col", f)
	shiftMinC, shiftTapsMinC, shiftMaxWaste = 1, 1, 1
	t.Run("shifted", f) // by taps at offsets where the GEMM reads them (AVX-512)
	// One product per kernel row, and the input gradient as transposed
	// shifted GEMMs.
	shiftGradAsConv, shiftRows = false, false
	t.Run("shifted-transposed", f)
}

func TestConv2DMatchesNaiveLoops(t *testing.T) { loweringPaths(t, testConv2DMatchesNaiveLoops) }

func testConv2DMatchesNaiveLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range convCases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			x := randTensor(rng, 1, c.B, c.C, c.H, c.W)
			w := randTensor(rng, 1, c.O, c.C, c.K, c.K)
			b := randTensor(rng, 1, c.O)
			op := NewConv2D("t", ConvGeom{c.K, c.S, c.P}, c.bias, true, false)
			vs := []G.Value{x, w}
			var bd []float32
			if c.bias {
				vs = append(vs, b)
				bd = b.Data().([]float32)
			}
			if _, err := op.InferShape(x.Shape(), w.Shape()); err != nil {
				t.Fatal(err)
			}
			got, err := op.Do(vs...)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveConv(x.Data().([]float32), w.Data().([]float32), bd, c.B, c.C, c.H, c.W, c.O, c.K, c.S, c.P)
			gd := got.Data().([]float32)
			if len(gd) != len(want) {
				t.Fatalf("got %d outputs, want %d", len(gd), len(want))
			}
			for i := range want {
				if math.Abs(float64(gd[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("output %d: got %v, want %v", i, gd[i], want[i])
				}
			}
		})
	}
}

// weightGradPaths runs f with each way the weight gradient can be computed:
// the packed GEMM, the NT accumulator, and the taps read where they lie
// (convshift.go), the last two with the Go and assembly kernels (each
// forced on for every size it can take).
func weightGradPaths(t *testing.T, f func(t *testing.T)) {
	saveK, saveR, saveMin, saveRatio, saveW := gemm.NT, gemm.NTRows, ntMinPix, ntRowRatio, tapsGradMaxWaste
	defer func() {
		gemm.NT, gemm.NTRows, ntMinPix, ntRowRatio, tapsGradMaxWaste = saveK, saveR, saveMin, saveRatio, saveW
	}()
	type path struct {
		nt   gemm.NTKernel
		rows gemm.NTRowsKernel
	}
	paths := map[string]path{"packed": {}, "nt-go": {nt: gemm.NTGo}, "taps-go": {nt: gemm.NTGo, rows: gemm.NTRowsGo}}
	if saveK != nil {
		paths["nt-asm"] = path{nt: saveK}
	}
	if saveR != nil {
		paths["taps-asm"] = path{nt: saveK, rows: saveR}
	}
	if testing.Short() {
		// make test's race pass, where gradient checks crawl: the NT
		// accumulator and the taps with this CPU's kernels; the plain
		// passes check them all.
		short := map[string]path{}
		for _, name := range []string{"nt-asm", "taps-asm"} {
			if p, ok := paths[name]; ok {
				short[name] = p
			}
		}
		if len(short) == 0 {
			short["nt-go"] = paths["nt-go"]
		}
		paths = short
	}
	for name, p := range paths {
		gemm.NT, gemm.NTRows, ntMinPix, ntRowRatio, tapsGradMaxWaste = p.nt, p.rows, 1, 0, math.Inf(1)
		t.Run(name, f)
	}
}

func TestConv2DGradients(t *testing.T) {
	weightGradPaths(t, func(t *testing.T) { loweringPaths(t, testConv2DGradients) })
}

func testConv2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range convCases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			ins := []checkInput{
				{"x", randTensor(rng, 1, c.B, c.C, c.H, c.W), true},
				{"w", randTensor(rng, 0.5, c.O, c.C, c.K, c.K), true},
			}
			if c.bias {
				ins = append(ins, checkInput{"b", randTensor(rng, 0.5, c.O), true})
			}
			gradCheck(t, ins, func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				op := NewConv2D("t", ConvGeom{c.K, c.S, c.P}, c.bias, true, true)
				var b *G.Node
				if c.bias {
					b = n[2]
				}
				return op.Apply(n[0], n[1], b)
			}, 2e-3)
		})
	}
}

func TestConv2DOutputShape(t *testing.T) {
	op := NewConv2D("t", ConvGeom{5, 1, 0}, true, false, false)
	s, err := op.InferShape(tensor.Shape{64, 1, 28, 28}, tensor.Shape{20, 1, 5, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Eq(tensor.Shape{64, 20, 24, 24}) {
		t.Fatalf("shape %v", s)
	}
	if _, err := op.InferShape(tensor.Shape{64, 3, 28, 28}, tensor.Shape{20, 1, 5, 5}); err == nil {
		t.Fatal("channel mismatch accepted")
	}
}
