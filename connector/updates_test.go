package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// optOutMapping flags the contact on an opt-out keyword received, and stamps every SMS on it.
const optOutMapping = `activity:
  id_field: onoff_message_id
contact_updates:
  - name: opt-out
    when:
      keywords: [STOP, STOP SMS, ARRET, UNSUBSCRIBE]
      direction: RECEIVED
    set:
      sms_opt_out: "true"
`

// smsWithBody is an SMS payload with this body and direction, dated at.
func smsWithBody(id, ext, direction, body string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "eventName": "SMS", "onoffUserName": "Rep One",
		"onoffUserEmail": "rep@example.com", "onoffUserNumber": "+33699999999", "externalNumber": ext,
		"date": at.UTC().Format(time.RFC3339), "smsDirection": direction, "body": body})
	return b
}

// enqueueBody stores an SMS with this body the way the receiver does, and reports whether it was new.
func (e *syncEnv) enqueueBody(id, ext, direction, body string) bool {
	e.t.Helper()
	_, dup, err := e.store.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
		Received: e.clock.Now(), Raw: smsWithBody(id, ext, direction, body, e.clock.Now())}, []string{"crm"})
	if err != nil {
		e.t.Fatal(err)
	}
	return !dup
}

func TestLoopContactUpdatesOptOut(t *testing.T) {
	tests := []struct {
		name, body, direction string
		want                  map[string]string // nil: no update at all
	}{
		{"STOP", "STOP", "RECEIVED", map[string]string{"sms_opt_out": "true"}},
		{"any case, trimmed", "Stop ", "RECEIVED", map[string]string{"sms_opt_out": "true"}},
		{"accents", "arrêt", "RECEIVED", map[string]string{"sms_opt_out": "true"}},
		{"a sentence holding the keyword", "please stop texting", "RECEIVED", nil},
		{"sent by the Onoff user", "STOP", "SENT", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSyncEnv(t, destYAML("crm", mappingFile(t, optOutMapping)), "crm")
			f := e.fakes["crm"]
			id := f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
			e.enqueueBody("s1", "+33611111111", tt.direction, tt.body)
			e.start()
			e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
			if e.enqueueBody("s1", "+33611111111", tt.direction, tt.body) { // Onoff delivers it again
				t.Fatal("a redelivered SMS was stored again")
			}
			e.enqueueBody("s2", "+33611111111", "RECEIVED", "thanks") // a later SMS flushes the loop's queue
			e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)

			var got []crm.ContactUpdate
			for _, u := range f.Updates() {
				got = append(got, u)
			}
			var want []crm.ContactUpdate
			if tt.want != nil {
				want = []crm.ContactUpdate{{ContactID: id, Kind: crm.KindContact, Fields: tt.want}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
			if n := f.LoggedCount("s1"); n != 1 {
				t.Errorf("logged %d times, want 1", n)
			}
		})
	}
}

// TestLoopContactUpdatesBatched merges a contact's updates from several SMS of a batch into one (the CRMs
// refuse a contact twice in one call), in claim order, and sends every contact's in one call.
func TestLoopContactUpdatesBatched(t *testing.T) {
	mapping := optOutMapping + `  - set:
      last_sms_body: "{{ .Event.Body }}"
`
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, mapping)), "crm")
	f := e.fakes["crm"]
	a := f.AddContact(crm.Contact{LastName: "A", Phones: []string{"+33611111111"}})
	b := f.AddContact(crm.Contact{LastName: "B", Phones: []string{"+33622222222"}})
	e.enqueueBody("a1", "+33611111111", "RECEIVED", "STOP")
	e.enqueueBody("a2", "+33611111111", "RECEIVED", "sorry, wrong number")
	e.enqueueBody("b1", "+33622222222", "SENT", "hello")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 3}, nil)
	if n := f.Calls(crmtest.MethodUpdate); n != 1 {
		t.Errorf("%d UpdateContacts calls for one batch, want 1", n)
	}
	want := map[string]map[string]string{
		a: {"sms_opt_out": "true", "last_sms_body": "sorry, wrong number"},
		b: {"last_sms_body": "hello"},
	}
	for id, w := range want {
		if diff := cmp.Diff(w, f.ContactFields(id)); diff != "" {
			t.Errorf("contact %s fields (-want +got):\n%s", id, diff)
		}
	}
}

// TestLoopContactUpdateRetried: a failed update is retried through the retry policy, and the activity is not
// logged again for it.
func TestLoopContactUpdateRetried(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, optOutMapping)), "crm")
	f := e.fakes["crm"]
	id := f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
	f.FailNext(crmtest.MethodUpdate, 2, crmtest.ErrServer)
	e.enqueueBody("s1", "+33611111111", "RECEIVED", "STOP")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(time.Second))
	if n := f.LoggedCount("s1"); n != 1 {
		t.Errorf("logged %d times, want 1", n)
	}
	if n := f.Calls(crmtest.MethodUpdate); n != 3 {
		t.Errorf("UpdateContacts called %d times, want 3 (two failures, then success)", n)
	}
	if got := f.ContactFields(id)["sms_opt_out"]; got != "true" {
		t.Errorf("sms_opt_out = %q, want true", got)
	}
}

// TestLoopContactUpdateRefusedIsDeadAndRetriesAlone: a field the CRM refuses dead-letters the job with a
// message saying it was the update; the admin's retry applies the update only.
func TestLoopContactUpdateRefusedIsDeadAndRetriesAlone(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, optOutMapping)), "crm")
	f := e.fakes["crm"]
	id := f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
	f.FailItem(id, 1, crmtest.ErrBadInput)
	e.enqueueBody("s1", "+33611111111", "RECEIVED", "STOP")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Dead: 1}, nil)
	dead, err := e.store.DeadLetters("crm", 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %v, %v", dead, err)
	}
	if got := dead[0].Job.LastError; !strings.Contains(got, "contact update: ") || dead[0].Job.RecordID == "" {
		t.Errorf("dead job: error %q, record %q; want a contact update error on a logged activity", got, dead[0].Job.RecordID)
	}
	if _, err := e.store.RetryDead(store.Selector{Dest: "crm"}); err != nil {
		t.Fatal(err)
	}
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	if n := f.LoggedCount("s1"); n != 1 {
		t.Errorf("logged %d times, want 1", n)
	}
	if got := f.ContactFields(id)["sms_opt_out"]; got != "true" {
		t.Errorf("sms_opt_out = %q after the retry, want true", got)
	}
}

// reopen restarts e's store and syncer on the same files with f as the adapter, as after a crash.
func (e *syncEnv) reopen(f *crmtest.Fake) {
	e.t.Helper()
	path := e.syncer.cfg.Store.Path
	e.store.Close()
	st, err := store.Open(path, store.Options{Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.syncer, err = NewSyncer(e.syncer.cfg, st, Options{Clock: e.clock, Adapters: map[string]func(AdapterDeps) (crm.Client, error){
		"crm": func(AdapterDeps) (crm.Client, error) { return f, nil }}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestLoopContactUpdateSurvivesACrash kills the process between the two phases, at both places that can
// happen: after the loop recorded the activity as logged, and before (the CRM logged it, the answer was
// lost with the process). Either way the contact is updated and the SMS logged once.
func TestLoopContactUpdateSurvivesACrash(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		t.Run(fmt.Sprintf("logged recorded %v", recorded), func(t *testing.T) {
			e := newSyncEnv(t, destYAML("crm", mappingFile(t, optOutMapping)), "crm")
			f := e.fakes["crm"]
			id := f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
			e.enqueueBody("s1", "+33611111111", "RECEIVED", "STOP")
			claimed, _, err := e.store.Claim("crm", e.clock.Now(), 10)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v %v", claimed, err)
			}
			res, _ := f.LogActivities(context.Background(), []crm.Activity{{SourceID: "s1", ContactID: id, IDField: "onoff_message_id"}})
			if recorded {
				up, _ := json.Marshal(crm.ContactUpdate{ContactID: id, Kind: crm.KindContact, Fields: map[string]string{"sms_opt_out": "true"}})
				j := claimed[0].Job
				if err := e.store.Complete([]store.Outcome{{Dest: j.Dest, Seq: j.Seq, State: store.InFlight, RecordID: res[0].ID,
					ContactID: id, Sent: true, ContactUpdate: up}}); err != nil {
					t.Fatal(err)
				}
			}
			e.reopen(f)
			e.start()
			e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
			if n := f.LoggedCount("s1"); n != 1 {
				t.Errorf("logged %d times after the crash, want 1", n)
			}
			if n := len(f.Updates()); n != 1 {
				t.Errorf("%d updates after the crash, want 1", n)
			}
			if got := f.ContactFields(id)["sms_opt_out"]; got != "true" {
				t.Errorf("sms_opt_out = %q, want true", got)
			}
			jobs, _ := e.store.Jobs(claimed[0].Job.Seq)
			if len(jobs) != 1 || jobs[0].RecordID != res[0].ID {
				t.Errorf("job %+v, want done with record %s", jobs, res[0].ID)
			}
		})
	}
}

// TestLoopContactUpdatesNotForCalls: calls never run contact_updates (a call has no body for keywords, and a
// last-SMS field must not move on a call); an SMS from the same contact does.
func TestLoopContactUpdatesNotForCalls(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, optOutMapping+"  - set: {last_sms_direction: \"{{ .Event.Direction }}\"}\n")), "crm")
	f := e.fakes["crm"]
	f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
	if _, _, err := e.store.Enqueue(store.Event{Class: ClassCall, Status: store.Accepted, SourceID: "k1", EventName: "CDR",
		Received: e.clock.Now(), Raw: []byte(callBody("k1", "CDR", "+33699999999", "+33611111111", nil))}, []string{"crm"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	if n := len(f.Updates()); n != 0 {
		t.Errorf("%d updates for a call, want 0", n)
	}
	e.enqueueBody("s1", "+33611111111", "RECEIVED", "STOP")
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)
	if n := len(f.Updates()); n != 1 {
		t.Errorf("%d updates for an SMS, want 1", n)
	}
}

// TestLoopContactUpdatesFollowTheSMSOrder: two SMS of one batch set one field; the one that happened last
// wins, whatever order they were stored in (Onoff may deliver a retried webhook late).
func TestLoopContactUpdatesFollowTheSMSOrder(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, "contact_updates:\n  - set: {last_sms_body: \"{{ .Event.Body }}\"}\n")), "crm")
	f := e.fakes["crm"]
	id := f.AddContact(crm.Contact{LastName: "A", Phones: []string{"+33611111111"}})
	at := time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC)
	for _, m := range []struct {
		id, body string
		at       time.Time
	}{{"late", "the later one", at.Add(5 * time.Minute)}, {"early", "the earlier one", at}} {
		if _, _, err := e.store.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: m.id, EventName: "SMS",
			Received: e.clock.Now(), Raw: smsWithBody(m.id, "+33611111111", "RECEIVED", m.body, m.at)}, []string{"crm"}); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)
	if got := f.ContactFields(id)["last_sms_body"]; got != "the later one" {
		t.Errorf("last_sms_body = %q, want the later SMS's", got)
	}
}

// TestLoopContactUpdateRetryAfterTheMappingDropsAField: an update dead because the CRM refused one field; the
// admin removes that field from contact_updates, reloads and retries the dead letter: the other fields are
// applied, the refused one is not sent again, and the SMS is not logged again.
func TestLoopContactUpdateRetryAfterTheMappingDropsAField(t *testing.T) {
	path := mappingFile(t, optOutMapping+"      sms_opt_out_date: \"{{ .Event.Date }}\"\n")
	e := newSyncEnv(t, destYAML("crm", path), "crm")
	f := e.fakes["crm"]
	id := f.AddContact(crm.Contact{LastName: "Prospect", Phones: []string{"+33611111111"}})
	f.FailItem(id, 1, crmtest.ErrBadInput) // say sms_opt_out_date does not exist in the CRM
	e.enqueueBody("s1", "+33611111111", "RECEIVED", "STOP")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Dead: 1}, nil)

	if err := os.WriteFile(path, []byte(optOutMapping), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := e.syncer.Reload(); len(errs) != 0 {
		t.Fatal(errs)
	}
	if _, err := e.store.RetryDead(store.Selector{Dest: "crm"}); err != nil {
		t.Fatal(err)
	}
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	if diff := cmp.Diff(map[string]string{"sms_opt_out": "true"}, f.ContactFields(id)); diff != "" {
		t.Errorf("contact fields (-want +got):\n%s", diff)
	}
	if n := f.LoggedCount("s1"); n != 1 {
		t.Errorf("logged %d times, want 1", n)
	}
}
