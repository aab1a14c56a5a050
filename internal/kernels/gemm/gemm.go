// Package gemm is cnnctl's matrix multiplication: a packed, blocked GEMM in
// the way of BLIS with assembly micro-kernels (AVX-512 8×32, AVX2/FMA 6×16,
// portable Go elsewhere — chosen once, in init, in gemm_amd64.go), the "NT"
// kernel for products whose operands both run along the summed index, dot
// products, and the measured peak that cnnctl bench reports against.
package gemm

import (
	"fmt"
	"sync"
	"time"

	"github.com/cnnctl/cnnctl/internal/kernels/scratch"
	"github.com/cnnctl/cnnctl/internal/parallel"
)

// The GEMM is blocked in the way of BLIS/GotoBLAS: panels of B (kc×nc) and
// A (mc×kc) are packed into contiguous buffers — in the order the
// micro-kernel reads them, with alpha folded into A and edges zero-padded —
// and a micro-kernel computes mr×nr tiles of C from them. The micro-kernel is
// AVX-512 or AVX2/FMA assembly where the CPU has it (8×32, 10×32 and 6×16
// tiles), and portable Go elsewhere.
const (
	maxMR = 10  // the tallest tile
	maxNR = 32  // the widest tile (two 16-float vectors)
	kc    = 256 // depth of a packed panel
	maxMC = 80  // the most rows of a packed A block (kernel.mc)
	nc    = 1024
)

// gemmBuf holds one GEMM call's packing buffers.
type gemmBuf struct {
	a, b []float32
	tile [maxMR * maxNR]float32
}

// gemmBufs keeps packing buffers between calls. Unlike a sync.Pool it
// never drops them (a GC would, and so does the race detector, on purpose),
// so steady-state GEMMs allocate nothing.
var gemmBufs = make(chan *gemmBuf, 16)

func getGemmBuf() *gemmBuf {
	select {
	case b := <-gemmBufs:
		return b
	default:
	}
	// The first time, make one for every worker too: how many GEMMs overlap
	// depends on timing, and a buffer first needed mid-run would count as a
	// steady-state allocation.
	gemmBufsOnce.Do(func() {
		for range parallel.Workers - 1 {
			putGemmBuf(newGemmBuf())
		}
	})
	return newGemmBuf()
}

var gemmBufsOnce sync.Once

func newGemmBuf() *gemmBuf {
	scratch.Allocs.Add(1)
	return &gemmBuf{a: make([]float32, maxMC*kc), b: make([]float32, kc*(nc+maxNR))}
}

func putGemmBuf(b *gemmBuf) {
	select {
	case gemmBufs <- b:
	default: // more buffers than concurrent GEMMs ever need: let it go
	}
}

// kernelFunc computes the mr×nr tile acc = A·B over depth k, with A from a
// packed panel and row p of B's nr columns at bp[p*ldb:] (ldb = nr for a
// packed panel; larger to read B where it lies), and stores its first rows
// rows to c (row stride ldc): c = acc, or c += acc if add. Unless bias is
// nil, acc starts at bias[r] for row r (bias holds mr values).
type kernelFunc func(k int, ap, bp []float32, ldb int, c []float32, ldc int, add bool, bias []float32, rows int)

// rowsFunc is a micro-kernel that reads row p of B at bp + offs[p]
// (SgemmPackedRows), for a tile of rows rows.
type rowsFunc func(k int, ap, bp, c *float32, ldc int, add bool, bias *float32, rows int, offs *int)

// kernel is a micro-kernel with its tile shape and the rows of A a packed
// block holds for it (mc, a multiple of mr).
type kernel struct {
	fn         kernelFunc
	mr, nr, mc int
	name       string
	rows       rowsFunc // nil: SgemmPackedRows packs B's rows first
}

var (
	kernelGo16 = goKernel(6, 16)
	kernelGo32 = goKernel(8, 32)
)

// goKernel is the portable micro-kernel for mr×nr tiles.
func goKernel(mr, nr int) kernel {
	return kernel{fn: func(k int, ap, bp []float32, ldb int, c []float32, ldc int, add bool, bias []float32, rows int) {
		kernelGo(k, ap, bp, ldb, c, ldc, add, bias, rows, mr, nr)
	}, mr: mr, nr: nr, mc: 72, name: fmt.Sprintf("go %dx%d", mr, nr)}
}

// microKernel is the fastest kernel this CPU runs (set in init), and
// tallKernel its twin with more rows to a tile, if the CPU has one (mr 0
// if not).
var microKernel, tallKernel = kernelGo16, kernel{}

// kernelFor returns the micro-kernel for a product with m rows. The tall
// tile is taken where it covers m in whole tiles and the usual one does not
// (20 or 50 filters): each pass over a panel of B then feeds ten rows, not
// eight or an edge tile's four. Where both tile m exactly (40), the usual
// one is as fast or faster (BenchmarkGemmRows).
func kernelFor(m int) kernel {
	if t := tallKernel.mr; t > 0 && m%t == 0 && m%microKernel.mr != 0 {
		return tallKernel
	}
	return microKernel
}

// TileCols is the micro-kernel's tile width: work split by columns between
// workers should keep to multiples of it.
func TileCols() int { return microKernel.nr }

// PanelDepth is the depth of a packed panel: a product whose inner dimension
// fits in it is one pass over C.
const PanelDepth = kc

// sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or Xᵀ; C is m×n and the inner dimension is k. It runs on the
// calling goroutine: the ops parallelise over images or rows themselves.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(kernelFor(m), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmWith(kern kernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(c, m, n, ldc, beta)
		if beta == 0 {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	gemmBlocks(kern, m, n, k, transB, b, ldb, beta, c, ldc, nil, func(buf *gemmBuf, ic, pc, mb, kb int) []float32 {
		packA(buf.a, transA, a, lda, ic, pc, mb, kb, alpha, kern.mr)
		return buf.a
	})
}

// SgemmSideBySideA computes C = A·op(B) + beta·C where A (m × k) is
// blocks of seg columns side by side, block i at blocks[i] with row stride
// lda: the blocks are packed where they lie, not gathered into one matrix
// first (several images' gradients as one product's A).
func SgemmSideBySideA(m, n, k int, blocks [][]float32, lda, seg int, transB bool, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		sgemmWith(microKernel, false, transB, m, n, k, 1, nil, lda, b, ldb, beta, c, ldc)
		return
	}
	kern := kernelFor(m)
	mr := kern.mr
	gemmBlocks(kern, m, n, k, transB, b, ldb, beta, c, ldc, nil, func(buf *gemmBuf, ic, pc, mb, kb int) []float32 {
		for lo := pc; lo < pc+kb; {
			i := lo / seg
			hi := min(pc+kb, (i+1)*seg)
			packAInto(buf.a[(lo-pc)*mr:], kb, false, blocks[i], lda, ic, lo-i*seg, mb, hi-lo, 1, mr)
			lo = hi
		}
		return buf.a
	})
}

// gemmBlocks is the blocking both GEMM entry points share: for each kc×nc
// panel of B (packed here) and each kern.mc×kc block of A (supplied by blockA,
// packed as packA does), the macro-kernel updates C.
func gemmBlocks(kern kernel, m, n, k int, transB bool, b []float32, ldb int, beta float32, c []float32, ldc int,
	bias []float32, blockA func(buf *gemmBuf, ic, pc, mb, kb int) []float32) {
	scaleRows(c, m, n, ldc, beta)
	buf := getGemmBuf()
	defer putGemmBuf(buf)
	// B, unless transposed, is read where it lies; only a last, partial
	// panel is packed (zero-padded).
	direct := !transB
	nr := kern.nr
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			var bd []float32
			switch full := nb / nr * nr; {
			case !direct:
				packB(buf.b, transB, b, ldb, pc, jc, kb, nb, nr)
			case full < nb:
				packB(buf.b[full*kb:], false, b, ldb, pc, jc+full, kb, nb-full, nr)
				fallthrough
			default:
				bd = b[pc*ldb+jc:]
			}
			add := beta != 0 || pc > 0
			for ic := 0; ic < m; ic += kern.mc {
				mb := min(kern.mc, m-ic)
				var rb []float32
				if bias != nil && !add {
					rb = bias[ic:]
				}
				macroKernel(kern, buf, blockA(buf, ic, pc, mb, kb), buf.b, bd, ldb, c, ldc, ic, jc, mb, nb, kb, add, rb)
			}
		}
	}
}

// scaleRows multiplies the m×n matrix c by beta, unless beta is 0 or 1
// (which the kernels handle by overwriting or adding).
func scaleRows(c []float32, m, n, ldc int, beta float32) {
	if beta == 0 || beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			row[j] *= beta
		}
	}
}

// PackedA is op(A)·alpha packed once for several products with different B
// (a conv layer's weights times each image's im2col matrix).
type PackedA struct {
	m, k int
	kern kernel    // the micro-kernel it is packed for (kernelFor(m))
	data []float32 // blocks in (pc, ic) order, each packed as packA does
	bias []float32 // per row of C, zero-padded to a whole tile; empty for none
}

// block returns the packed mc×kc block at (ic, pc): the blocks before it hold
// pc·mPad values (whole kc-deep slabs) and ic·kb (whole mc-row blocks).
func (p *PackedA) block(ic, pc, mb, kb int) []float32 {
	mr := p.kern.mr
	mPad := (p.m + mr - 1) / mr * mr
	mbPad := (mb + mr - 1) / mr * mr
	off := pc*mPad + ic*kb
	return p.data[off : off+mbPad*kb]
}

// pack packs all of op(A)·alpha (m×k) into p, reusing its memory.
func (p *PackedA) Pack(transA bool, m, k int, alpha float32, a []float32, lda int) {
	p.m, p.k, p.kern = m, k, kernelFor(m)
	mr, mc := p.kern.mr, p.kern.mc
	p.data = scratch.Grow(p.data, (m+mr-1)/mr*mr*k)
	// The blocks are independent: pack them in parallel (weights are packed
	// once per batch, and would otherwise be a serial step).
	mBlocks := (m + mc - 1) / mc
	blocks := mBlocks * ((k + kc - 1) / kc)
	parallel.ForCost(blocks, mc*kc, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			ic, pc := i%mBlocks*mc, i/mBlocks*kc
			mb, kb := min(mc, m-ic), min(kc, k-pc)
			packA(p.block(ic, pc, mb, kb), transA, a, lda, ic, pc, mb, kb, alpha, mr)
		}
	})
}

// setBias makes the products start from bias[i] in row i of C (when beta
// is 0); nil removes it.
func (p *PackedA) SetBias(bias []float32) {
	if bias == nil {
		p.bias = p.bias[:0]
		return
	}
	p.bias = scratch.Grow(p.bias, len(bias)+maxMR)
	clear(p.bias[copy(p.bias, bias):])
}

// sgemmPacked computes C = A·op(B) + beta·C with A already packed (plus the
// bias, if set and beta is 0).
func SgemmPacked(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if pa.m == 0 || n == 0 {
		return
	}
	var bias []float32
	if len(pa.bias) > 0 && beta == 0 {
		bias = pa.bias
	}
	gemmBlocks(pa.kern, pa.m, n, pa.k, transB, b, ldb, beta, c, ldc, bias, func(_ *gemmBuf, ic, pc, mb, kb int) []float32 {
		return pa.block(ic, pc, mb, kb)
	})
}

// PackedB is op(B) (k×n) packed once, as the GEMMs pack it block by block,
// for several products with different A: a dense layer's fixed weights
// (Bᵀ stored) times each batch, whose packing would otherwise be a fifth
// of LeNet-BN's forward pass at batch 8–16.
type PackedB struct {
	k, n, nr int
	data     []float32 // the kc-deep blocks of each nc-wide column block, in (jc, pc) order
}

// Pack packs all of op(B) into p, reusing its memory.
func (p *PackedB) Pack(transB bool, k, n int, b []float32, ldb int) {
	nr := microKernel.nr
	p.k, p.n, p.nr = k, n, nr
	p.data = scratch.Grow(p.data, (n+nr-1)/nr*nr*k)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(p.block(jc, pc, nb, kb), transB, b, ldb, pc, jc, kb, nb, nr)
		}
	}
}

// block is the packed kb×nb block at (pc, jc): the column blocks before
// it hold jc·k values (nc is a whole number of panels), the depth blocks
// before it in its own column block pc·nbPad.
func (p *PackedB) block(jc, pc, nb, kb int) []float32 {
	nbPad := (nb + p.nr - 1) / p.nr * p.nr
	off := jc*p.k + pc*nbPad
	return p.data[off : off+nbPad*kb]
}

// SgemmPackedB computes C = A·op(B)[:, lo:hi] + beta·C for A m×k (row
// major) and B packed: C's column 0 is B's column lo, which must start a
// panel (a multiple of TileCols, as parallel column splits are).
func SgemmPackedB(m int, a []float32, lda int, pb *PackedB, lo, hi int, beta float32, c []float32, ldc int) {
	if m == 0 || hi <= lo {
		return
	}
	kern := kernelFor(m)
	if pb.nr != kern.nr || lo%pb.nr != 0 || hi > pb.n {
		panic("gemm: PackedB packed for another micro-kernel, or columns not on its panels")
	}
	scaleRows(c, m, hi-lo, ldc, beta)
	buf := getGemmBuf()
	defer putGemmBuf(buf)
	for jc := lo / nc * nc; jc < hi; jc += nc {
		nb := min(nc, pb.n-jc) // the block as packed
		from, to := max(lo, jc), min(hi, jc+nb)
		for pc := 0; pc < pb.k; pc += kc {
			kb := min(kc, pb.k-pc)
			panels := pb.block(jc, pc, nb, kb)[(from-jc)*kb:]
			add := beta != 0 || pc > 0
			for ic := 0; ic < m; ic += kern.mc {
				mb := min(kern.mc, m-ic)
				packA(buf.a, false, a, lda, ic, pc, mb, kb, 1, kern.mr)
				macroKernel(kern, buf, buf.a, panels, nil, 0, c, ldc, ic, from-lo, mb, to-from, kb, add, nil)
			}
		}
	}
}

// macroKernel multiplies a packed mb×kb block of A by a kb×nb block of B
// into C at (ic, jc), tile by tile. B is packed in pb, or, unless bd is nil,
// read in place from bd (row stride ldb) for its whole panels; bias, unless
// nil, holds the padded starting value of each of the block's rows.
func macroKernel(kern kernel, buf *gemmBuf, pa, pb, bd []float32, ldb int, c []float32, ldc, ic, jc, mb, nb, kb int, add bool, bias []float32) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nb; jr += nr {
		bp := pb[jr*kb : (jr+nr)*kb]
		for ir := 0; ir < mb; ir += mr {
			ap := pa[ir*kb : (ir+mr)*kb]
			ci := (ic+ir)*ldc + jc + jr
			rows := min(mr, mb-ir)
			var rb []float32
			if bias != nil {
				rb = bias[ir : ir+mr]
			}
			if jr+nr <= nb {
				if bd != nil {
					kern.fn(kb, ap, bd[jr:], ldb, c[ci:], ldc, add, rb, rows)
				} else {
					kern.fn(kb, ap, bp, nr, c[ci:], ldc, add, rb, rows)
				}
				continue
			}
			// A tile past C's last column: compute it into the scratch
			// tile, then store the part that lies inside C.
			kern.fn(kb, ap, bp, nr, buf.tile[:], nr, false, rb, mr)
			cols := nb - jr
			for r := range rows {
				dst := c[ci+r*ldc : ci+r*ldc+cols]
				src := buf.tile[r*nr : r*nr+cols]
				if add {
					for j, v := range src {
						dst[j] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

// packB copies the kb×nb block of op(B) at (pc, jc) into panels of nr
// columns: panel j holds, for each p, the nr values of row p (zero past nb).
func packB(dst []float32, trans bool, b []float32, ldb, pc, jc, kb, nb, nr int) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		if !trans {
			for p := range kb {
				out := panel[p*nr : (p+1)*nr]
				src := b[(pc+p)*ldb+jc+jr:]
				copy(out[:cols], src[:cols])
				clear(out[cols:])
			}
			continue
		}
		// Bᵀ is stored: the panel is a transpose of cols rows of b. Whole
		// 8×8 blocks go through the (vector) transpose, the rest by hand.
		rows := b[(jc+jr)*ldb+pc:]
		k8 := kb &^ 7
		for j0 := 0; j0+8 <= cols; j0 += 8 {
			for p := 0; p < k8; p += 8 {
				transpose8x8(rows[j0*ldb+p:], ldb, panel[p*nr+j0:], nr)
			}
		}
		full := cols &^ 7 // columns done by the transposes up to k8
		for j := range cols {
			from := k8
			if j >= full {
				from = 0
			}
			src := rows[j*ldb+from : j*ldb+kb]
			for p, v := range src {
				panel[(from+p)*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := range kb {
				panel[p*nr+j] = 0
			}
		}
	}
}

// packA copies alpha times the mb×kb block of op(A) at (ic, pc) into panels
// of mr rows: panel i holds, for each p, the mr values of column p.
func packA(dst []float32, trans bool, a []float32, lda, ic, pc, mb, kb int, alpha float32, mr int) {
	packAInto(dst, kb, trans, a, lda, ic, pc, mb, kb, alpha, mr)
}

// packAInto is packA into panels panelLen columns long (≥ kb), of which
// the block fills the first kb: a block of a wider A packed piece by piece.
func packAInto(dst []float32, panelLen int, trans bool, a []float32, lda, ic, pc, mb, kb int, alpha float32, mr int) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*panelLen : ir*panelLen+mr*kb]
		rows := min(mr, mb-ir)
		if !trans && mr == 8 && rows == 8 && alpha == 1 {
			// Eight whole rows: the panel is their transpose, in 8×8 blocks.
			k8 := kb &^ 7
			src := a[(ic+ir)*lda+pc:]
			for p := 0; p < k8; p += 8 {
				transpose8x8(src[p:], lda, panel[p*8:], 8)
			}
			for r := range 8 {
				for p := k8; p < kb; p++ {
					panel[p*8+r] = src[r*lda+p]
				}
			}
			continue
		}
		if trans {
			for p := range kb {
				out := panel[p*mr : (p+1)*mr]
				src := a[(pc+p)*lda+ic+ir:]
				for r := range rows {
					out[r] = alpha * src[r]
				}
				clear(out[rows:])
			}
			continue
		}
		for r := range rows {
			src := a[(ic+ir+r)*lda+pc : (ic+ir+r)*lda+pc+kb]
			for p, v := range src {
				panel[p*mr+r] = alpha * v
			}
		}
		for r := rows; r < mr; r++ {
			for p := range kb {
				panel[p*mr+r] = 0
			}
		}
	}
}

// kernelGo is the portable micro-kernel, for tiles mr×nr.
func kernelGo(k int, ap, bp []float32, ldb int, c []float32, ldc int, add bool, bias []float32, rows, mr, nr int) {
	var acc [maxMR][maxNR]float32
	if bias != nil {
		for r := range mr {
			for i := range nr {
				acc[r][i] = bias[r]
			}
		}
	}
	for p := range k {
		a := ap[p*mr : (p+1)*mr : (p+1)*mr]
		b := bp[p*ldb : p*ldb+nr : p*ldb+nr]
		for r := range mr {
			ar := a[r]
			row := acc[r][:nr]
			for j, bv := range b {
				row[j] += ar * bv
			}
		}
	}
	for r := range rows {
		dst := c[r*ldc : r*ldc+nr]
		if add {
			for j := range dst {
				dst[j] += acc[r][j]
			}
		} else {
			copy(dst, acc[r][:nr])
		}
	}
}

// transpose8x8 sets dst[k*dstStride+i] = src[i*srcStride+k] for i, k < 8.
var transpose8x8 = transpose8x8Go

func transpose8x8Go(src []float32, srcStride int, dst []float32, dstStride int) {
	for i := range 8 {
		row := src[i*srcStride : i*srcStride+8]
		for k, v := range row {
			dst[k*dstStride+i] = v
		}
	}
}

// dot is Σ x[i]·y[i] (len(y) ≥ len(x)), in assembly where the CPU allows.
var Dot = dotGo

func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b := x[i:i+4:i+4], y[i:i+4:i+4]
		s0, s1, s2, s3 = s0+a[0]*b[0], s1+a[1]*b[1], s2+a[2]*b[2], s3+a[3]*b[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// DotRows sets dst[r] = x · w[r·ldw : r·ldw+len(x)] for each r: a
// matrix-vector product over the rows of a row-major w.
func DotRows(dst, x, w []float32, ldw int) {
	if len(dst) == 0 {
		return
	}
	_ = w[(len(dst)-1)*ldw+len(x)-1]
	r := 0
	for ; r+4 <= len(dst); r += 4 {
		dot4((*[4]float32)(dst[r:r+4]), x, w[r*ldw:], ldw)
	}
	for ; r < len(dst); r++ {
		dst[r] = Dot(x, w[r*ldw:])
	}
}

// dot4 sets dst[r] = x · w[r·ldw:] for r < 4, in assembly where the CPU
// allows.
var dot4 = dot4Go

func dot4Go(dst *[4]float32, x, w []float32, ldw int) {
	for r := range 4 {
		dst[r] = Dot(x, w[r*ldw:])
	}
}

// KernelName says which micro-kernel the GEMM uses.
func KernelName() string { return microKernel.name }

// PeakGFLOPS measures what one core reaches running the micro-kernel on
// cache-resident panels for about d: the practical peak of this CPU for
// this code, against which the bench command rates whole networks.
func PeakGFLOPS(d time.Duration) float64 {
	mr := microKernel.mr
	ap, bp := make([]float32, mr*kc), make([]float32, microKernel.nr*kc)
	for i := range ap {
		ap[i] = 1e-3
	}
	for i := range bp {
		bp[i] = 1e-3
	}
	var c [maxMR * maxNR]float32
	start := time.Now()
	calls := 0
	for time.Since(start) < d {
		for range 1000 {
			microKernel.fn(kc, ap, bp, microKernel.nr, c[:], microKernel.nr, true, nil, mr)
		}
		calls += 1000
	}
	return float64(calls) * 2 * float64(mr*microKernel.nr*kc) / time.Since(start).Seconds() / 1e9
}
