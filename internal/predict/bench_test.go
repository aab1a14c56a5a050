package predict

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/cnnctl/cnnctl/internal/data"
)

// pngs28 encodes n 28×28 X/O drawings as PNG.
func pngs28(b *testing.B, n int) []Input {
	d := data.GenerateXO(n, 28, 28, 1)
	ins := make([]Input, n)
	for i := range n {
		var buf bytes.Buffer
		png.Encode(&buf, &image.Gray{Pix: d.Image(i), Stride: 28, Rect: image.Rect(0, 0, 28, 28)})
		ins[i] = Input{Name: "x.png", Data: buf.Bytes()}
	}
	return ins
}

// BenchmarkPredict1000PNG is predict on 1,000 28×28 PNG files held in
// memory: decode, preprocess, batched forward pass, ranking.
func BenchmarkPredict1000PNG(b *testing.B) {
	st := loadXO(&testing.T{})
	ins := pngs28(b, 1000)
	p, err := New(st, st.Config.Preprocess, 256)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Predict(ins, 1, func(Prediction, error) {}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/1000files")
}

// BenchmarkDecode1000PNG is the decoding share of the above.
func BenchmarkDecode1000PNG(b *testing.B) {
	ins := pngs28(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		for _, in := range ins {
			if _, err := data.DecodeBytes(in.Data, in.Name); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/1000files")
}
