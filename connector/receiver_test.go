package connector

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/store"
)

const docsExample = `{"id":"12345","eventName":"SMS","onoffUserName":"John Doe","onoffUserEmail":"john.doe@example.com","onoffUserNumber":"1234567890","externalNumber":"0987654321","externalName":"John Smith","externalEmail":"smith@example.com","date":"2023-05-20T14:30:00Z","smsDirection":"SENT","body":"This is the body of the SMS"}`

// testConfig parses a config for tests with the given destinations block and a store in dir.
func testConfig(tb testing.TB, dir, extra string) *Config {
	tb.Helper()
	src := fmt.Sprintf(`
server:
  listen: "127.0.0.1:0"
  api_keys: ["k1", "k2-rotated"]
  max_body_bytes: 32768
admin:
  listen: "127.0.0.1:0"
store:
  path: %s/onoffsync.db
%s`, dir, extra)
	if !strings.Contains(extra, "destinations:") {
		src += "\ndestinations:\n  - {name: audit, type: log, output: " + dir + "/audit.jsonl}\n  - {name: other, type: log, output: " + dir + "/other.jsonl}\n"
	}
	cfg, err := ParseConfig(filepath.Join(dir, "config.yaml"), []byte(src), func(string) string { return "" })
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

type receiverEnv struct {
	srv   *Receiver
	store *store.Store
	url   string
}

func newReceiver(tb testing.TB) *receiverEnv {
	tb.Helper()
	dir := tb.TempDir()
	cfg := testConfig(tb, dir, "")
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	srv := NewReceiver(cfg, st, Options{})
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &receiverEnv{srv: srv, store: st, url: ts.URL}
}

type answer struct {
	status int
	body   map[string]any
}

func (r *receiverEnv) post(tb testing.TB, path string, header http.Header, body io.Reader, length int64) answer {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = header
	if length >= 0 {
		req.ContentLength = length
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	a.status = resp.StatusCode
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &a.body); err != nil {
		tb.Errorf("%s answered %d with a non-JSON body %q", path, resp.StatusCode, data)
	}
	return a
}

func onoff(key string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Authorization", "x-api-key "+key)
	}
	return h
}

func (r *receiverEnv) sms(tb testing.TB, body string) answer {
	tb.Helper()
	return r.post(tb, "/v1/onoff/sms", onoff("k1"), strings.NewReader(body), int64(len(body)))
}

func TestReceiverAcceptsAndDeduplicates(t *testing.T) {
	r := newReceiver(t)
	for i := range 3 { // Onoff redelivers the same id
		a := r.sms(t, docsExample)
		if a.status != 200 || len(a.body) != 0 {
			t.Fatalf("delivery %d: got %d %v, want 200 {}", i, a.status, a.body)
		}
	}
	ev, err := r.store.EventBySource("sms", "12345")
	if err != nil {
		t.Fatalf("event not stored: %v", err)
	}
	if ev.Status != store.Accepted || string(ev.Raw) != docsExample {
		t.Errorf("stored %s with raw %q, want accepted with the body as sent", ev.Status, ev.Raw)
	}
	jobs, _ := r.store.Jobs(ev.Seq)
	if len(jobs) != 2 {
		t.Errorf("got %d jobs, want one per destination (2)", len(jobs))
	}
	stats, _, _ := r.store.Stats()
	if got := stats["audit"].Counts[store.Pending]; got != 1 {
		t.Errorf("audit pending = %d after 3 deliveries, want 1", got)
	}
}

func TestReceiverAuth(t *testing.T) {
	r := newReceiver(t)
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"onoff form", onoff("k1"), 200},
		{"rotated key", onoff("k2-rotated"), 200},
		{"bare x-api-key header", http.Header{"X-Api-Key": {"k1"}}, 200},
		{"missing", http.Header{}, 401},
		{"wrong key onoff form", onoff("nope"), 401},
		{"wrong bare header", http.Header{"X-Api-Key": {"nope"}}, 401},
		{"bearer scheme", http.Header{"Authorization": {"Bearer k1"}}, 401},
		{"key prefix only", onoff("k"), 401},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(docsExample, `"12345"`, fmt.Sprintf(`"auth-%d"`, i), 1)
			a := r.post(t, "/v1/onoff/sms", tt.header, strings.NewReader(body), int64(len(body)))
			if a.status != tt.want {
				t.Fatalf("got %d %v, want %d", a.status, a.body, tt.want)
			}
			_, err := r.store.EventBySource("sms", fmt.Sprintf("auth-%d", i))
			if stored := err == nil; stored != (tt.want == 200) {
				t.Errorf("stored = %v, want %v", stored, tt.want == 200)
			}
			if tt.want == 401 && a.body["error"] == nil {
				t.Errorf("401 without a JSON reason: %v", a.body)
			}
		})
	}
}

func TestReceiverQuarantines(t *testing.T) {
	r := newReceiver(t)
	deep := `{"id":"deep","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	tests := []struct {
		name, body, field string
	}{
		{"missing id", `{"eventName":"SMS","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678"}`, "id"},
		{"empty id", `{"id":" ","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678"}`, "id"},
		{"bad direction", `{"id":"q1","smsDirection":"OUT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678"}`, "smsDirection"},
		{"unreadable date", `{"id":"q2","smsDirection":"SENT","date":"yesterday","externalNumber":"0612345678"}`, "date"},
		{"missing date", `{"id":"q3","smsDirection":"SENT","externalNumber":"0612345678"}`, "date"},
		{"missing externalNumber", `{"id":"q4","smsDirection":"RECEIVED","date":"2023-05-20T14:30:00Z"}`, "externalNumber"},
		{"wrong type", `{"id":"q5","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678","body":42}`, "body"},
		{"integrate test payload", `{"test":true}`, "id"},
		{"deeply nested", deep, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := quarantineSize(t, r.store)
			a := r.post(t, "/v1/onoff/sms", onoff("k1"), strings.NewReader(tt.body), int64(len(tt.body)))
			if a.status != 200 || a.body["quarantined"] != true {
				t.Fatalf("got %d %v, want 200 quarantined", a.status, a.body)
			}
			problems, _ := a.body["problems"].(map[string]any)
			if problems[tt.field] == nil {
				t.Errorf("problems = %v, want a reason for %s", problems, tt.field)
			}
			if got := quarantineSize(t, r.store); got != before+1 {
				t.Errorf("quarantine size = %d, want %d", got, before+1)
			}
		})
	}
}

func quarantineSize(tb testing.TB, st *store.Store) int64 {
	_, q, err := st.Stats()
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func TestReceiverRefuses(t *testing.T) {
	r := newReceiver(t)
	big := strings.Repeat("x", 40000)
	tests := []struct {
		name   string
		path   string
		method string
		body   string
		length int64 // -1: leave as is; 0 with a body: chunked
		want   int
	}{
		{"not JSON", "/v1/onoff/sms", "POST", "hello", -1, 400},
		{"JSON array", "/v1/onoff/sms", "POST", `[1,2]`, -1, 400},
		{"empty body", "/v1/onoff/sms", "POST", ``, -1, 400},
		{"truncated JSON", "/v1/onoff/sms", "POST", `{"id":"x"`, -1, 400},
		{"declared too large", "/v1/onoff/sms", "POST", `{"id":"` + big + `"}`, -1, 413},
		{"chunked too large", "/v1/onoff/sms", "POST", `{"id":"` + big + `"}`, 0, 413},
		{"unknown path", "/v1/other", "POST", `{}`, -1, 404},
		{"wrong method", "/v1/onoff/sms", "GET", ``, -1, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			length := int64(len(tt.body))
			if tt.length == 0 {
				body, length = io.MultiReader(strings.NewReader(tt.body)), -1 // unknown length: chunked
			}
			req, _ := http.NewRequest(tt.method, r.url+tt.path, body)
			req.Header = onoff("k1")
			if length >= 0 {
				req.ContentLength = length
			} else {
				req.ContentLength = -1
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["error"] == nil {
				t.Errorf("body is not a JSON reason: %v %v", got, err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("got %d %v, want %d", resp.StatusCode, got, tt.want)
			}
			if tt.want == 413 && tt.length == 0 && resp.Request.ContentLength != -1 {
				t.Errorf("request was not chunked (ContentLength %d)", resp.Request.ContentLength)
			}
		})
	}
	if _, q, _ := r.store.Stats(); q != 0 {
		t.Errorf("refused requests reached the quarantine (%d)", q)
	}
}

func TestReceiverIgnoresOtherEventsAndStoresCalls(t *testing.T) {
	r := newReceiver(t)
	other := strings.Replace(docsExample, `"eventName":"SMS"`, `"eventName":"MMS"`, 1)
	if a := r.sms(t, other); a.status != 200 {
		t.Fatalf("other eventName: got %d, want 200", a.status)
	}
	ev, err := r.store.EventBySource("sms", "12345")
	if err != nil || ev.Status != store.Ignored {
		t.Errorf("other eventName stored as %+v, %v; want ignored", ev.Status, err)
	}
	if jobs, _ := r.store.Jobs(ev.Seq); len(jobs) != 0 {
		t.Errorf("ignored event got %d jobs", len(jobs))
	}
	call := `{"id":"cdr-1","eventName":"CDR","callDuration":42,"callDirection":"INBOUND","tags":[{"tagId":"t"}]}`
	a := r.post(t, "/v1/onoff/cdr", onoff("k1"), strings.NewReader(call), int64(len(call)))
	if a.status != 200 {
		t.Fatalf("call event: got %d %v", a.status, a.body)
	}
	ce, err := r.store.EventBySource("call", "cdr-1")
	if err != nil || string(ce.Raw) != call || ce.EventName != "CDR" {
		t.Errorf("call event stored as %+v, %v", ce, err)
	}
}

func TestReceiver503WhenStoreCannotCommit(t *testing.T) {
	r := newReceiver(t)
	r.store.Close()
	a := r.sms(t, docsExample)
	if a.status != http.StatusServiceUnavailable || a.body["error"] == nil {
		t.Errorf("got %d %v, want 503 with a reason", a.status, a.body)
	}
}

func TestReceiver503WhenDiskFull(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "")
	cfg.Server.MaxBodyBytes = 1 << 20
	st, err := store.Open(cfg.Store.Path, store.Options{MaxSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(NewReceiver(cfg, st, Options{}).Handler())
	defer ts.Close()
	r := &receiverEnv{store: st, url: ts.URL}
	pad := strings.Repeat("x", 100<<10)
	var last answer
	for i := 0; i < 10; i++ {
		body := fmt.Sprintf(`{"id":"full-%d","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"0612345678","body":%q}`, i, pad)
		last = r.post(t, "/v1/onoff/sms", onoff("k1"), strings.NewReader(body), int64(len(body)))
		if last.status != 200 {
			break
		}
	}
	if last.status != http.StatusServiceUnavailable {
		t.Errorf("a full store answered %d %v, want 503", last.status, last.body)
	}
}

func TestParseSMSDates(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"2023-05-20T14:30:00Z"`, "2023-05-20T14:30:00Z"},
		{`"2023-05-20T14:30:00.123+02:00"`, "2023-05-20T12:30:00.123Z"},
		{`"2023-05-20T14:30:00"`, "2023-05-20T14:30:00Z"},
		{`"2023-05-20 14:30:00"`, "2023-05-20T14:30:00Z"},
		{`1684593000000`, "2023-05-20T14:30:00Z"},
		{`"1684593000000"`, "2023-05-20T14:30:00Z"},
	}
	for _, tt := range tests {
		body := `{"id":"d","smsDirection":"SENT","externalNumber":"0612345678","date":` + tt.in + `}`
		sms, _, problems, err := ParseSMS([]byte(body), "FR")
		if err != nil || len(problems) > 0 {
			t.Errorf("date %s: %v %v", tt.in, err, problems)
			continue
		}
		if got := sms.Date.Format("2006-01-02T15:04:05.999Z07:00"); got != tt.want {
			t.Errorf("date %s = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseSMSNumbers(t *testing.T) {
	tests := []struct {
		name, user, ext, want string
	}{
		{"national with default region", "0612345678", "0698765432", "+33698765432"},
		{"region from the user's international number", "+447700900123", "07700 900456", "+447700900456"},
		{"international external", "0612345678", "+1 415 555 2671", "+14155552671"},
		{"short code", "+33612345678", "36180", ""},
		{"alphanumeric sender", "+33612345678", "AMAZON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"id": "n", "smsDirection": "RECEIVED", "date": "2023-05-20T14:30:00Z",
				"onoffUserNumber": tt.user, "externalNumber": tt.ext})
			sms, _, problems, err := ParseSMS(body, "FR")
			if err != nil || len(problems) > 0 {
				t.Fatalf("ParseSMS: %v %v", err, problems)
			}
			if sms.External.E164 != tt.want || sms.External.Raw != tt.ext {
				t.Errorf("External = %+v, want E164 %q", sms.External, tt.want)
			}
		})
	}
}
