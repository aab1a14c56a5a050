package vec

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The AVX-512 row kernels give what the loops give, for every width a
// mask covers (whole 16-float blocks, a tail, both, a tail alone), and
// write nothing between or after the rows.
func TestRowsAVX512(t *testing.T) {
	if !HasAVX512 {
		t.Skip("no AVX-512 here (or GODEBUG=cpu.avx512f=off): the AVX2 and portable tests cover the row kernels")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for cols := 1; cols <= 40; cols++ {
		for _, rows := range []int{1, 3, 8} {
			ds, ss := cols+rng.IntN(5), cols+rng.IntN(5)
			src := randSlice(rng, (rows-1)*ss+cols)
			dst := randSlice(rng, (rows-1)*ds+cols+17) // 17 past the last row: must stay
			want, got := slices.Clone(dst), slices.Clone(dst)
			addRowsGo(want, ds, src, ss, rows, cols)
			addRows512(got, ds, src, ss, rows, cols)
			if !slices.Equal(got, want) {
				t.Fatalf("addRows rows=%d cols=%d strides %d,%d: %v, want %v", rows, cols, ds, ss, got, want)
			}
			copyRowsGo(want, ds, src, ss, rows, cols)
			copyRows512(got, ds, src, ss, rows, cols)
			if !slices.Equal(got, want) {
				t.Fatalf("copyRows rows=%d cols=%d strides %d,%d: %v, want %v", rows, cols, ds, ss, got, want)
			}
		}
	}
}

// The step-2 kernels give what the loops give, and touch nothing the loops
// do not (the odd lanes of a scatter, the floats after a row's last).
func TestStepRowsAVX512(t *testing.T) {
	if !HasAVX512 {
		t.Skip("no AVX-512 here (or GODEBUG=cpu.avx512f=off): the portable tests cover the strided rows")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for cols := 1; cols <= 40; cols++ {
		for _, rows := range []int{1, 3, 7} {
			// gather: dst rows cols+pad apart, src rows at least 2·cols−1 long
			ds, ss := cols+rng.IntN(4), 2*cols-1+rng.IntN(4)
			src := randSlice(rng, (rows-1)*ss+2*cols-1)
			dst := randSlice(rng, (rows-1)*ds+cols+17)
			want, got := slices.Clone(dst), slices.Clone(dst)
			gatherRowsGo(want, ds, src, ss, rows, cols, 2)
			gatherRows512(got, ds, src, ss, rows, cols, 2)
			if !slices.Equal(got, want) {
				t.Fatalf("gatherRows rows=%d cols=%d strides %d,%d: %v, want %v", rows, cols, ds, ss, got, want)
			}
			// scatter-add: dst rows at least 2·cols−1 long, src rows cols
			ds, ss = 2*cols-1+rng.IntN(4), cols+rng.IntN(4)
			src = randSlice(rng, (rows-1)*ss+cols)
			dst = randSlice(rng, (rows-1)*ds+2*cols-1+17)
			want, got = slices.Clone(dst), slices.Clone(dst)
			scatterAddRowsGo(want, ds, src, ss, rows, cols, 2)
			scatterAddRows512(got, ds, src, ss, rows, cols, 2)
			if !slices.Equal(got, want) {
				t.Fatalf("scatterAddRows rows=%d cols=%d strides %d,%d: %v, want %v", rows, cols, ds, ss, got, want)
			}
		}
	}
}
