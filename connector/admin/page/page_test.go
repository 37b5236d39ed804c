package page

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testToken = "s3cret-token"

// clock is a settable clock for sessions and ages.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	h     *Handler
	b     *fakeBackend
	clock *clock
	logs  *syncBuffer
}

func newFixture(tb testing.TB, token string) *fixture {
	tb.Helper()
	f := &fixture{b: newFake(), clock: &clock{t: t0}, logs: &syncBuffer{}}
	f.h = New(f.b, Options{Token: token, Now: f.clock.Now, Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		SessionTTL: time.Hour, SignInRate: 1000})
	return f
}

const host = "127.0.0.1:9090"

// do sends one request to the page as a browser on host would, with cookies and extra headers.
func (f *fixture) do(tb testing.TB, method, target string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	tb.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, "http://"+host+target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", "http://"+host)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

func cookieNamed(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signIn signs in with the token and returns the session cookie.
func (f *fixture) signIn(tb testing.TB) *http.Cookie {
	tb.Helper()
	w := f.do(tb, http.MethodPost, "/signin", url.Values{"token": {testToken}, "next": {"/dead"}}, nil)
	c := cookieNamed(w, cookieSession)
	if w.Code != http.StatusSeeOther || c == nil {
		tb.Fatalf("sign in: got HTTP %d, cookie %v; want 303 and a session cookie\n%s", w.Code, c, w.Body)
	}
	return c
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, "")
	for _, path := range []string{"/", "/dead", "/quarantine", "/quarantine/4", "/find?q=x", "/preview", "/overview/fragment", "/assets/app.js", "/nope"} {
		t.Run(path, func(t *testing.T) {
			w := f.do(t, http.MethodGet, path, nil, nil)
			h := w.Result().Header
			if got := h.Get("Content-Security-Policy"); got != csp {
				t.Errorf("Content-Security-Policy: got %q, want %q", got, csp)
			}
			for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
				if strings.Contains(h.Get("Content-Security-Policy"), bad) {
					t.Errorf("Content-Security-Policy allows %s", bad)
				}
			}
			if got := h.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options: got %q, want DENY", got)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			if !strings.HasPrefix(path, "/assets/") {
				if got := h.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control: got %q, want no-store", got)
				}
			}
		})
	}
}

func TestNoInlineScriptOrStyle(t *testing.T) {
	f := newFixture(t, "")
	for _, path := range []string{"/", "/dead", "/quarantine", "/quarantine/4", "/find?q=sms-1", "/preview", "/signin"} {
		body := f.do(t, http.MethodGet, path, nil, nil).Body.String()
		for _, bad := range []string{"<script>", "style=", "onclick", "onsubmit", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: the page has %q, which the CSP blocks", path, bad)
			}
		}
	}
}

func TestAssets(t *testing.T) {
	f := newFixture(t, testToken) // assets need no session: the sign-in form uses them
	for path, ctype := range map[string]string{"/assets/app.js": "text/javascript", "/assets/app.css": "text/css"} {
		w := f.do(t, http.MethodGet, path, nil, nil)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) {
			t.Errorf("%s: got HTTP %d %q, want 200 %s", path, w.Code, w.Header().Get("Content-Type"), ctype)
		}
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, testToken)

	w := f.do(t, http.MethodGet, "/dead?destination=hubspot", nil, nil)
	if got, want := w.Header().Get("Location"), "/signin?next="+url.QueryEscape("/dead?destination=hubspot"); w.Code != http.StatusSeeOther || got != want {
		t.Fatalf("signed out: got HTTP %d to %q, want 303 to %q", w.Code, got, want)
	}
	if w := f.do(t, http.MethodGet, "/overview/fragment", nil, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("fragment signed out: got HTTP %d, want 401", w.Code)
	}
	form := f.do(t, http.MethodGet, "/signin", nil, nil).Body.String()
	if n := strings.Count(form, "<input"); n != 2 || !strings.Contains(form, `type="password"`) {
		t.Errorf("sign-in form: got %d inputs, want one password field and the hidden next:\n%s", n, form)
	}

	w = f.do(t, http.MethodPost, "/signin", url.Values{"token": {"wrong"}}, nil)
	if w.Code != http.StatusUnauthorized || cookieNamed(w, cookieSession) != nil || !strings.Contains(w.Body.String(), "Wrong token") {
		t.Errorf("wrong token: got HTTP %d, cookie %v; want 401, no cookie, and a message", w.Code, cookieNamed(w, cookieSession))
	}

	w = f.do(t, http.MethodPost, "/signin", url.Values{"token": {testToken}, "next": {"/dead?destination=hubspot"}}, nil)
	c := cookieNamed(w, cookieSession)
	if c == nil {
		t.Fatalf("right token: no session cookie (HTTP %d)", w.Code)
	}
	if got := w.Header().Get("Location"); got != "/dead?destination=hubspot" {
		t.Errorf("after sign-in: got to %q, want back to /dead?destination=hubspot", got)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.MaxAge != 3600 || c.Path != "/" || c.Expires.IsZero() {
		t.Errorf("cookie over HTTP: got HttpOnly=%v SameSite=%v Secure=%v MaxAge=%d Path=%q Expires=%v; want HttpOnly, Strict, not Secure, 3600, /, set",
			c.HttpOnly, c.SameSite, c.Secure, c.MaxAge, c.Path, c.Expires)
	}
	if strings.Contains(c.Value, testToken) {
		t.Errorf("the cookie holds the token")
	}
	if w := f.do(t, http.MethodGet, "/", nil, nil, c); w.Code != http.StatusOK {
		t.Errorf("signed in: got HTTP %d, want 200", w.Code)
	}

	// The session expires.
	f.clock.Add(time.Hour)
	if w := f.do(t, http.MethodGet, "/", nil, nil, c); w.Code != http.StatusSeeOther {
		t.Errorf("after the session's hour: got HTTP %d, want 303 to sign in", w.Code)
	}

	// Signing out ends the session on the server, not only in the browser.
	c = f.signIn(t)
	w = f.do(t, http.MethodPost, "/signout", nil, nil, c)
	if gone := cookieNamed(w, cookieSession); gone == nil || gone.MaxAge >= 0 {
		t.Errorf("sign out: got cookie %v, want it deleted", gone)
	}
	if w := f.do(t, http.MethodGet, "/", nil, nil, c); w.Code != http.StatusSeeOther {
		t.Errorf("old cookie after sign out: got HTTP %d, want 303 to sign in", w.Code)
	}
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t, testToken)
	for name, hdr := range map[string]map[string]string{"proxy": {"X-Forwarded-Proto": "https"}, "tls": nil} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "https://"+host+"/signin", strings.NewReader("token="+testToken))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://"+host)
			for k, v := range hdr {
				req.Header.Set(k, v)
				req.TLS = nil
			}
			if hdr == nil {
				req.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, req)
			c := cookieNamed(w, cookieSession)
			if c == nil || !c.Secure {
				t.Errorf("got cookie %+v, want Secure", c)
			}
		})
	}
}

func TestSignInRateLimit(t *testing.T) {
	f := newFixture(t, testToken)
	f.h = New(f.b, Options{Token: testToken, Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(f.logs, nil)), SignInRate: 0.001})
	codes := []int{}
	for range 6 {
		codes = append(codes, f.do(t, http.MethodPost, "/signin", url.Values{"token": {"guess"}}, nil).Code)
	}
	want := []int{401, 401, 401, 401, 401, 429}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("six wrong guesses (-want +got):\n%s", diff)
	}
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"same origin", nil, http.StatusSeeOther},
		{"same origin, fetch metadata", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
		{"behind a proxy", map[string]string{"Origin": "https://admin.example.com", "X-Forwarded-Host": "admin.example.com"}, http.StatusSeeOther},
		{"other port", map[string]string{"Origin": "http://127.0.0.1:8080"}, http.StatusForbidden},
		{"other than the proxy's", map[string]string{"Origin": "https://evil.example", "X-Forwarded-Host": "admin.example.com"}, http.StatusForbidden},
		{"other host", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"no origin", map[string]string{"Origin": ""}, http.StatusForbidden},
		{"same-site fetch", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, token := range []string{"", testToken} {
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{true: ", open", false: ", token"}[token == ""], func(t *testing.T) {
				f := newFixture(t, token)
				var cookies []*http.Cookie
				if token != "" {
					cookies = append(cookies, f.signIn(t))
				}
				f.b.quarantine = append(f.b.quarantine, Quarantined{Seq: 5, Status: "quarantined"})
				for _, path := range []string{"/dead/retry", "/dead/drop", "/quarantine/4/requeue", "/quarantine/5/drop"} {
					w := f.do(t, http.MethodPost, path, url.Values{"ref": {"7:hubspot"}}, tt.hdr, cookies...)
					if w.Code != tt.want {
						t.Errorf("POST %s: got HTTP %d, want %d\n%s", path, w.Code, tt.want, w.Body)
					}
				}
				retried, dropped, requeued, qdropped := f.b.actions()
				acted := len(retried)+len(dropped)+len(requeued)+len(qdropped) > 0
				if acted != (tt.want == http.StatusSeeOther) {
					t.Errorf("backend: got retried %v dropped %v requeued %v dropped %v; want actions only for same-origin requests",
						retried, dropped, requeued, qdropped)
				}
			})
		}
	}
}

func TestActionNeedsSession(t *testing.T) {
	f := newFixture(t, testToken)
	w := f.do(t, http.MethodPost, "/dead/retry", url.Values{"ref": {"7:hubspot"}}, nil)
	if w.Code != http.StatusForbidden {
		t.Errorf("retry signed out: got HTTP %d, want 403", w.Code)
	}
	w = f.do(t, http.MethodPost, "/dead/retry", url.Values{"ref": {"7:hubspot"}}, nil, &http.Cookie{Name: cookieSession, Value: testToken})
	if w.Code != http.StatusForbidden {
		t.Errorf("retry with the token as cookie: got HTTP %d, want 403", w.Code)
	}
	if retried, _, _, _ := f.b.actions(); len(retried) != 0 {
		t.Errorf("backend retried %v for a request without a session", retried)
	}
}

func TestEscaping(t *testing.T) {
	f := newFixture(t, "")
	f.b.found = []Found{{Seq: 7, OnoffID: "sms-7", Status: "accepted", SMS: f.b.dead[0].SMS,
		Deliveries: []Delivery{{Destination: "hubspot", State: "dead", Error: "<b>boom</b>", RecordURL: "javascript:alert(1)", RecordID: "x"}}}}
	pages := map[string]string{
		"/":                  "&lt;img src=x onerror=",
		"/overview/fragment": "&lt;img src=x onerror=",
		"/dead":              "&lt;script&gt;document.title=",
		"/quarantine":        "&lt;svg onload=alert(1)&gt;",
		"/quarantine/4":      "&lt;/pre&gt;&lt;script&gt;",
		"/find?q=sms-7":      "&lt;script&gt;document.title=",
	}
	for path, want := range pages {
		body := f.do(t, http.MethodGet, path, nil, nil).Body.String()
		if !strings.Contains(body, want) {
			t.Errorf("%s: the escaped text %q is missing:\n%s", path, want, body)
		}
		for _, bad := range []string{"<script>document", "<img src=x", "<svg", "<b>", "<i>bad", "href=\"javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: %q reached the page unescaped", path, bad)
			}
		}
	}
	w := f.do(t, http.MethodPost, "/preview", url.Values{"destination": {"hubspot"}, "payload": {"<script>alert(1)</script>"}}, nil)
	if body := w.Body.String(); strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
		t.Errorf("preview errors: the payload is not escaped:\n%s", body)
	}
}

func TestDeadActions(t *testing.T) {
	f := newFixture(t, testToken)
	c := f.signIn(t)
	w := f.do(t, http.MethodPost, "/dead/retry", url.Values{"ref": {"7:hubspot"}, "back": {"destination=hubspot&code=VALIDATION_ERROR&evil=https://x"}}, nil, c)
	if got, want := w.Header().Get("Location"), "/dead?code=VALIDATION_ERROR&destination=hubspot"; w.Code != http.StatusSeeOther || got != want {
		t.Errorf("retry: got HTTP %d to %q, want 303 to %q", w.Code, got, want)
	}
	flash := cookieNamed(w, cookieFlash)
	if flash == nil {
		t.Fatal("retry: no flash message")
	}
	page := f.do(t, http.MethodGet, "/dead", nil, nil, c, flash).Body.String()
	if !strings.Contains(page, "Retried 1 of 1 dead letter.") {
		t.Errorf("the page after a retry does not say what happened:\n%s", page)
	}

	w = f.do(t, http.MethodPost, "/dead/drop", url.Values{"ref": {"9:hubspot", "12:a:b"}}, nil, c)
	if w.Code != http.StatusSeeOther {
		t.Errorf("drop: got HTTP %d, want 303\n%s", w.Code, w.Body)
	}
	retried, dropped, _, _ := f.b.actions()
	if diff := cmp.Diff([]DeadRef{{"hubspot", 7}}, retried); diff != "" {
		t.Errorf("retried (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]DeadRef{{"hubspot", 9}, {"a:b", 12}}, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}

	for _, bad := range []url.Values{{}, {"ref": {"x:hubspot"}}, {"ref": {"7"}}, {"ref": {"0:hubspot"}}} {
		if w := f.do(t, http.MethodPost, "/dead/retry", bad, nil, c); w.Code != http.StatusBadRequest {
			t.Errorf("retry %v: got HTTP %d, want 400", bad, w.Code)
		}
	}

	// Every action is logged with the session's short id, never the token or the cookie.
	logs := f.logs.String()
	if strings.Contains(logs, testToken) || strings.Contains(logs, c.Value) {
		t.Fatalf("the log holds the token or the session cookie:\n%s", logs)
	}
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(m["msg"].(string), "admin page: dead letters") {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("got %d action log lines, want 2:\n%s", len(lines), logs)
	}
	for i, want := range []struct{ msg, refs string }{{"admin page: dead letters retry", "hubspot/7"}, {"admin page: dead letters drop", "hubspot/9,a:b/12"}} {
		if lines[i]["msg"] != want.msg || lines[i]["refs"] != want.refs || lines[i]["session"] != sessionID(c.Value) {
			t.Errorf("log %d: got %v, want msg %q refs %q session %q", i, lines[i], want.msg, want.refs, sessionID(c.Value))
		}
	}
}

func TestQuarantineActions(t *testing.T) {
	f := newFixture(t, "")
	w := f.do(t, http.MethodPost, "/quarantine/4/requeue", nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/quarantine" {
		t.Errorf("requeue: got HTTP %d to %q, want 303 to /quarantine", w.Code, w.Header().Get("Location"))
	}
	if w := f.do(t, http.MethodPost, "/quarantine/4/drop", nil, nil); w.Code != http.StatusNotFound {
		t.Errorf("drop of a requeued event: got HTTP %d, want 404", w.Code)
	}
	if w := f.do(t, http.MethodGet, "/quarantine/abc", nil, nil); w.Code != http.StatusBadRequest {
		t.Errorf("GET /quarantine/abc: got HTTP %d, want 400", w.Code)
	}
	_, _, requeued, qdropped := f.b.actions()
	if diff := cmp.Diff([]uint64{4}, requeued); diff != "" {
		t.Errorf("requeued (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{4}, qdropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"msg":"admin page: quarantine requeue","session":"open"`) {
		t.Errorf("the requeue is not logged with its session:\n%s", logs)
	}
}

func TestParkedLink(t *testing.T) {
	f := newFixture(t, "")
	if body := f.do(t, http.MethodGet, "/", nil, nil).Body.String(); strings.Contains(body, ">Parked<") {
		t.Errorf("a backend without parking shows a Parked link")
	}
	if w := f.do(t, http.MethodGet, "/parked", nil, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /parked without parking: got HTTP %d, want 404", w.Code)
	}
	f.h = New(parkingFake{f.b}, Options{Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	body := f.do(t, http.MethodGet, "/", nil, nil).Body.String()
	for _, link := range []string{`<a href="/dead">Dead letters</a>`, `<a href="/quarantine">Quarantine</a>`, `<a href="/parked">Parked</a>`} {
		if !strings.Contains(body, link) {
			t.Errorf("the navigation lacks %s", link)
		}
	}
	if body := f.do(t, http.MethodGet, "/parked", nil, nil).Body.String(); !strings.Contains(body, "sms-11") {
		t.Errorf("/parked does not list the parked job:\n%s", body)
	}
}

func TestOverview(t *testing.T) {
	f := newFixture(t, "")
	body := f.do(t, http.MethodGet, "/", nil, nil).Body.String()
	for _, want := range []string{`data-dest="hubspot"`, `<dd data-count="pending">3</dd>`, `<dd data-count="day">240</dd>`,
		`write 5/s of 10/s`, `1m 30s`, `Paused</strong>: INVALID_SESSION_ID: &lt;b&gt;expired&lt;/b&gt; · until resumed`,
		`<a href="/dead?destination=hubspot">2</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	f.b.setPending("hubspot", 41)
	if body := f.do(t, http.MethodGet, "/overview/fragment", nil, nil).Body.String(); !strings.Contains(body, `<dd data-count="pending">41</dd>`) || strings.Contains(body, "<html") {
		t.Errorf("the fragment is not the fresh overview alone:\n%s", body)
	}
}

func TestDeadFilter(t *testing.T) {
	f := newFixture(t, "")
	body := f.do(t, http.MethodGet, "/dead?code=HTTP+503", nil, nil).Body.String()
	if !strings.Contains(body, `data-ref="9:hubspot"`) || strings.Contains(body, `data-ref="7:hubspot"`) {
		t.Errorf("filtered by HTTP 503: want only 9:hubspot:\n%s", body)
	}
	if !strings.Contains(body, `name="back" value="code=HTTP&#43;503"`) {
		t.Errorf("the actions do not come back to the filter")
	}
	if !strings.Contains(body, "The CRM failed on its side (HTTP 503) on every attempt.") {
		t.Errorf("the error is not explained")
	}
}

func TestNextPath(t *testing.T) {
	for in, want := range map[string]string{
		"/dead?destination=x": "/dead?destination=x", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "/signin?next=/": "/", "dead": "/",
	} {
		if got := nextPath(in); got != want {
			t.Errorf("nextPath(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestExplain(t *testing.T) {
	for _, tt := range []struct {
		f    Failure
		want string
	}{
		{Failure{Code: "CONTACT_GONE", Status: 404}, "deleted or merged"},
		{Failure{Status: 401}, "credentials"},
		{Failure{Status: 0, Kind: "retry", Message: "dial tcp: timeout"}, "could not be reached"},
		{Failure{Status: 502}, "HTTP 502"},
		{Failure{}, "No error was recorded."},
	} {
		if got := explain(tt.f); !strings.Contains(got, tt.want) {
			t.Errorf("explain(%+v): got %q, want it to say %q", tt.f, got, tt.want)
		}
	}
}

func TestPaths(t *testing.T) {
	f := newFixture(t, "")
	for _, p := range Paths() {
		method, path, _ := strings.Cut(p, " ")
		path = strings.NewReplacer("{$}", "", "{seq}", "4", "{file}", "app.css").Replace(path)
		req := httptest.NewRequest(method, "http://"+host+path, nil)
		if _, pattern := f.h.mux.Handler(req); pattern != p {
			t.Errorf("%s %s: routed to %q, want %q", method, path, pattern, p)
		}
	}
}

func TestOpenPageRefusesNames(t *testing.T) {
	for _, tt := range []struct {
		token, host string
		want        int
	}{
		{"", "127.0.0.1:9090", http.StatusOK},
		{"", "[::1]:9090", http.StatusOK},
		{"", "localhost:9090", http.StatusOK},
		{"", "rebind.evil.example:9090", http.StatusForbidden},
		{testToken, "admin.example.com", http.StatusSeeOther}, // to sign in
	} {
		f := newFixture(t, tt.token)
		req := httptest.NewRequest(http.MethodGet, "http://"+tt.host+"/", nil)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Errorf("token %q, Host %s: got HTTP %d, want %d", tt.token, tt.host, w.Code, tt.want)
		}
	}
}
