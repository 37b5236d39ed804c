package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/connector/admin/page"
	"github.com/onoffsync/onoffsync/store"
)

func TestParseFailure(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want page.Failure
	}{
		{"permanent (HTTP 400) VALIDATION_ERROR: Property values were not valid",
			page.Failure{Kind: "permanent", Status: 400, Code: "VALIDATION_ERROR"}},
		{"retry (HTTP 503): unavailable", page.Failure{Kind: "retry", Status: 503}},
		{"retry: request: dial tcp 127.0.0.1:1: connection refused", page.Failure{Kind: "retry"}},
		{"mapping: permanent CONTACT_GONE: contact 12 was deleted", page.Failure{Kind: "permanent", Code: "CONTACT_GONE"}},
		{"mapping: field subject: template: bad", page.Failure{}},
		{"", page.Failure{}},
	} {
		got := parseFailure(tt.in)
		tt.want.Message = tt.in
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseFailure(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// deadLetter claims the pending job of dest for the event with Onoff id and kills it with msg.
func (e *env) deadLetter(tb testing.TB, dest, msg string) uint64 {
	tb.Helper()
	jobs, _, err := e.store.Claim(dest, e.admin.now().Add(1e12), 1)
	if err != nil || len(jobs) != 1 {
		tb.Fatalf("claim: %v, %d jobs", err, len(jobs))
	}
	if err := e.store.Complete([]store.Outcome{{Dest: dest, Seq: jobs[0].Job.Seq, State: store.Dead, Attempted: true, Error: msg}}); err != nil {
		tb.Fatal(err)
	}
	return jobs[0].Job.Seq
}

func TestPageBackend(t *testing.T) {
	e := newEnv(t)
	b := pageBackend{e.admin}
	ctx := context.Background()
	e.sms(t, docsExample)
	e.sms(t, strings.NewReplacer(`"12345"`, `"777"`, `"0987654321"`, `"+33 6 12 34 56 78"`, `This is the body of the SMS`, `<b>hi</b>`).Replace(docsExample))
	seq := e.deadLetter(t, "audit", "permanent (HTTP 400) VALIDATION_ERROR: Property values were not valid")

	ov, err := b.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Destinations) != 1 || ov.Destinations[0].Pending != 1 || ov.Destinations[0].Dead != 1 || !ov.Destinations[0].DeliveredKnown || ov.Receiver.LastEvent.IsZero() || !ov.Offline {
		t.Errorf("overview: got %+v", ov)
	}

	list, err := b.DeadLetters(ctx, page.DeadFilter{Code: "validation_error", Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("dead letters by code: got %+v, %v", list, err)
	}
	d := list[0]
	if d.Seq != seq || d.OnoffID != "12345" || d.Failure.Status != 400 || d.SMS.Body != "This is the body of the SMS" || d.SMS.Direction != "SENT" {
		t.Errorf("dead letter: got %+v", d)
	}
	for _, f := range []page.DeadFilter{{Code: "HTTP 500"}, {OnoffID: "777"}, {Number: "+33612345678"}, {Destination: "other"}} {
		if list, err := b.DeadLetters(ctx, f); err != nil || len(list) != 0 {
			t.Errorf("dead letters %+v: got %d, %v; want none", f, len(list), err)
		}
	}
	if list, _ := b.DeadLetters(ctx, page.DeadFilter{Number: "0987654321"}); len(list) != 1 {
		t.Errorf("dead letters by number: got %d, want 1", len(list))
	}

	// Find by Onoff id, and by number in another format.
	found, err := b.Find(ctx, "777", 10)
	if err != nil || len(found) != 1 || found[0].OnoffID != "777" || found[0].SMS.Body != "<b>hi</b>" {
		t.Fatalf("find 777: got %+v, %v", found, err)
	}
	if diff := cmp.Diff([]page.Delivery{{Destination: "audit", State: "pending", NextAttempt: found[0].Deliveries[0].NextAttempt}}, found[0].Deliveries); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if found, err := b.Find(ctx, "+33612345678", 10); err != nil || len(found) != 1 || found[0].OnoffID != "777" {
		t.Errorf("find +33612345678: got %+v, %v", found, err)
	}
	if found, err := b.Find(ctx, "nothing", 10); err != nil || len(found) != 0 {
		t.Errorf("find nothing: got %+v, %v", found, err)
	}

	if n, err := b.RetryDead(ctx, []page.DeadRef{{Destination: "audit", Seq: seq}, {Destination: "audit", Seq: 999}}); err != nil || n != 1 {
		t.Errorf("retry: got %d, %v; want 1 (the unknown one skipped)", n, err)
	}
	if _, err := b.QuarantinedEvent(ctx, 999); !errors.Is(err, page.ErrNotFound) {
		t.Errorf("unknown quarantined event: got %v, want page.ErrNotFound", err)
	}

	p, err := b.Preview(ctx, "audit", []byte(docsExample))
	if err != nil || len(p.Errors) != 0 || !strings.Contains(p.Result, `"activity_if_matched"`) {
		t.Errorf("preview: got %+v, %v", p, err)
	}
	if p, err := b.Preview(ctx, "audit", []byte(`{"id":1}`)); err != nil || len(p.Errors) == 0 {
		t.Errorf("preview of a bad payload: got %+v, %v; want its problems", p, err)
	}
}

// TestPageBackendParked: the page's backend parks (so the page links to its Parked view), lists parked SMS
// by Onoff id with when they were parked, and counts them on the overview.
func TestPageBackendParked(t *testing.T) {
	e := newEnv(t)
	b := pageBackend{e.admin}
	ctx := context.Background()
	e.sms(t, docsExample)
	jobs, _, err := e.store.Claim("audit", time.Now(), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	next := time.Now().Add(time.Hour)
	if err := e.store.Complete([]store.Outcome{{Dest: "audit", Seq: jobs[0].Job.Seq, State: store.Parked, NextAttempt: next}}); err != nil {
		t.Fatal(err)
	}
	var parker page.Parker = b
	list, err := parker.Parked(ctx, 10)
	if err != nil || len(list) != 1 || list[0].OnoffID != "12345" || list[0].Since.IsZero() ||
		!strings.Contains(list[0].Reason, next.UTC().Format("2006-01-02 15:04")) {
		t.Fatalf("parked: got %+v, %v; want 12345 with its park time and next recheck", list, err)
	}
	if ov, err := b.Overview(ctx); err != nil || ov.Destinations[0].Parked != 1 {
		t.Errorf("overview: got %+v, %v; want 1 parked", ov, err)
	}
	found, err := b.Find(ctx, "12345", 10)
	if err != nil || len(found) != 1 || found[0].Deliveries[0].State != store.Parked || found[0].Deliveries[0].NextAttempt.IsZero() {
		t.Errorf("find: got %+v, %v; want the delivery parked with its next recheck", found, err)
	}
}

// TestPageMounted checks the admin listener serves the page at / with its sign-in, beside the JSON API.
func TestPageMounted(t *testing.T) {
	e := newEnv(t)
	e.cfg.Admin.Token = "admin-secret"
	srv := httptest.NewServer(e.admin.Handler(e.metrics, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{"/": 303, "/dead": 303, "/signin": 200, "/assets/app.js": 200, "/admin/status": 401, "/nope": 404} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: got HTTP %d, want %d\n%.300s", path, resp.StatusCode, want, body)
		}
		if path == "/signin" && (!strings.Contains(string(body), `type="password"`) || resp.Header.Get("Content-Security-Policy") == "") {
			t.Errorf("GET /signin: not the sign-in form with its CSP")
		}
	}
}

// TestPageBackendFindsCalls: the page's search finds a call event by its Onoff id and by the other party's
// number, with a summary of the call where an SMS shows its text.
func TestPageBackendFindsCalls(t *testing.T) {
	e := newEnv(t)
	b := pageBackend{e.admin}
	body := `{"id":"call-9","eventName":"CDR","onoffUserNumber":"+33698765432","externalNumber":"06 55 44 33 22","callStarted":"2026-05-20T14:00:00Z","callDuration":65,"callDirection":"INBOUND","callStatus":"ANSWERED","callNotes":"quote"}`
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/onoff/cdr", strings.NewReader(body))
	req.Header.Set("Authorization", "x-api-key k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the call: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, q := range []string{"call-9", "+33655443322"} {
		found, err := b.Find(context.Background(), q, 10)
		if err != nil || len(found) != 1 {
			t.Fatalf("Find(%q) = %+v, %v; want the call", q, found, err)
		}
		if f := found[0]; f.OnoffID != "call-9" || f.SMS.Body != "inbound call (CDR, ANSWERED, 1m5s) quote" || len(f.Deliveries) != 1 {
			t.Errorf("Find(%q) = %+v", q, f)
		}
	}
}
