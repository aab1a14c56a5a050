// Package browsertest starts headless Chromium for tests that check pages
// in a real browser (the visualize report, the serve page).
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Start returns a chromedp context on headless Chromium, or skips the test
// where there is none — in CI (CI set), where .ci/run installs it, that
// fails the test instead.
func Start(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium on PATH (CI is set: .ci/run should have installed it)")
		}
		t.Skip("no chromium on PATH: the page is not checked in a browser (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// Problems records the page's console errors and warnings and its uncaught
// exceptions from now on; the returned function lists them so far.
func Problems(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeWarning {
				return
			}
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value))
			}
			p = fmt.Sprintf("console %s: %v", e.Type, args)
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
		default:
			return
		}
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
