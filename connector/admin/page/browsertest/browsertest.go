// Package browsertest starts a headless Chromium for tests of the admin page, driven with chromedp. It is
// imported only by tests. A test skips when Chromium is not installed, unless CI=true, where it fails: CI
// installs Chromium (.ci/run), so a missing browser there is a broken setup, not a reason to pass.
package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ExecPath finds Chromium: $CHROMIUM if set, else chromium, chromium-browser or google-chrome on PATH.
func ExecPath() (string, bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// Tab is one tab of a headless Chromium of its own. Its methods fail the test on any error.
type Tab struct {
	tb  testing.TB
	Ctx context.Context // the chromedp context of the tab, for actions the methods do not cover
}

// New starts a headless Chromium with a fresh profile, opens one tab, and returns it. Everything the tab does
// must end within timeout. The browser stops when the test ends. It reaches nothing but loopback: every host
// name but 127.0.0.1 and localhost resolves to nothing, and background networking is off.
func New(tb testing.TB, timeout time.Duration) *Tab {
	tb.Helper()
	path, ok := ExecPath()
	if !ok {
		if os.Getenv("CI") == "true" {
			tb.Fatal("Chromium is not installed, and CI=true: install it (apt-get install chromium) or set $CHROMIUM")
		}
		tb.Skip("browser test skipped: Chromium is not installed (apt-get install chromium, or set $CHROMIUM)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.Flag("hide-scrollbars", true), // screenshots alike on every machine
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(tb.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	tb.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so a broken install fails here with a clear message.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start Chromium (%s): %v", path, err)
	}
	return &Tab{tb: tb, Ctx: ctx}
}

// Do runs the steps in order.
func (t *Tab) Do(steps ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	if err := chromedp.Do(t.Ctx, steps...); err != nil {
		t.tb.Fatal(err)
	}
}

// Load runs trigger (a click on a link or a submit button) and waits for the page it loads; it returns that
// page's HTTP status.
func (t *Tab) Load(trigger chromedp.Action[chromedp.Void]) int {
	t.tb.Helper()
	resp, err := chromedp.RunResponse(t.Ctx, trigger)
	if err != nil {
		t.tb.Fatal(err)
	}
	if resp == nil {
		t.tb.Fatal("no page loaded")
	}
	return int(resp.Status)
}

// Text is the visible text of the first element matching the CSS selector, trimmed; it waits (up to 10
// seconds) for such an element. It reads the text in the page, in one step, so a part of the page that
// script replaces (the overview refreshing itself) cannot vanish between finding the element and reading it.
func (t *Tab) Text(css string) string {
	t.tb.Helper()
	sel, err := json.Marshal(css)
	if err != nil {
		t.tb.Fatal(err)
	}
	t.WaitTrue("an element "+css, "document.querySelector("+string(sel)+") !== null", 10*time.Second)
	return strings.TrimSpace(t.Eval(`(e => e ? e.innerText : "")(document.querySelector(` + string(sel) + `))`))
}

// Eval evaluates a JavaScript expression whose value is a string.
func (t *Tab) Eval(js string) string {
	t.tb.Helper()
	s, err := chromedp.Run(t.Ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.tb.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// WaitTrue waits until the JavaScript expression is true, for at most timeout; what says what it waits for.
func (t *Tab) WaitTrue(what, js string, timeout time.Duration) {
	t.tb.Helper()
	if _, err := chromedp.Run(t.Ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout))); err != nil {
		t.tb.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

// Screenshot is a PNG of the whole page.
func (t *Tab) Screenshot() []byte {
	t.tb.Helper()
	png, err := chromedp.Run(t.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.tb.Fatalf("screenshot: %v", err)
	}
	return png
}

// Dialog runs trigger, which must open a JavaScript dialog (confirm, alert), answers it (accept or dismiss),
// and returns its message.
func (t *Tab) Dialog(accept bool, trigger chromedp.Action[chromedp.Void]) string {
	t.tb.Helper()
	dialogs := chromedp.Events(t.Ctx, page.JavascriptDialogOpening)
	got := make(chan string, 1)
	go func() {
		for ev, err := range dialogs {
			if err == nil {
				_, err = chromedp.Call(t.Ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			}
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- ev.Message
			return
		}
	}()
	t.Do(trigger)
	select {
	case msg := <-got:
		return msg
	case <-t.Ctx.Done():
		t.tb.Fatal("no dialog opened")
		return ""
	}
}
