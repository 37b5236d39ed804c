package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// callBody is a call webhook as Onoff documents it (shared/reference/onoff-webhooks.md, "Call events"), with
// fields overridden or removed (value nil) by extra.
func callBody(id, event, user, ext string, extra map[string]any) string {
	f := map[string]any{
		"id": id, "eventName": event, "onoffUserName": "Rep One", "onoffUserEmail": "rep@example.com",
		"onoffUserNumber": user, "externalNumber": ext, "callStarted": "2026-05-20T14:00:00Z",
		"callEnded": "2026-05-20T14:02:05Z", "callDuration": 125, "callDirection": "INBOUND", "callStatus": "ANSWERED",
		"callNotes": "Wants a quote", "tags": []map[string]string{{"tagId": "t1", "tagName": "lead", "tagColor": "#f00"}},
	}
	switch event {
	case "VM":
		f["voicemailUrl"], f["voicemailDuration"], f["callStatus"] = "https://media.onoff.test/vm/"+id+".mp3", 21, "MISSED"
	case "RECORDING":
		f["callRecordingUrl"] = "https://media.onoff.test/rec/" + id + ".mp3"
	}
	for k, v := range extra {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return mustJSON(f)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParseCall(t *testing.T) {
	user, ext := "+33698765432", "06 12 34 56 78"
	cases := []struct {
		name     string
		body     string
		problems []string // fields with a problem
		check    func(t *testing.T, ev crm.SMS)
	}{
		{name: "CDR inbound", body: callBody("c1", "CDR", user, ext, nil), check: func(t *testing.T, ev crm.SMS) {
			c := ev.Call
			want := crm.Call{Kind: "CDR", Direction: crm.Inbound, Status: "ANSWERED",
				Started: time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC), Ended: time.Date(2026, 5, 20, 14, 2, 5, 0, time.UTC),
				Duration: 125 * time.Second, Notes: "Wants a quote", Tags: []string{"lead"},
				From: crm.ParsePhone("+33612345678", ""), To: crm.ParsePhone(user, "")}
			if diff := cmp.Diff(want, *c, cmp.Comparer(func(a, b crm.Phone) bool { return a.E164 == b.E164 })); diff != "" {
				t.Errorf("call (-want +got):\n%s", diff)
			}
			if ev.Direction != "RECEIVED" || !ev.Date.Equal(c.Started) || ev.Body != "Wants a quote" || c.Outcome() != crm.OutcomeAnswered {
				t.Errorf("event direction %q date %v body %q outcome %q", ev.Direction, ev.Date, ev.Body, c.Outcome())
			}
		}},
		{name: "values without case", body: callBody("c2", "cdr", user, ext, map[string]any{"callDirection": "outbound", "callStatus": "Busy"}),
			check: func(t *testing.T, ev crm.SMS) {
				if ev.Call.Kind != "CDR" || ev.Call.Direction != crm.Outbound || ev.Direction != "SENT" || ev.Call.Outcome() != crm.OutcomeBusy {
					t.Errorf("got kind %q direction %q/%q outcome %q", ev.Call.Kind, ev.Call.Direction, ev.Direction, ev.Call.Outcome())
				}
				if ev.Call.From.E164 != user {
					t.Errorf("outbound call from %q, want the Onoff user %s", ev.Call.From.E164, user)
				}
			}},
		{name: "unknown status is no problem", body: callBody("c3", "CDR", user, ext, map[string]any{"callStatus": "TRANSFERRED_TO_QUEUE"}),
			check: func(t *testing.T, ev crm.SMS) {
				if ev.Call.Status != "TRANSFERRED_TO_QUEUE" || ev.Call.Outcome() != "" {
					t.Errorf("status %q outcome %q, want the raw value and no outcome", ev.Call.Status, ev.Call.Outcome())
				}
			}},
		{name: "voicemail", body: callBody("v1", "VM", user, ext, nil), check: func(t *testing.T, ev crm.SMS) {
			if ev.Call.VoicemailURL == "" || ev.Call.VoicemailDuration != 21*time.Second || ev.Call.Outcome() != crm.OutcomeMissed {
				t.Errorf("voicemail %+v", ev.Call)
			}
		}},
		{name: "duration from the end, duration as digits", body: callBody("c4", "RECORDING", user, ext, map[string]any{"callDuration": nil}),
			check: func(t *testing.T, ev crm.SMS) {
				if ev.Call.Duration != 125*time.Second || ev.Call.RecordingURL == "" {
					t.Errorf("duration %v recording %q", ev.Call.Duration, ev.Call.RecordingURL)
				}
			}},
		{name: "start from date, epoch millis", body: callBody("c5", "CDR", user, ext, map[string]any{"callStarted": nil, "date": 1779285600000, "callDuration": "60"}),
			check: func(t *testing.T, ev crm.SMS) {
				if ev.Call.Started.UnixMilli() != 1779285600000 || ev.Call.Duration != time.Minute {
					t.Errorf("started %v duration %v", ev.Call.Started, ev.Call.Duration)
				}
			}},
		{name: "bad direction", body: callBody("b1", "CDR", user, ext, map[string]any{"callDirection": "SIDEWAYS"}), problems: []string{"callDirection"}},
		{name: "no start", body: callBody("b2", "CDR", user, ext, map[string]any{"callStarted": nil}), problems: []string{"callStarted"}},
		{name: "bad start", body: callBody("b3", "CDR", user, ext, map[string]any{"callStarted": "yesterday"}), problems: []string{"callStarted"}},
		{name: "negative duration", body: callBody("b4", "CDR", user, ext, map[string]any{"callDuration": -3}), problems: []string{"callDuration"}},
		{name: "fractional duration", body: callBody("b5", "CDR", user, ext, map[string]any{"callDuration": 1.5}), problems: []string{"callDuration"}},
		{name: "tags not a list", body: callBody("b6", "CDR", user, ext, map[string]any{"tags": "vip"}), problems: []string{"tags"}},
		{name: "no id, no number", body: callBody("", "CDR", user, ext, map[string]any{"externalNumber": nil}), problems: []string{"externalNumber", "id"}},
		{name: "notes not text", body: callBody("b7", "CDR", user, ext, map[string]any{"callNotes": 12}), problems: []string{"callNotes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, _, problems, err := ParseCall([]byte(tc.body), "FR")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for k := range problems {
				got = append(got, k)
			}
			if diff := cmp.Diff(tc.problems, got, sortStrings); diff != "" {
				t.Fatalf("problems %v (-want +got):\n%s", problems, diff)
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

// TestReceiverCalls: call events are accepted with a job per destination that syncs calls, deduplicated on
// their id apart from SMS ids, quarantined with 200 for a bad field (no job), and stored as ignored for any
// other eventName.
func TestReceiverCalls(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, fmt.Sprintf(`destinations:
  - {name: both, type: log, output: %s/both.jsonl}
  - {name: smsonly, type: log, output: %s/sms.jsonl, events: [sms]}
  - {name: callsonly, type: log, output: %s/calls.jsonl, events: [calls]}
`, dir, dir, dir))
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := httptest.NewServer(NewReceiver(cfg, st, Options{}).Handler())
	t.Cleanup(ts.Close)
	r := &receiverEnv{store: st, url: ts.URL}
	call := func(body string) answer {
		t.Helper()
		return r.post(t, "/v1/onoff/cdr", onoff("k1"), strings.NewReader(body), int64(len(body)))
	}
	dests := func(class, id string) []string {
		t.Helper()
		ev, err := st.EventBySource(class, id)
		if err != nil {
			t.Fatalf("%s %s: %v", class, id, err)
		}
		jobs, _ := st.Jobs(ev.Seq)
		var out []string
		for _, j := range jobs {
			out = append(out, j.Dest)
		}
		return out
	}

	for _, kind := range []string{"CDR", "VM", "RECORDING"} {
		id := "42-" + kind
		if a := call(callBody(id, kind, "+33698765432", "0612345678", nil)); a.status != 200 || len(a.body) != 0 {
			t.Fatalf("%s: got %d %v, want 200 {}", kind, a.status, a.body)
		}
		if got := dests("call", id); !cmp.Equal(got, []string{"both", "callsonly"}, sortStrings) {
			t.Errorf("%s jobs for %v, want both and callsonly", kind, got)
		}
	}
	// Redelivery: 200, nothing new.
	before, _, _ := st.Stats()
	if a := call(callBody("42-CDR", "CDR", "+33698765432", "0612345678", map[string]any{"callNotes": "again"})); a.status != 200 {
		t.Fatalf("redelivery: got %d", a.status)
	}
	if after, _, _ := st.Stats(); !cmp.Equal(before, after) {
		t.Errorf("redelivery changed the jobs: %v -> %v", before, after)
	}
	// An SMS with a call's id is another event.
	sms := string(smsBody("42-CDR", "+33698765432", "0612345678"))
	if a := r.sms(t, sms); a.status != 200 {
		t.Fatalf("sms: got %d", a.status)
	}
	if got := dests("sms", "42-CDR"); !cmp.Equal(got, []string{"both", "smsonly"}, sortStrings) {
		t.Errorf("SMS jobs for %v, want both and smsonly", got)
	}
	// A bad field: quarantined with 200, its problems named, no job.
	a := call(callBody("bad-1", "CDR", "+33698765432", "0612345678", map[string]any{"callDirection": "SIDEWAYS"}))
	if a.status != 200 || a.body["quarantined"] != true {
		t.Fatalf("bad call: got %d %v, want 200 quarantined", a.status, a.body)
	}
	if ev, _ := st.EventBySource("call", "bad-1"); ev.Status != store.Quarantined || ev.Problems["callDirection"] == "" {
		t.Errorf("bad call stored as %s %v", ev.Status, ev.Problems)
	}
	if got := dests("call", "bad-1"); len(got) != 0 {
		t.Errorf("quarantined call got jobs for %v", got)
	}
	// Another eventName, and Onoff's "Integrate" test: ignored.
	for _, body := range []string{callBody("x-1", "CONFERENCE", "+33698765432", "0612345678", nil), `{"test":true}`} {
		if a := call(body); a.status != 200 || len(a.body) != 0 {
			t.Fatalf("%s: got %d %v, want 200 {}", body, a.status, a.body)
		}
	}
	if ev, _ := st.EventBySource("call", "x-1"); ev.Status != store.Ignored {
		t.Errorf("CONFERENCE stored as %s, want ignored", ev.Status)
	}
}

// TestCallsIgnoredWhenNoDestinationSyncsThem: with no destination syncing calls, call events are stored as
// ignored, as before calls were synced.
func TestCallsIgnoredWhenNoDestinationSyncsThem(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "destinations:\n  - {name: a, type: log, output: "+filepath.Join(dir, "a.jsonl")+", events: [sms]}\n")
	ev, dests, err := cfg.classify(ClassCall, []byte(callBody("c1", "CDR", "+33698765432", "0612345678", nil)))
	if err != nil || ev.Status != store.Ignored || len(dests) != 0 {
		t.Errorf("got %s %v %v, want ignored without destinations", ev.Status, dests, err)
	}
}

func TestDestinationEventsChecked(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ events, want string }{
		{"[sms, sms]", `"sms" is listed twice`},
		{"[mms]", `"mms" is not sms or calls`},
		{"[]", "want a list of sms and calls"},
		{"calls", "cannot unmarshal"},
	} {
		src := fmt.Sprintf("store: {path: %s/x.db}\ndestinations:\n  - {name: a, type: log, output: -, events: %s}\n", dir, tc.events)
		_, err := ParseConfig(filepath.Join(dir, "c.yaml"), []byte(src), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("events %s: got %v, want %q", tc.events, err, tc.want)
		}
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestLoopCrashAfterSendCallAndSMSSameID: after a crash, an SMS and a call with the same Onoff id are both
// ambiguous; the SMS the CRM had logged is found and not sent again, and the call, which the CRM never got, is
// logged once, under its own id ("call:<id>"), not mistaken for the SMS.
func TestLoopCrashAfterSendCallAndSMSSameID(t *testing.T) {
	dests := destYAML("crm", mappingFile(t, "activity:\n  id_field: onoff_message_id\n"))
	e := newSyncEnv(t, dests, "crm")
	e.enqueue("same", "+33699999999", "+33600000001")
	if _, _, err := e.store.Enqueue(store.Event{Class: ClassCall, Status: store.Accepted, SourceID: "same", EventName: "CDR",
		Received: e.clock.Now(), Raw: []byte(callBody("same", "CDR", "+33699999999", "+33600000001", nil))}, []string{"crm"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Claim("crm", e.clock.Now(), 10); err != nil { // the previous process's batch
		t.Fatal(err)
	}
	f := e.fakes["crm"]
	f.LogActivities(context.Background(), []crm.Activity{{SourceID: "same", IDField: "onoff_message_id"}}) // only the SMS landed
	path := e.syncer.cfg.Store.Path
	e.store.Close()
	st, err := store.Open(path, store.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	e.syncer, err = NewSyncer(e.syncer.cfg, st, Options{Clock: e.clock, Adapters: map[string]func(AdapterDeps) (crm.Client, error){
		"crm": func(AdapterDeps) (crm.Client, error) { return f, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 2}, e.advance(time.Second))
	if n, c := f.LoggedCount("same"), f.LoggedCount("call:same"); n != 1 || c != 1 {
		t.Errorf("SMS logged %d times, call %d times; want 1 each", n, c)
	}
	for _, a := range f.Logged() {
		if a.SourceID == "call:same" && (a.Call == nil || a.Call.Kind != "CDR") {
			t.Errorf("the call was logged without its call details: %+v", a)
		}
	}
}

// TestRevalidateCall: an admin's requeue re-reads a quarantined call as a call: once valid (the rules or
// the configuration changed), it is accepted for the destinations that sync calls only.
func TestRevalidateCall(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, fmt.Sprintf("destinations:\n  - {name: s, type: log, output: %s/s.jsonl, events: [sms]}\n  - {name: c, type: log, output: %s/c.jsonl, events: [calls]}\n", dir, dir))
	ok := store.Event{Class: ClassCall, Status: store.Quarantined, Raw: []byte(callBody("q1", "VM", "+33698765432", "0612345678", nil))}
	got, dests := cfg.Revalidate(ok)
	if got.Status != store.Accepted || got.SourceID != "q1" || got.EventName != "VM" || !cmp.Equal(dests, []string{"c"}) {
		t.Errorf("valid call: %s %q %q for %v; want accepted q1 VM for c", got.Status, got.SourceID, got.EventName, dests)
	}
	bad := ok
	bad.Raw = []byte(callBody("q2", "VM", "+33698765432", "0612345678", map[string]any{"callDirection": "?"}))
	if got, dests := cfg.Revalidate(bad); got.Status != store.Quarantined || got.Problems["callDirection"] == "" || dests != nil {
		t.Errorf("invalid call: %s %v %v; want still quarantined for callDirection", got.Status, got.Problems, dests)
	}
}
