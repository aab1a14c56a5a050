package gemm

import "slices"

// rowsInPlace lets SgemmPackedRows read B's rows where they lie with the
// kernels that can (kernel.rows: AVX-512); the tests turn it off to check
// the packing path, which the other CPUs take.
var rowsInPlace = true

// RowsDirect reports whether SgemmPackedRows reads B where it lies (rather
// than packing it, which costs what an im2col would).
func RowsDirect() bool { return rowsInPlace && microKernel.rows != nil }

// SgemmPackedRows computes C = A·B, from A's bias if it has one, with A
// packed and row p of B (n columns) at b[offs[p]:]: B's rows anywhere, not a
// stride apart — a convolution's K·K taps, each a run of one bordered image.
func SgemmPackedRows(pa *PackedA, n int, b []float32, offs []int, c []float32, ldc int) {
	if pa.m == 0 || n == 0 {
		return
	}
	if len(offs) != pa.k {
		panic("gemm: SgemmPackedRows: an offset per row of B missing")
	}
	_ = b[slices.Max(offs)+n-1] // bounds the kernel relies on
	_ = c[(pa.m-1)*ldc+n-1]
	kern := pa.kern
	mr, nr, mc := kern.mr, kern.nr, kern.mc
	buf := getGemmBuf()
	defer putGemmBuf(buf)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		direct := 0 // columns read in place
		if rowsInPlace && kern.rows != nil {
			direct = nb / nr * nr
		}
		for pc := 0; pc < pa.k; pc += kc {
			kb := min(kc, pa.k-pc)
			o := offs[pc : pc+kb]
			if direct < nb {
				packRows(buf.b[direct*kb:], b, o, jc+direct, nb-direct, kb, nr)
			}
			add := pc > 0
			for ic := 0; ic < pa.m; ic += mc {
				mb := min(mc, pa.m-ic)
				ap := pa.block(ic, pc, mb, kb)
				var bias []float32
				if !add && len(pa.bias) > 0 {
					bias = pa.bias[ic:]
				}
				for jr := 0; jr < direct; jr += nr {
					for ir := 0; ir < mb; ir += mr {
						var b0 *float32
						if bias != nil {
							b0 = &bias[ir]
						}
						kern.rows(kb, &ap[ir*kb], &b[jc+jr], &c[(ic+ir)*ldc+jc+jr], ldc, add, b0, min(mr, mb-ir), &o[0])
					}
				}
				if direct < nb {
					macroKernel(kern, buf, ap, buf.b[direct*kb:], nil, 0, c, ldc, ic, jc+direct, mb, nb-direct, kb, add, bias)
				}
			}
		}
	}
}

// packRows copies columns [j0, j0+cols) of the kb rows of B at b[o[p]:]
// into panels of nr columns, as packB does (zero past cols).
func packRows(dst, b []float32, o []int, j0, cols, kb, nr int) {
	for jr := 0; jr < cols; jr += nr {
		panel := dst[jr*kb : (jr+nr)*kb]
		w := min(nr, cols-jr)
		for p := range kb {
			out := panel[p*nr : (p+1)*nr]
			copy(out[:w], b[o[p]+j0+jr:])
			clear(out[w:])
		}
	}
}
