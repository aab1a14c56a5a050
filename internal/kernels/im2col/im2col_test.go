package im2col

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCol2imKernels compares the assembly im2col and col2im (stride 1, no
// padding) with the portable ones, for widths with and without a tail past the last
// multiple of 8, and the portable one with the adjoint of im2col.
func TestCol2imKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, g := range [][4]int{{20, 12, 12, 5}, {3, 20, 21, 3}, {2, 5, 5, 5}, {1, 28, 28, 5}, {4, 9, 30, 2}} {
		d := Dims{B: 1, C: g[0], H: g[1], W: g[2], K: g[3], S: 1}
		d.OH, d.OW = d.H-d.K+1, d.W-d.K+1
		col := randSlice(rng, d.CKK()*d.Pix())
		x1, x2 := randSlice(rng, d.C*d.H*d.W), make([]float32, d.C*d.H*d.W)
		copy(x2, x1)
		col2imS1Go(col, x1, d)
		col2imS1Fast(col, x2, d)
		for i := range x1 {
			if d := x1[i] - x2[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%v: x[%d] = %v, want %v", g, i, x2[i], x1[i])
			}
		}
		// ⟨im2col(u), col⟩ = ⟨u, col2im(col)⟩: col2im is im2col's adjoint.
		u := randSlice(rng, d.C*d.H*d.W)
		uc, ucGo := make([]float32, len(col)), make([]float32, len(col))
		im2colS1Fast(u, uc, d, d.Pix())
		im2colS1Go(u, ucGo, d, d.Pix())
		for i := range uc {
			if uc[i] != ucGo[i] {
				t.Fatalf("%v: Im2col[%d] = %v, want %v", g, i, uc[i], ucGo[i])
			}
		}
		// Into rows further apart (images side by side): the same rows, and
		// the gaps untouched.
		ld := d.Pix() + 13
		for name, f := range map[string]func(x, col []float32, d Dims, ld int){"go": im2colS1Go, "fast": im2colS1Fast} {
			wide := make([]float32, d.CKK()*ld)
			for i := range wide {
				wide[i] = -7
			}
			f(u, wide, d, ld)
			for q := range d.CKK() {
				for p := range ld {
					want := float32(-7)
					if p < d.Pix() {
						want = ucGo[q*d.Pix()+p]
					}
					if got := wide[q*ld+p]; got != want {
						t.Fatalf("%v %s: strided Im2col row %d [%d] = %v, want %v", g, name, q, p, got, want)
					}
				}
			}
		}
		back := make([]float32, len(u))
		col2imS1Fast(col, back, d)
		var lhs, rhs float64
		for i := range col {
			lhs += float64(uc[i]) * float64(col[i])
		}
		for i := range u {
			rhs += float64(u[i]) * float64(back[i])
		}
		if diff := lhs - rhs; diff > 1e-3 || diff < -1e-3 {
			t.Fatalf("%v: ⟨Im2col u, col⟩ = %v but ⟨u, Col2im col⟩ = %v", g, lhs, rhs)
		}
	}
}

// TestIm2row checks im2row, portable and fast, against the transpose of
// im2col: without padding at strides 1–3 (the assembly, when the buffers
// have the room it needs) and with padding (the portable path).
func TestIm2row(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, g := range [][6]int{{20, 12, 12, 5, 1, 0}, {3, 9, 11, 3, 1, 0}, {2, 8, 8, 8, 1, 0}, {2, 9, 9, 3, 2, 1}, {1, 28, 28, 5, 1, 0},
		{16, 30, 30, 3, 2, 0}, {3, 11, 13, 3, 3, 0}, {2, 9, 9, 1, 2, 0}, {5, 16, 16, 3, 2, 0}} {
		d := Dims{B: 1, C: g[0], H: g[1], W: g[2], K: g[3], S: g[4], P: g[5]}
		d.OH, d.OW = ConvOut(d.H, d.K, d.S, d.P, 1), ConvOut(d.W, d.K, d.S, d.P, 1)
		ckk, pix := d.CKK(), d.Pix()
		x := randSlice(rng, d.C*d.H*d.W+8)
		col := make([]float32, ckk*pix)
		Im2colPart(x, col, d, pix, 0, d.C*d.K)
		ld := ckk + 3
		for name, f := range map[string]func(x, colT []float32, d Dims, ld int){"go": im2rowGo, "fast": im2rowFast} {
			colT := make([]float32, pix*ld+8)
			for i := range colT {
				colT[i] = -9
			}
			f(x, colT, d, ld)
			for p := range pix {
				for q := range ckk {
					if got, want := colT[p*ld+q], col[q*pix+p]; got != want {
						t.Fatalf("%v %s: row %d [%d] = %v, want %v", g, name, p, q, got, want)
					}
				}
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestRows checks the one-row lowering of 1-D convolutions against the
// definition, col[c·k + j, o] = x[c, o·s − p + j·d] (zero outside), and
// its adjoint by ⟨rows(x), y⟩ = ⟨x, rowsAdjoint(y)⟩, over strides,
// paddings and dilations that put taps past both ends.
func TestRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ C, W, K, S, P, D int }{
		{1, 20, 5, 1, 0, 1}, {2, 17, 3, 1, 1, 1}, {3, 30, 64, 8, 28, 1}, {2, 11, 3, 2, 4, 3},
		{1, 9, 9, 1, 4, 1}, {2, 40, 7, 3, 3, 2}, {1, 5, 3, 4, 2, 1},
	} {
		g := Geom{KH: 1, KW: c.K, SH: 1, SW: c.S, PW: c.P, DH: 1, DW: c.D}
		_, ow := g.Out(1, c.W)
		p := Plane{C: c.C, H: 1, W: c.W, OH: 1, OW: ow, G: g}
		if !p.IsRow() {
			t.Fatal("a 1×k window on one row is a row plane")
		}
		x := make([]float32, c.C*c.W)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		col := make([]float32, p.Rows()*p.Pix())
		for i := range col {
			col[i] = 99 // every entry must be written
		}
		General(x, col, p)
		for ch := range c.C {
			for j := range c.K {
				for o := range ow {
					want := float32(0)
					if i := o*c.S - c.P + j*c.D; i >= 0 && i < c.W {
						want = x[ch*c.W+i]
					}
					if got := col[(ch*c.K+j)*ow+o]; got != want {
						t.Fatalf("%+v: col[%d·%d+%d, %d] = %v, want %v", c, ch, c.K, j, o, got, want)
					}
				}
			}
		}
		// Side by side: the same rows at a stride, nothing else written.
		ld := 2*ow + 3
		wide := make([]float32, p.Rows()*ld)
		for i := range wide {
			wide[i] = 99
		}
		RowsStrided(x, wide[ow+1:], ld, p)
		for i, v := range wide {
			r, o := i/ld, i%ld-(ow+1)
			want := float32(99)
			if o >= 0 && o < ow {
				want = col[r*ow+o]
			}
			if v != want {
				t.Fatalf("%+v: RowsStrided at ld %d: [%d, %d] = %v, want %v", c, ld, r, i%ld, v, want)
			}
		}
		y := make([]float32, len(col))
		for i := range y {
			y[i] = float32(rng.NormFloat64())
		}
		back := make([]float32, len(x))
		GeneralAdjoint(y, back, p)
		var lhs, rhs float64
		for i := range col {
			lhs += float64(col[i]) * float64(y[i])
		}
		for i := range x {
			rhs += float64(x[i]) * float64(back[i])
		}
		if math.Abs(lhs-rhs) > 1e-4*math.Max(1, math.Abs(lhs)) {
			t.Errorf("%+v: ⟨rows(x), y⟩ = %v, ⟨x, rowsAdjoint(y)⟩ = %v", c, lhs, rhs)
		}
	}
}

// TestRowsT: the window-major lowering is General's matrix transposed.
func TestRowsT(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ C, W, K, S, P int }{{1, 2048, 64, 8, 28}, {2, 50, 16, 3, 9}, {3, 40, 20, 1, 10}, {1, 17, 16, 4, 0}} {
		g := Geom{KH: 1, KW: c.K, SH: 1, SW: c.S, PW: c.P, DH: 1, DW: 1}
		_, ow := g.Out(1, c.W)
		p := Plane{C: c.C, H: 1, W: c.W, OH: 1, OW: ow, G: g}
		if !p.WindowMajor() {
			t.Fatalf("%+v is a window-major plane", c)
		}
		x := make([]float32, c.C*c.W)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		col, colT := make([]float32, p.Rows()*ow), make([]float32, p.Rows()*ow)
		for i := range colT {
			colT[i] = 99
		}
		General(x, col, p)
		RowsT(x, colT, p)
		for r := range p.Rows() {
			for o := range ow {
				if colT[o*p.Rows()+r] != col[r*ow+o] {
					t.Fatalf("%+v: colT[%d, %d] = %v, col[%d, %d] = %v", c, o, r, colT[o*p.Rows()+r], r, o, col[r*ow+o])
				}
			}
		}
	}
}
