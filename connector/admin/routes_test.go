package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

func TestAdminRoutes(t *testing.T) {
	r := newEnv(t)
	r.cfg.Admin.Token = "admin-secret"
	admin := httptest.NewServer(r.admin.Handler(r.metrics, slog.New(slog.DiscardHandler)))
	defer admin.Close()
	r.sms(t, docsExample)
	r.sms(t, `{"id":"odd"}`) // quarantined

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, admin.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		path, token string
		want        int
		contains    string
	}{
		{"/healthz", "", 200, `"ok"`},
		{"/readyz", "", 200, `"ready"`},
		{"/metrics", "", 401, "admin token required"},
		{"/admin/status", "wrong", 401, "admin token required"},
		{"/metrics", "admin-secret", 200, `onoffsync_events_received_total{outcome="accepted"} 1`},
		{"/metrics", "admin-secret", 200, `onoffsync_jobs{destination="audit",state="pending"} 1`},
		{"/metrics", "admin-secret", 200, `onoffsync_quarantine_events 1`},
		{"/metrics", "admin-secret", 200, `onoffsync_commit_seconds_bucket`},
		{"/metrics", "admin-secret", 200, `onoffsync_oldest_pending_seconds{destination="audit"}`},
		{"/admin/status", "admin-secret", 200, `"quarantine":1`},
		{"/admin/quarantine", "admin-secret", 200, `"problems"`},
		{"/admin/quarantine/999", "admin-secret", 404, `"error"`},
		{"/admin/quarantine/abc", "admin-secret", 400, `"error"`},
		{"/admin/dead", "admin-secret", 200, `[]`},
		{"/nope", "admin-secret", 404, `"error"`},
	}
	for _, tt := range tests {
		code, body := get(tt.path, tt.token)
		if code != tt.want || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s (token %q) = %d %.200s; want %d containing %s", tt.path, tt.token, code, body, tt.want, tt.contains)
		}
	}
	// The quarantined event's body is shown by seq; requeue re-validates it (still invalid).
	code, body := get("/admin/quarantine", "admin-secret")
	var list []QuarantinedEvent
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 {
		t.Fatalf("quarantine list = %d %s", code, body)
	}
	client := &Client{base: admin.URL, token: "admin-secret", http: http.DefaultClient}
	ev, err := client.QuarantineShow(list[0].Seq)
	if err != nil || ev.Body != `{"id":"odd"}` {
		t.Errorf("show = %+v, %v", ev, err)
	}
	if ev, err := client.QuarantineRequeue(list[0].Seq); err != nil || ev.Status != "quarantined" {
		t.Errorf("requeue of a still-invalid event = %+v, %v", ev, err)
	}
	if n, err := client.DeadRetry(storeSelectorAll()); err != nil || n != 0 {
		t.Errorf("dead retry all = %d, %v", n, err)
	}
	if err := client.QuarantineDrop(list[0].Seq); err != nil {
		t.Errorf("drop: %v", err)
	}
	if _, err := client.QuarantineShow(list[0].Seq); err == nil {
		t.Error("dropped event still shown")
	}
}

func storeSelectorAll() store.Selector { return store.Selector{} }

// TestPprofDurationCap: a profile or trace longer than a minute is refused, however the seconds are written
// (pprof's trace reads a decimal). The request's own deadline ends the test if one starts anyway.
func TestPprofDurationCap(t *testing.T) {
	r := newEnv(t)
	r.cfg.Admin.Token = "admin-secret"
	admin := httptest.NewServer(r.admin.Handler(r.metrics, slog.New(slog.DiscardHandler)))
	defer admin.Close()
	for _, q := range []string{"profile?seconds=61", "trace?seconds=75.5", "trace?seconds=1e3", "trace?seconds=NaN", "trace?seconds=Inf"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, admin.URL+"/debug/pprof/"+q, nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Errorf("GET %s: %v (a profile started)", q, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "at most 60") {
			t.Errorf("GET %s = %d %.100s; want 400 seconds must be at most 60", q, resp.StatusCode, body)
		}
	}
}

// TestReadyzFullDisk: once writes fail for want of space, /readyz says not ready (503), although an empty
// transaction still commits; a load balancer then stops sending webhooks this instance could not store.
func TestReadyzFullDisk(t *testing.T) {
	r := newEnv(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "full.db"), store.Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin := httptest.NewServer(New(r.cfg, st, nil, nil).Handler(r.metrics, slog.New(slog.DiscardHandler)))
	defer admin.Close()
	readyz := func() (int, string) {
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz on an empty store = %d %s, want 200", code, body)
	}
	var failed error
	for i := 0; i < 20 && failed == nil; i++ {
		_, _, failed = st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: fmt.Sprint(i),
			Raw: make([]byte, 300<<10)}, []string{"audit"})
	}
	if failed == nil {
		t.Fatal("Enqueue past MaxSize kept succeeding")
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "store not writable") {
		t.Errorf("/readyz after a commit failed on a full disk = %d %s, want 503 saying the store is not writable", code, body)
	}
}

// TestAdminParked: the admin API lists parked SMS by Onoff id, counts them in status and metrics, and retries
// and drops them through the client the CLI uses.
func TestAdminParked(t *testing.T) {
	r := newEnv(t)
	admin := httptest.NewServer(r.admin.Handler(r.metrics, slog.New(slog.DiscardHandler)))
	defer admin.Close()
	r.sms(t, docsExample)
	r.sms(t, strings.Replace(docsExample, `"12345"`, `"12346"`, 1))
	jobs, _, err := r.store.Claim("audit", time.Now(), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim = %d jobs, %v", len(jobs), err)
	}
	var outs []store.Outcome
	for _, j := range jobs {
		outs = append(outs, store.Outcome{Dest: "audit", Seq: j.Job.Seq, State: store.Parked, NextAttempt: time.Now().Add(time.Hour)})
	}
	if err := r.store.Complete(outs); err != nil {
		t.Fatal(err)
	}
	client := &Client{base: admin.URL, http: http.DefaultClient}
	pl, err := client.ParkedList("audit", 10)
	if err != nil || len(pl) != 2 || pl[0].SourceID != "12345" || pl[0].Parked.IsZero() || pl[0].NextRecheck.IsZero() {
		t.Fatalf("parked list = %+v, %v; want 12345 and 12346 with their park and recheck times", pl, err)
	}
	st, err := client.Status()
	if err != nil || st.Destinations[0].Counts[store.Parked] != 2 {
		t.Errorf("status = %+v, %v; want 2 parked", st, err)
	}
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `onoffsync_jobs{destination="audit",state="parked"} 2`; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
	if n, err := client.ParkedRetry(store.Selector{Dest: "audit", Seq: pl[0].Seq}); n != 1 || err != nil {
		t.Errorf("parked retry = %d, %v", n, err)
	}
	if n, err := client.ParkedDrop(storeSelectorAll()); n != 1 || err != nil {
		t.Errorf("parked drop all = %d, %v", n, err)
	}
	if st, _ := client.Status(); st.Destinations[0].Counts[store.Parked] != 0 || st.Destinations[0].Counts[store.Pending] != 1 {
		t.Errorf("counts after retry and drop = %v, want 1 pending, 0 parked", st.Destinations[0].Counts)
	}
}
