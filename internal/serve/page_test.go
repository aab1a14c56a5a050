package serve

import (
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cnnctl/cnnctl/internal/browsertest"
)

// stroke draws a polyline on the page's canvas with the mouse (the
// canvas's top-left corner at the page's (ox, oy)).
func stroke(ox, oy float64, pts [][2]float64) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	steps = append(steps, chromedp.MouseEvent(chromedp.MousePressed, ox+pts[0][0], oy+pts[0][1], chromedp.ButtonLeft))
	for _, p := range pts[1:] {
		steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, ox+p[0], oy+p[1], chromedp.ButtonLeft))
	}
	last := pts[len(pts)-1]
	steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, ox+last[0], oy+last[1], chromedp.ButtonLeft))
	return chromedp.Steps(steps...)
}

func line(x0, y0, x1, y1 float64) [][2]float64 {
	var p [][2]float64
	for i := 0; i <= 20; i++ {
		t := float64(i) / 20
		p = append(p, [2]float64{x0 + (x1-x0)*t, y0 + (y1-y0)*t})
	}
	return p
}

func ellipse(cx, cy, rx, ry float64) [][2]float64 {
	var p [][2]float64
	for i := 0; i <= 48; i++ {
		a := 2 * math.Pi * float64(i) / 48
		p = append(p, [2]float64{cx + rx*math.Cos(a), cy + ry*math.Sin(a)})
	}
	return p
}

// drawAndRead clears the canvas, draws the strokes and returns the label
// the page shows once it has answered.
func drawAndRead(t *testing.T, ctx context.Context, strokes ...[][2]float64) string {
	t.Helper()
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById("canvas").getBoundingClientRect(); return [r.left + 2, r.top + 2]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.ID("clear")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("answer").textContent = "…"`)}
	for _, s := range strokes {
		steps = append(steps, stroke(box[0], box[1], s))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
	label, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const a = document.getElementById("answer").textContent; return a !== "…" && document.getElementById("bars").children.length > 0 ? a : false; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return label
}

// TestPageInChromium draws on the served page in a real browser — an X and
// an O for the X-vs-O model, and a 1 and a 0 for an MNIST model when
// CNNCTL_MNIST_MODEL names one (make check-predict) — and reads the
// prediction the page shows; the page must load without console errors.
func TestPageInChromium(t *testing.T) {
	paths := map[string]string{"xo": tinyModel(t)}
	names := []string{"xo"}
	if m := os.Getenv("CNNCTL_MNIST_MODEL"); m != "" {
		names, paths["mnist"] = []string{"mnist", "xo"}, m
	}
	srv, err := New(Options{}, names, paths)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { cancel(); <-done }()

	ctx := browsertest.Start(t)
	problems := browsertest.Problems(t, ctx)
	tctx, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(900, 700), chromedp.Navigate("http://"+ln.Addr().String()+"/"),
		chromedp.WaitVisible(chromedp.ID("canvas"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.getElementById("model").options.length > 0`)); err != nil {
		t.Fatal(err)
	}
	if len(names) == 2 {
		if got := drawAndRead(t, tctx, line(140, 40, 140, 240)); got != "1" {
			t.Errorf("a vertical stroke reads %q, want 1", got)
		}
		if got := drawAndRead(t, tctx, ellipse(140, 140, 55, 90)); got != "0" {
			t.Errorf("an ellipse reads %q, want 0", got)
		}
		if err := chromedp.Do(tctx, chromedp.SetValue(chromedp.ID("model"), "xo"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("model").dispatchEvent(new Event("change"))`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := drawAndRead(t, tctx, line(50, 50, 230, 230), line(230, 50, 50, 230)); got != "x" {
		t.Errorf("two crossing strokes read %q, want x", got)
	}
	if got := drawAndRead(t, tctx, ellipse(140, 140, 90, 90)); got != "o" {
		t.Errorf("a circle reads %q, want o", got)
	}
	if dir := os.Getenv("CNNCTL_SCREENSHOT_DIR"); dir != "" {
		if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(dir, "serve-page.png"), png, 0o644)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported: %v", p)
	}
}
