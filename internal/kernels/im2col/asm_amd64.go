package im2col

import "github.com/cnnctl/cnnctl/internal/kernels/vec"

// init chooses the implementations: this is the one place that does.
func init() {
	if vec.HasAVX2 {
		im2colS1, col2imS1, Im2row = im2colS1Fast, col2imS1Fast, im2rowFast
	}
}

//go:noescape
func s1RowsAVX(x, col *float32, c, k, w4, oh, ow4, ow32, rest4, skip4 int, add bool)

// s1RowsFast is s1Rows in AVX for whole blocks of 8 columns.
func s1RowsFast(x, col []float32, d Dims, ld int, add bool) {
	ow8 := d.OW &^ 7
	if ow8 > 0 {
		_ = x[d.C*d.H*d.W-1] // bounds the assembly relies on
		_ = col[(d.C*d.K*d.K-1)*ld+d.Pix()-1]
		s1RowsAVX(&x[0], &col[0], d.C, d.K, 4*d.W, d.OH, 4*d.OW, 4*ow8, 4*(d.H-d.K)*d.W, 4*(ld-d.Pix()), add)
	}
	if ow8 < d.OW {
		s1Rows(x, col, d, ld, 0, d.C*d.K, ow8, add)
	}
}

//go:noescape
func im2rowAVX(x, row *float32, c, k, w4, oh, ow, hrest4, ld4, xs4, ys4 int)

// im2rowFast is im2row in AVX for no padding and kernels of up to 8 taps a
// row, any stride, where x has 8 floats to spare after the image (the
// caller's next image, or padding) and colT 8 after its last row;
// im2rowGo otherwise.
func im2rowFast(x, colT []float32, d Dims, ld int) {
	img := d.C * d.H * d.W
	if d.P != 0 || d.K > 8 || len(x) < img+8 || len(colT) < (d.Pix()-1)*ld+d.CKK()+8 {
		im2rowGo(x, colT, d, ld)
		return
	}
	im2rowAVX(&x[0], &colT[0], d.C, d.K, 4*d.W, d.OH, d.OW, 4*(d.H-d.K)*d.W, 4*ld, 4*d.S, 4*d.S*d.W)
}

func im2colS1Fast(x, col []float32, d Dims, ld int) { s1RowsFast(x, col, d, ld, false) }

func col2imS1Fast(col, x []float32, d Dims) { s1RowsFast(x, col, d, d.Pix(), true) }
