package page

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/connector/admin/page/browsertest"
)

// browserFixture serves the page over real HTTP on loopback for a headless Chromium.
type browserFixture struct {
	*fixture
	*browsertest.Tab
	srv *httptest.Server
}

func newBrowserFixture(t *testing.T, token string) *browserFixture {
	t.Helper()
	tab := browsertest.New(t, 90*time.Second)
	f := newFixture(t, token)
	f.h = New(f.b, Options{Token: token, Now: time.Now, Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Refresh: 100 * time.Millisecond, SignInRate: 1000})
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	return &browserFixture{fixture: f, Tab: tab, srv: srv}
}

// signIn types the token in the password field and presses Enter.
func (b *browserFixture) signIn(t *testing.T, token string) {
	t.Helper()
	b.Do(chromedp.Navigate(b.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[type=password]`), token+"\n"))
}

func TestBrowserSignIn(t *testing.T) {
	b := newBrowserFixture(t, testToken)

	b.signIn(t, "not-the-token")
	b.Do(chromedp.WaitVisible(chromedp.ID("wrong")))
	if got := b.Eval(`location.pathname`); got != "/signin" {
		t.Errorf("after a wrong token: got page %q, want /signin", got)
	}

	b.signIn(t, testToken)
	b.Do(chromedp.WaitVisible(chromedp.CSS(`[data-dest="hubspot"]`)))
	if got := b.Text(`[data-dest="hubspot"] [data-count="pending"]`); got != "3" {
		t.Errorf("pending for hubspot: got %q, want 3", got)
	}
	if got := b.Eval(`document.cookie`); strings.Contains(got, cookieSession) {
		t.Errorf("the session cookie is readable from script: %q", got)
	}

	// The overview refreshes itself.
	b.b.setPending("hubspot", 42)
	b.WaitTrue("the overview to show the new count without a reload",
		`document.querySelector('[data-dest="hubspot"] [data-count="pending"]').textContent === "42"`, 10*time.Second)

	// Sign out, and the page asks for the token again.
	b.Do(chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)), chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)))
	b.Do(chromedp.Navigate(b.srv.URL+"/dead"), chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)))
}

func TestBrowserDeadLetters(t *testing.T) {
	b := newBrowserFixture(t, testToken)
	b.signIn(t, testToken)
	b.Do(chromedp.WaitVisible(chromedp.ID("overview")))
	b.Do(chromedp.Click(chromedp.Search(`//nav//a[text()="Dead letters"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-ref="7:hubspot"]`)))

	// The body holding <script> is text: open it and read it back as typed.
	row := `tr[data-ref="7:hubspot"]`
	b.Do(chromedp.Click(chromedp.CSS(row+` td[data-label="SMS"] summary`)), chromedp.WaitVisible(chromedp.CSS(row+` .body`)))
	if got, want := b.Text(row+` .body`), "<script>document.title='pwned'</script>hello"; got != want {
		t.Errorf("the body: got %q, want the text %q", got, want)
	}
	if got := b.Eval(`document.title + " / " + document.querySelectorAll("main script, main img, main svg").length`); got != "Dead letters · onoffsync / 0" {
		t.Errorf("an SMS body or CRM error ran as HTML: %s", got)
	}

	// Retry one row.
	b.Do(chromedp.Click(chromedp.Search(`//tr[@data-ref="7:hubspot"]//button[text()="Retry"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")), chromedp.WaitNotPresent(chromedp.CSS(row)))
	if got := b.Text(".flash"); got != "Retried 1 of 1 dead letter." {
		t.Errorf("after Retry: got %q", got)
	}
	retried, _, _, _ := b.b.actions()
	if diff := cmp.Diff([]DeadRef{{"hubspot", 7}}, retried); diff != "" {
		t.Errorf("retried (-want +got):\n%s", diff)
	}
	if logs := b.logs.String(); !strings.Contains(logs, `"refs":"hubspot/7"`) {
		t.Errorf("the retry is not logged:\n%s", logs)
	}

	// A bulk drop asks with confirm(): declining does nothing, accepting drops.
	b.b.mu.Lock()
	b.b.dead = append(b.b.dead, DeadLetter{DeadRef: DeadRef{"sf", 21}, OnoffID: "sms-21"})
	b.b.mu.Unlock()
	b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-ref="21:sf"]`)))
	for _, accept := range []bool{false, true} {
		msg := b.Dialog(accept, chromedp.Click(chromedp.ID("drop-all")))
		if want := "Drop the 2 dead letters shown? They will not be sent."; msg != want {
			t.Errorf("confirm: got %q, want %q", msg, want)
		}
		if !accept {
			if _, dropped, _, _ := b.b.actions(); len(dropped) != 0 {
				t.Errorf("a declined confirm dropped %v", dropped)
			}
		}
	}
	b.Do(chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.Text(".flash"); got != "Dropped 2 of 2 dead letters." {
		t.Errorf("after the bulk drop: got %q", got)
	}
	_, dropped, _, _ := b.b.actions()
	if diff := cmp.Diff([]DeadRef{{"hubspot", 9}, {"sf", 21}}, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
}

func TestBrowserCrossOriginPost(t *testing.T) {
	b := newBrowserFixture(t, testToken)
	b.signIn(t, testToken)
	b.Do(chromedp.WaitVisible(chromedp.ID("overview")))

	// Another origin on the same host (so SameSite lets the cookie through): only the Origin check stops it.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/dead/retry"><input type="hidden" name="ref" value="7:hubspot">`+
			`<button id="go">Win a prize</button></form>`, b.srv.URL)
	}))
	defer evil.Close()
	b.Do(chromedp.Navigate(evil.URL))
	if code := b.Load(chromedp.Click(chromedp.ID("go"))); code != http.StatusForbidden {
		t.Errorf("cross-origin retry: got HTTP %d, want 403", code)
	}
	if got := b.Text(".problem"); !strings.HasPrefix(got, "Refused: the request came from another") {
		t.Errorf("cross-origin retry: got %q, want a refusal", got)
	}
	if got := b.Eval(`document.title`); got != "Forbidden · onoffsync" {
		t.Errorf("cross-origin retry: got the page %q, want Forbidden", got)
	}
	if retried, _, _, _ := b.b.actions(); len(retried) != 0 {
		t.Errorf("a cross-origin form made the backend retry %v", retried)
	}
}

func TestBrowserQuarantine(t *testing.T) {
	b := newBrowserFixture(t, "")
	b.Do(chromedp.Navigate(b.srv.URL+"/"), chromedp.Click(chromedp.Search(`//nav//a[text()="Quarantine"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-seq="4"]`)), chromedp.Click(chromedp.Search(`//a[text()="#4"]`)),
		chromedp.WaitVisible(chromedp.CSS(`pre.raw`)))
	if got, want := b.Text("pre.raw"), `{"eventName":"SMS","body":"</pre><script>document.title='pwned'</script>"}`; got != want {
		t.Errorf("raw payload: got %q, want %q", got, want)
	}
	b.Do(chromedp.Click(chromedp.Search(`//button[text()="Requeue"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.Text(".flash"); got != "Event 4 requeued: accepted." {
		t.Errorf("after Requeue: got %q", got)
	}
	if _, _, requeued, _ := b.b.actions(); !cmp.Equal(requeued, []uint64{4}) {
		t.Errorf("requeued: got %v, want [4]", requeued)
	}
}

// TestBrowserNarrow checks that no page is wider than a 360 px phone and that the keyboard reaches the actions.
func TestBrowserNarrow(t *testing.T) {
	b := newBrowserFixture(t, "")
	b.Do(chromedp.EmulateViewport(360, 740))
	for _, path := range []string{"/", "/dead", "/quarantine", "/quarantine/4", "/preview"} {
		b.Do(chromedp.Navigate(b.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		// Wider content than the window (less its scroll bar) would scroll sideways.
		if got := b.Eval(`(e => e.scrollWidth + " in " + e.clientWidth)(document.documentElement)`); !strings.HasSuffix(got, " in "+strings.Fields(got)[0]) {
			t.Errorf("%s at 360 px: the page is %s px wide", path, got)
		}
	}
	// Tab from the top of the dead letters to the first Retry button, and press Enter.
	b.Do(chromedp.Navigate(b.srv.URL+"/dead"), chromedp.WaitVisible(chromedp.CSS(`tr[data-ref="7:hubspot"]`)))
	for i := 0; i < 40 && b.Eval(`document.activeElement.textContent`) != "Retry"; i++ {
		b.Do(chromedp.KeyEvent("\t"))
	}
	if got := b.Eval(`document.activeElement.textContent`); got != "Retry" {
		t.Fatalf("Tab never reached a Retry button (focus on %q)", got)
	}
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if retried, _, _, _ := b.b.actions(); len(retried) != 1 {
		t.Errorf("Enter on Retry: got retried %v, want one", retried)
	}
}
