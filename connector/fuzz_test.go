package connector

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/store"
)

// Longer runs, one target at a time:
//
//	go test ./connector -run '^$' -fuzz '^FuzzParseSMS$' -fuzztime 10m
//	go test ./connector -run '^$' -fuzz '^FuzzReceiver$' -fuzztime 10m
//
// A failing input is written to testdata/fuzz/<Name>/; keep it there once fixed, as a regression seed.

// smsSeeds are webhook bodies for both targets: the docs example, lenient dates, odd types, deep nesting,
// invalid UTF-8 and bodies that are not objects.
func smsSeeds() []string {
	deep := `{"id":"deep","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	return []string{
		docsExample,
		`{"id":"1","smsDirection":"received","date":1684593000000,"externalNumber":"+33612345678","onoffUserNumber":"+447700900123"}`,
		`{"id":" 2 ","smsDirection":"SENT","date":"1684593000000","externalNumber":612345678}`,
		`{"id":3,"smsDirection":"SENT","date":"2023-05-20 14:30:00.123+02:00","externalNumber":"AMAZON"}`,
		`{"id":"4","smsDirection":"SENT","date":"2023-05-20T14:30:00","externalNumber":""}`,
		`{"id":"5","smsDirection":"SENT","date":0,"externalNumber":"06"}`,
		`{"id":"6","smsDirection":"SENT","date":-1,"externalNumber":null}`,
		`{"id":"7","smsDirection":"SENT","date":1e300,"externalNumber":"1"}`,
		`{"id":true,"smsDirection":["SENT"],"date":{"t":1},"externalNumber":{},"body":3,"eventName":null}`,
		`{"id":"8","eventName":"CDR","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"1"}`,
		`{"id":"9","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"+33 6 12 34 56 78","body":"caf\xc3\xa9 \xff\xfe"}`,
		"{\"id\":\"\xff\",\"smsDirection\":\"SENT\",\"date\":\"\xff\xfe\",\"externalNumber\":\"\xc3\"}",
		`{"id":"10","id":"11","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"1"}`,
		`{"id":"` + strings.Repeat("x", 257) + `","smsDirection":"SENT","date":"2023-05-20T14:30:00Z","externalNumber":"1"}`,
		deep,
		`{}`, ` {} `, `[]`, `"x"`, `null`, `{`, ``, `{"id":"1"}garbage`,
	}
}

func FuzzParseSMS(f *testing.F) {
	for _, s := range smsSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sms, name, problems, err := ParseSMS(body, "FR")
		fast, fastName, fastProblems, fastErr := parseSMS(body, "FR", nil)
		if (err == nil) != (fastErr == nil) {
			t.Fatalf("ParseSMS err = %v, parseSMS(phones=nil) err = %v: they disagree", err, fastErr)
		}
		if err != nil {
			if !errors.Is(err, errNotObject) {
				t.Fatalf("ParseSMS err = %v, want errNotObject", err)
			}
			return
		}
		if len(problems) == 0 {
			if sms.ID == "" || (sms.Direction != "SENT" && sms.Direction != "RECEIVED") || sms.Date.IsZero() {
				t.Fatalf("valid SMS (no problems) with id %q, direction %q, date %v", sms.ID, sms.Direction, sms.Date)
			}
		}
		if name != fastName || sms.ID != fast.ID || sms.Direction != fast.Direction || !sms.Date.Equal(fast.Date) ||
			sms.External.Raw != fast.External.Raw || sms.UserNumber.Raw != fast.UserNumber.Raw {
			t.Fatalf("ParseSMS and parseSMS(phones=nil) disagree:\n%+v %q\n%+v %q", sms, name, fast, fastName)
		}
		if diff := cmp.Diff(problems, fastProblems); diff != "" {
			t.Fatalf("problems differ (-ParseSMS +parseSMS(phones=nil)):\n%s", diff)
		}
	})
}

// FuzzReceiver posts arbitrary bodies to the SMS and call webhooks: every answer is 200, 400 or 413 with a
// JSON body, and a 200 means the event is in the store (a new one holding the body as sent, or the
// earlier one with the same id).
func FuzzReceiver(f *testing.F) {
	for _, s := range smsSeeds() {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"id":"c1","eventName":"CDR","callDuration":12}`), true)
	f.Add([]byte(`{"id":" ","eventName":"VM"}`), true)
	f.Add([]byte(`[1]`), true)
	f.Add([]byte(`{"id":"big","body":"`+strings.Repeat("a", 40000)+`"}`), false)

	r := newReceiver(f)
	max := r.srv.cfg.Server.MaxBodyBytes
	var last uint64 // the newest event's seq: one receiver serves every input of this process, in turn
	f.Fuzz(func(t *testing.T, body []byte, call bool) {
		path, class := r.srv.cfg.Server.Path, "sms"
		if call {
			path, class = r.srv.cfg.Server.CallsPath, "call"
		}
		a := r.post(t, path, onoff("k1"), bytes.NewReader(body), int64(len(body)))

		// What the receiver should have decided.
		var parseErr error
		wantStatus, wantID := store.Ignored, ""
		var wantProblems map[string]string
		if call {
			ev, name, problems, err := parseCall(body, r.srv.cfg.Phone.DefaultRegion, nil)
			parseErr = err
			switch {
			case !containsName(callNames, name):
			case len(problems) > 0:
				wantStatus, wantProblems = store.Quarantined, problems
			default:
				wantStatus = store.Accepted
			}
			if problems["id"] == "" {
				wantID = ev.ID
			}
		} else {
			sms, name, problems, err := parseSMS(body, r.srv.cfg.Phone.DefaultRegion, nil)
			parseErr = err
			switch {
			case name != "SMS":
			case len(problems) > 0:
				wantStatus, wantProblems = store.Quarantined, problems
			default:
				wantStatus = store.Accepted
			}
			if problems["id"] == "" {
				wantID = sms.ID
			}
		}

		switch a.status {
		case http.StatusRequestEntityTooLarge:
			if int64(len(body)) <= max {
				t.Fatalf("413 for a %d-byte body (limit %d)", len(body), max)
			}
			return
		case http.StatusBadRequest:
			if int64(len(body)) > max || parseErr == nil {
				t.Fatalf("400 for a %d-byte body that parses (err %v)", len(body), parseErr)
			}
			return
		case http.StatusOK:
			if int64(len(body)) > max || parseErr != nil {
				t.Fatalf("200 for a %d-byte body that does not parse (err %v)", len(body), parseErr)
			}
		default:
			t.Fatalf("answered %d %v, want 200, 400 or 413", a.status, a.body)
		}
		if got := a.body["quarantined"] == true; got != (wantStatus == store.Quarantined) {
			t.Errorf("answer %v, want quarantined = %v", a.body, wantStatus == store.Quarantined)
		}

		ev, err := r.store.Event(last + 1)
		if errors.Is(err, store.ErrNotFound) { // nothing new: a redelivery of a stored id
			if wantID == "" {
				t.Fatalf("200 but nothing stored, and no id to deduplicate on")
			}
			if _, err := r.store.EventBySource(class, wantID); err != nil {
				t.Fatalf("200 for a redelivery of %q, but EventBySource: %v", wantID, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Event(%d): %v", last+1, err)
		}
		last++
		if !bytes.Equal(ev.Raw, body) || ev.Class != class || ev.SourceID != wantID || ev.Status != wantStatus {
			t.Errorf("stored %s %s id %q raw %q, want %s %s id %q raw %q", ev.Class, ev.Status, ev.SourceID, ev.Raw,
				class, wantStatus, wantID, body)
		}
		if diff := cmp.Diff(wantProblems, ev.Problems); diff != "" {
			t.Errorf("stored problems (-want +got):\n%s", diff)
		}
	})
}
