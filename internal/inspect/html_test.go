package inspect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cnnctl/cnnctl/internal/browsertest"
)

// TestHTMLReportInChromium opens the report page in a real browser: it
// loads without console errors or exceptions, and every figure is an image
// that decoded at its stated size.
func TestHTMLReportInChromium(t *testing.T) {
	n := network(t, "[1, 12, 12]", 3, `  - {type: conv2d, filters: 4, kernel: 3, padding: 1}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, kernel: 2}
  - {type: conv2d, filters: 6, kernel: 3}
  - {type: relu}
  - {type: flatten}
  - {type: dense, units: 3}
`)
	px := make([]uint8, 144)
	for i := range 12 {
		px[i*12+i], px[i*12+11-i] = 255, 255 // an X
	}
	lk, err := Examine(n, unit, px, -1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReport(n, []string{"o", "x", "other"}, lk)
	if err != nil {
		t.Fatal(err)
	}
	r.Model, r.Input = "model.ckpt", "x.png"
	// filters, saliency, Grad-CAM, and maps of conv, pool, conv.
	if len(r.Figures) != 6 {
		t.Fatalf("%d figures, want 6", len(r.Figures))
	}
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") || strings.Contains(string(page), "<script") {
		t.Fatal("the page is not self-contained")
	}
	file := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Start(t)
	problems := browsertest.Problems(t, ctx)
	type img struct {
		Alt      string
		Complete bool
		W, H     int
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete)`)); err != nil {
		t.Fatal(err)
	}
	imgs, err := chromedp.Run(tctx, chromedp.Evaluate[[]img](`Array.from(document.images).map(i => ({Alt: i.alt, Complete: i.complete, W: i.naturalWidth, H: i.naturalHeight}))`))
	if err != nil {
		t.Fatal(err)
	}
	prediction, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#prediction")))
	if err != nil {
		t.Fatal(err)
	}
	if p := problems(); len(p) > 0 {
		t.Fatalf("the page reported: %v", p)
	}
	if len(imgs) != len(r.Figures) {
		t.Fatalf("%d images on the page, %d figures", len(imgs), len(r.Figures))
	}
	for i, f := range r.Figures {
		b := f.Picture.Image.Bounds()
		if im := imgs[i]; im.Alt != f.File || !im.Complete || im.W != b.Dx() || im.H != b.Dy() {
			t.Errorf("image %d: %+v, want %s at %d×%d", i, im, f.File, b.Dx(), b.Dy())
		}
	}
	if want := r.Label(lk.Class); prediction != want {
		t.Errorf("the page shows prediction %q, want %q", prediction, want)
	}
}
