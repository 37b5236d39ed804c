package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput sends what a broken or hostile client might, each answered as the receiver specifies, and checks
// the process stays healthy, an earlier SMS is untouched, a valid SMS afterwards is still delivered, and
// `onoffsync quarantine list` shows the quarantined ones.
func TestBadInput(t *testing.T) {
	n := newNode(t, strings.Replace(config("", logDest), "  api_keys:", "  read_timeout: 2s\n  api_keys:", 1))
	n.start()
	o := newOnoff(webhookKey, n.receiverURL)
	audit := filepath.Join(n.dir, "audit.jsonl")

	if code, err := o.post(newSMS("before-1", 1, "sent before the bad input")); code != http.StatusOK {
		t.Fatalf("valid SMS: %d %v", code, err)
	}
	waitFor(t, deliveryTimeout, "the first SMS in the audit log", func() bool { return auditIDs(t, audit)["before-1"] == 1 })

	date := time.Now().UTC().Format(time.RFC3339)
	deep := `{"id":"q-deep","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	tests := []struct {
		name        string
		body        string
		want        int
		quarantined bool // answered 200 {"quarantined": true}
		either      bool // 200 stored or quarantined
	}{
		{"malformed JSON", `{"id":"x",`, 400, false, false},
		{"not an object", `[1,2,3]`, 400, false, false},
		{"wrong type", `{"id":"q-type","eventName":"SMS","smsDirection":"SENT","date":"` + date + `","externalNumber":"0612000001","body":42}`, 200, true, false},
		{"missing date", `{"id":"q-nodate","eventName":"SMS","smsDirection":"SENT","externalNumber":"0612000001"}`, 200, true, false},
		{"missing id", `{"eventName":"SMS","smsDirection":"SENT","date":"` + date + `","externalNumber":"0612000001"}`, 200, true, false},
		{"invalid UTF-8", "{\"id\":\"utf8-1\",\"eventName\":\"SMS\",\"smsDirection\":\"RECEIVED\",\"date\":\"" + date +
			"\",\"externalNumber\":\"0612000002\",\"body\":\"caf\xff\xfe \xc3\x28\"}", 200, false, true},
		{"deeply nested", deep, 200, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postRaw(t, n.receiverURL(), webhookKey, "POST", []byte(tt.body))
			if code != tt.want {
				t.Fatalf("got %d %s, want %d", code, body, tt.want)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("answer is not JSON: %q", body)
			}
			if tt.want != 200 && got["error"] == nil {
				t.Errorf("a %d without a JSON reason: %s", code, body)
			}
			if !tt.either && (got["quarantined"] == true) != tt.quarantined {
				t.Errorf("answer %s, want quarantined=%v", body, tt.quarantined)
			}
		})
	}
	for _, tt := range []struct {
		name, method, url, key string
		want                   int
	}{
		{"wrong key", "POST", n.receiverURL(), "not-the-key", 401},
		{"missing key", "POST", n.receiverURL(), "", 401},
		{"wrong method", "GET", n.receiverURL(), webhookKey, 405},
		{"unknown path", "POST", n.receiverBase() + "/v1/onoff/other", webhookKey, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postRaw(t, tt.url, tt.key, tt.method, newSMS("refused-"+strings.ReplaceAll(tt.name, " ", "-"), 2, "refused"))
			if code != tt.want || !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("got %d %s, want %d with a JSON reason", code, body, tt.want)
			}
		})
	}

	t.Run("10 MB body refused on its Content-Length", func(t *testing.T) {
		// Only the headers are sent: the answer must come without the body.
		conn := dial(t, n.receiverBase())
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: onoffsync\r\nAuthorization: x-api-key %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			path(n.receiverURL()), webhookKey, 10<<20)
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer before the body was sent: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d %s, want 413", resp.StatusCode, body)
		}
	})

	t.Run("body that never finishes", func(t *testing.T) {
		conn := dial(t, n.receiverBase())
		start := time.Now()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: onoffsync\r\nAuthorization: x-api-key %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"slow",
			path(n.receiverURL()), webhookKey)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		rest, err := io.ReadAll(conn) // whatever the server answers, then its close
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("connection not closed by the server within 20s (read_timeout 2s): %v after %s", err, elapsed)
		}
		if elapsed < time.Second || elapsed > 12*time.Second {
			t.Errorf("connection closed after %s, want about read_timeout (2s)", elapsed)
		}
		if len(rest) > 0 && !bytes.HasPrefix(rest, []byte("HTTP/1.1 408")) {
			t.Errorf("answer %q, want 408 or nothing", rest)
		}
		t.Logf("closed after %s with %q", elapsed.Round(time.Millisecond), firstLine(rest))
	})

	// Still healthy, and still delivering.
	if code, body, err := n.adminGet("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz: %d %s %v", code, body, err)
	}
	if code, err := o.post(newSMS("after-1", 3, "sent after the bad input")); code != http.StatusOK {
		t.Fatalf("valid SMS after the bad input: %d %v", code, err)
	}
	waitFor(t, deliveryTimeout, "the SMS sent after the bad input in the audit log", func() bool { return auditIDs(t, audit)["after-1"] == 1 })
	if got := auditIDs(t, audit); got["before-1"] != 1 {
		t.Errorf("the earlier SMS appears %d times in the audit log, want 1", got["before-1"])
	}
	n.waitSettled(deliveryTimeout)

	out, errOut, code := n.cli("quarantine", "list", "--json")
	if code != 0 {
		t.Fatalf("quarantine list: exit %d: %s", code, errOut)
	}
	var q []struct {
		Seq      uint64            `json:"seq"`
		SourceID string            `json:"onoff_id"`
		Problems map[string]string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("quarantine list --json: %v\n%s", err, out)
	}
	ids := map[string]bool{}
	for _, e := range q {
		ids[e.SourceID] = true
		if len(e.Problems) == 0 {
			t.Errorf("quarantined event %d (%q) lists no problem", e.Seq, e.SourceID)
		}
	}
	if len(q) < 4 || !ids["q-type"] || !ids["q-nodate"] {
		t.Errorf("quarantine list = %s, want the wrong-type, missing-date, missing-id and nested events", out)
	}
	table, _, code := n.cli("quarantine", "list")
	if code != 0 || !strings.Contains(table, "q-type") || !strings.Contains(table, "PROBLEMS") {
		t.Errorf("quarantine list (table): exit %d:\n%s", code, table)
	}
}

// logDest is a log destination writing to audit.jsonl beside the config.
const logDest = "  - {name: audit, type: log, output: ./audit.jsonl}\n"

// auditIDs counts the SMS ids in a log destination's output.
func auditIDs(tb testing.TB, path string) map[string]int {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var l struct{ ID string }
		if json.Unmarshal(line, &l) == nil && l.ID != "" {
			out[l.ID]++
		}
	}
	return out
}

// postRaw sends body with method to url (with the Onoff key header when key is set) and returns the answer.
func postRaw(tb testing.TB, url, key, method string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "x-api-key "+key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func dial(tb testing.TB, base string) net.Conn {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// path is the path of an http://host:port/path URL.
func path(url string) string {
	rest := strings.TrimPrefix(url, "http://")
	if i := strings.Index(rest, "/"); i >= 0 {
		return rest[i:]
	}
	return "/"
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}
