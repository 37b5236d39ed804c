package connector

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/onoffsync/onoffsync/store"
)

// smsWithID is a valid SMS whose id is the JSON text idJSON, as sent (quotes and escapes included).
func smsWithID(idJSON string) string {
	return `{"id":` + idJSON + `,"smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678"}`
}

// TestReceiverDistinctRawIDs: ids that differ only in invalid UTF-8 or lone surrogates are distinct SMS (and
// calls): each is stored, not dropped as a duplicate of U+FFFD; and two such quarantined events stay two.
func TestReceiverDistinctRawIDs(t *testing.T) {
	r := newReceiver(t)
	ids := []string{"\"a-\xff\"", "\"a-\xfe\"", `"a-\ud800"`, `"a-\udbff"`, `"a-\ufffd"`, `"a-\ud83d\ude00"`}
	want := []string{"a-\xff", "a-\xfe", "a-\xed\xa0\x80", "a-\xed\xaf\xbf", "a-\ufffd", "a-😀"}
	for i, id := range ids {
		if a := r.sms(t, smsWithID(id)); a.status != 200 || len(a.body) != 0 {
			t.Fatalf("SMS %s: got %d %v, want 200 {}", id, a.status, a.body)
		}
		ev, err := r.store.EventBySource("sms", want[i])
		if err != nil || ev.Status != store.Accepted {
			t.Errorf("SMS %s: stored %+v, %v; want accepted under id %q", id, ev.Status, err, want[i])
		}
		call := `{"id":` + id + `,"eventName":"CDR","callDirection":"INBOUND","callStarted":"2023-05-20T14:30:00Z","externalNumber":"0612345678"}`
		if a := r.post(t, "/v1/onoff/cdr", onoff("k1"), strings.NewReader(call), int64(len(call))); a.status != 200 || len(a.body) != 0 {
			t.Fatalf("call %s: got %d %v, want 200 {}", id, a.status, a.body)
		}
		if ev, err := r.store.EventBySource("call", want[i]); err != nil || ev.Status != store.Accepted {
			t.Errorf("call %s: stored %+v, %v; want accepted under id %q", id, ev.Status, err, want[i])
		}
	}
	stats, _, _ := r.store.Stats()
	if got := stats["audit"].Counts[store.Pending]; got != int64(2*len(ids)) {
		t.Errorf("audit pending = %d, want %d (every SMS and call distinct)", got, 2*len(ids))
	}
	before := quarantineSize(t, r.store)
	for _, id := range []string{"\"q-\xff\"", "\"q-\xfe\""} {
		body := strings.Replace(smsWithID(id), "2023-05-20T14:30:00Z", "yesterday", 1)
		if a := r.sms(t, body); a.status != 200 || a.body["quarantined"] != true {
			t.Fatalf("odd SMS %s: got %d %v, want 200 quarantined", id, a.status, a.body)
		}
	}
	if got := quarantineSize(t, r.store); got != before+2 {
		t.Errorf("quarantine size = %d, want %d (two distinct ids)", got, before+2)
	}
}

// TestReceiverReplacesQuarantined: a valid redelivery of a quarantined id takes its place (and says so); a
// third delivery is a plain duplicate.
func TestReceiverReplacesQuarantined(t *testing.T) {
	r := newReceiver(t)
	odd := strings.Replace(docsExample, "2023-05-20T14:30:00Z", "yesterday", 1)
	if a := r.sms(t, odd); a.body["quarantined"] != true {
		t.Fatalf("odd body: got %d %v, want quarantined", a.status, a.body)
	}
	first, err := r.store.EventBySource("sms", "12345")
	if err != nil {
		t.Fatal(err)
	}
	a := r.sms(t, docsExample)
	if a.status != 200 || a.body["replaced_quarantined"] != float64(first.Seq) {
		t.Fatalf("valid redelivery: got %d %v, want 200 {replaced_quarantined: %d}", a.status, a.body, first.Seq)
	}
	ev, err := r.store.EventBySource("sms", "12345")
	if err != nil || ev.Status != store.Accepted || string(ev.Raw) != docsExample || ev.Seq != first.Seq {
		t.Fatalf("after the redelivery: %+v, %v; want the valid body accepted in place", ev, err)
	}
	if jobs, _ := r.store.Jobs(ev.Seq); len(jobs) != 2 {
		t.Errorf("got %d jobs, want 2", len(jobs))
	}
	if q := quarantineSize(t, r.store); q != 0 {
		t.Errorf("quarantine size = %d, want 0", q)
	}
	if a := r.sms(t, docsExample); a.status != 200 || len(a.body) != 0 {
		t.Errorf("third delivery: got %d %v, want 200 {}", a.status, a.body)
	}
	if jobs, _ := r.store.Jobs(ev.Seq); len(jobs) != 2 {
		t.Errorf("after a duplicate: %d jobs, want 2", len(jobs))
	}
}

// TestReceiverQuarantinesRawControlCharacters: a body that is JSON but for a raw control character in a
// string is authenticated and readable: quarantined (200), not refused with a 400 Onoff would give up on.
func TestReceiverQuarantinesRawControlCharacters(t *testing.T) {
	r := newReceiver(t)
	for i, ctl := range []string{"\x01", "\n", "\t", "\x1f"} {
		id := fmt.Sprintf("ctl-%d", i)
		body := strings.Replace(strings.Replace(docsExample, "12345", id, 1), "the body", "the"+ctl+"body", 1)
		a := r.sms(t, body)
		problems, _ := a.body["problems"].(map[string]any)
		if a.status != 200 || a.body["quarantined"] != true || problems["body"] == nil {
			t.Fatalf("control %q: got %d %v, want 200 quarantined with a body problem", ctl, a.status, a.body)
		}
		ev, err := r.store.EventBySource("sms", id)
		if err != nil || ev.Status != store.Quarantined || string(ev.Raw) != body {
			t.Errorf("control %q: stored %+v, %v; want quarantined with the body as sent", ctl, ev, err)
		}
	}
	for _, body := range []string{"{\"id\":\"x\"\x01}", "{\"id\":\"x\x01\""} {
		if a := r.sms(t, body); a.status != 400 {
			t.Errorf("%q: got %d %v, want 400 (not JSON even with the control escaped)", body, a.status, a.body)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the handler goroutines that log into it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestReceiverLogsRefusals: 401, 400 and 413 answers leave a warning with the reason, never the key or the
// body; a flood is cut to the limiter's burst while the clock stands still.
func TestReceiverLogsRefusals(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "")
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs syncBuffer
	clock := newFakeClock()
	ts := httptest.NewServer(NewReceiver(cfg, st, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock}).Handler())
	defer ts.Close()
	r := &receiverEnv{store: st, url: ts.URL}
	secret := "wrong-key-SECRET"
	r.post(t, "/v1/onoff/sms", onoff(secret), strings.NewReader(docsExample), -1)
	r.post(t, "/v1/onoff/sms", onoff("k1"), strings.NewReader("not json BODYTEXT"), -1)
	big := `{"id":"` + strings.Repeat("x", 40000) + `"}`
	r.post(t, "/v1/onoff/sms", onoff("k1"), strings.NewReader(big), -1)
	got := logs.String()
	for _, want := range []string{`status=401 reason="invalid API key"`, `status=400 reason="body must be a JSON object"`,
		`status=413 reason="body larger than server.max_body_bytes"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	for _, leak := range []string{secret, "BODYTEXT", "xxxxxxxx"} {
		if strings.Contains(got, leak) {
			t.Errorf("log shows %q:\n%s", leak, got)
		}
	}
	for range 50 {
		r.post(t, "/v1/onoff/sms", onoff(secret), strings.NewReader(docsExample), -1)
	}
	if n := strings.Count(logs.String(), "webhook refused"); n != 10 {
		t.Errorf("%d refusal lines for 53 refusals with the clock still, want the burst (10)", n)
	}
}

// TestReceiverHeaderAndPathLeniency: a tab between x-api-key and the key, and the path with a trailing slash,
// are served (Onoff may not follow a redirect).
func TestReceiverHeaderAndPathLeniency(t *testing.T) {
	r := newReceiver(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, path, auth string
	}{
		{"tab after the scheme", "/v1/onoff/sms", "x-api-key\tk1"},
		{"trailing slash", "/v1/onoff/sms/", "x-api-key k1"},
		{"calls with a trailing slash", "/v1/onoff/cdr/", "x-api-key k1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("lenient-%d", i)
			body := strings.Replace(docsExample, "12345", id, 1)
			req, _ := http.NewRequest(http.MethodPost, r.url+tt.path, strings.NewReader(body))
			req.Header.Set("Authorization", tt.auth)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("got %d, want 200", resp.StatusCode)
			}
			class := "sms"
			if strings.Contains(tt.path, "cdr") {
				class = "call"
			}
			if _, err := r.store.EventBySource(class, id); err != nil {
				t.Errorf("not stored: %v", err)
			}
		})
	}
}

func gzipped(tb testing.TB, s string) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// TestReceiverGzip: a gzip body is read and stored decompressed; the size limit holds for the decompressed
// body; a body that is not gzip, or an encoding the receiver cannot read, gets a clear answer.
func TestReceiverGzip(t *testing.T) {
	r := newReceiver(t)
	bomb := `{"id":"bomb","body":"` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name, encoding string
		body           []byte
		want           int
	}{
		{"gzip", "gzip", gzipped(t, docsExample), 200},
		{"decompresses past the limit", "gzip", gzipped(t, bomb), 413},
		{"not gzip", "gzip", []byte(docsExample), 400},
		{"brotli", "br", []byte(docsExample), 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := onoff("k1")
			h.Set("Content-Encoding", tt.encoding)
			a := r.post(t, "/v1/onoff/sms", h, bytes.NewReader(tt.body), int64(len(tt.body)))
			if a.status != tt.want {
				t.Fatalf("got %d %v, want %d", a.status, a.body, tt.want)
			}
			if tt.want != 200 && a.body["error"] == nil {
				t.Errorf("%d without a JSON reason: %v", a.status, a.body)
			}
		})
	}
	if ev, err := r.store.EventBySource("sms", "12345"); err != nil || string(ev.Raw) != docsExample {
		t.Errorf("gzip SMS stored as %q, %v; want the decompressed body", ev.Raw, err)
	}
}
