package connector

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// smsDate is the date smsBody gives every SMS: activities must carry it, however late they are logged.
var smsDate = time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC)

// parkMapping is a mapping that parks unmatched SMS, with extra match keys.
func parkMapping(t *testing.T, extra string) string {
	return mappingFile(t, "match:\n  keys: [phone]\n  on_no_match: park\n"+extra)
}

// TestParkedSMSLoggedWhenTheContactAppears: SMS from an unknown number are parked (not logged, no contact
// created) while the known one is logged at once; once the contact exists in the CRM, the next recheck finds
// it and the parked SMS are logged on it with their own date.
func TestParkedSMSLoggedWhenTheContactAppears(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", parkMapping(t, "  park_recheck: 1s\n")), "crm")
	f := e.fakes["crm"]
	known := f.AddContact(crm.Contact{LastName: "Known", Phones: []string{"+33611111111"}})
	e.enqueue("p1", "+33699999999", "06 55 44 33 22")
	e.enqueue("p2", "+33699999999", "+33655443322")
	e.enqueue("k1", "+33699999999", "+33611111111")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Parked: 2, store.Done: 1}, nil)
	if got := f.Logged(); len(got) != 1 || got[0].SourceID != "k1" || got[0].ContactID != known {
		t.Fatalf("logged %v, want only k1 on the known contact", got)
	}
	if n := f.Calls(crmtest.MethodCreate); n != 0 {
		t.Fatalf("%d contacts created, want none (the mapping parks)", n)
	}
	finds := f.Calls(crmtest.MethodFind)
	e.clock.Advance(time.Second)
	waitFor(t, "a recheck", func() bool { return f.Calls(crmtest.MethodFind) > finds }, nil)
	e.waitCounts("crm", map[string]int64{store.Parked: 2, store.Done: 1}, nil)

	later := f.AddContact(crm.Contact{LastName: "Later", Phones: []string{"+33 6 55 44 33 22"}})
	e.waitCounts("crm", map[string]int64{store.Parked: 0, store.Done: 3}, e.advance(100*time.Millisecond))
	for _, a := range f.Logged()[1:] {
		if a.ContactID != later || !a.Timestamp.Equal(smsDate) {
			t.Errorf("%s logged on %q at %v, want on %q at the SMS's date %v", a.SourceID, a.ContactID, a.Timestamp, later, smsDate)
		}
	}
	if n := f.Calls(crmtest.MethodCreate); n != 0 {
		t.Errorf("%d contacts created, want none", n)
	}
}

// TestParkExpiryFollowsParkThen: an SMS still unmatched after park_for is logged without a contact or skipped,
// as park_then says, after having been rechecked meanwhile.
func TestParkExpiryFollowsParkThen(t *testing.T) {
	for _, then := range []string{"log_without_contact", "skip"} {
		t.Run(then, func(t *testing.T) {
			e := newSyncEnv(t, destYAML("crm", parkMapping(t, "  park_recheck: 1s\n  park_for: 10s\n  park_then: "+then+"\n")), "crm")
			f := e.fakes["crm"]
			e.enqueue("p1", "+33699999999", "+33655443322")
			e.start()
			e.waitCounts("crm", map[string]int64{store.Parked: 1}, nil)
			parked := e.clock.Now()
			want := map[string]int64{store.Parked: 0, store.Done: 1}
			if then == "skip" {
				want = map[string]int64{store.Parked: 0, store.Skipped: 1}
			}
			e.waitCounts("crm", want, e.advance(100*time.Millisecond))
			if waited := e.clock.Now().Sub(parked); waited < 10*time.Second {
				t.Errorf("park ended after %v, want at least park_for (10s)", waited)
			}
			if n := f.Calls(crmtest.MethodFind); n < 3 {
				t.Errorf("%d searches, want the first and rechecks every second", n)
			}
			logged := f.Logged()
			switch {
			case then == "skip" && len(logged) != 0:
				t.Errorf("logged %v, want nothing (park_then: skip)", logged)
			case then == "log_without_contact" && (len(logged) != 1 || logged[0].ContactID != "" || !logged[0].Timestamp.Equal(smsDate)):
				t.Errorf("logged %+v, want p1 without a contact at %v", logged, smsDate)
			}
			jobs := deadAndAttempts(t, e.store, "crm")
			if len(jobs) != 1 || jobs[0].ParkedAt.IsZero() {
				t.Errorf("jobs %+v, want one with ParkedAt set", jobs)
			}
		})
	}
}

// TestParkedJobsFollowAMappingThatNoLongerParks: after a reload to a mapping that logs unmatched SMS without a
// contact, parked SMS are logged at their next recheck rather than waiting out park_for.
func TestParkedJobsFollowAMappingThatNoLongerParks(t *testing.T) {
	path := parkMapping(t, "  park_recheck: 1s\n")
	e := newSyncEnv(t, destYAML("crm", path), "crm")
	e.enqueue("p1", "+33699999999", "+33655443322")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Parked: 1}, nil)
	if err := os.WriteFile(path, []byte("match:\n  keys: [phone]\n  on_no_match: log_without_contact\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := e.syncer.Reload(); len(errs) != 0 {
		t.Fatal(errs)
	}
	e.waitCounts("crm", map[string]int64{store.Parked: 0, store.Done: 1}, e.advance(100*time.Millisecond))
	if got := e.fakes["crm"].Logged(); len(got) != 1 || got[0].ContactID != "" {
		t.Errorf("logged %+v, want p1 without a contact", got)
	}
}

// manyParked stores n SMS from n distinct unknown numbers already parked and due for a recheck, the way the
// loop leaves them, without the minutes of searches that parking them live would take.
func manyParked(tb testing.TB, st *store.Store, now time.Time, dests []string, n int) {
	tb.Helper()
	for i := range n {
		id := fmt.Sprint("park-", i)
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
			Received: now, Raw: smsBody(id, "+33699999999", fmt.Sprintf("+336%08d", 10000000+i))}, dests); err != nil {
			tb.Fatal(err)
		}
	}
	for _, d := range dests {
		for {
			jobs, _, err := st.Claim(d, now, 1000)
			if err != nil {
				tb.Fatal(err)
			}
			if len(jobs) == 0 {
				break
			}
			outs := make([]store.Outcome, len(jobs))
			for i, c := range jobs {
				outs[i] = store.Outcome{Dest: d, Seq: c.Job.Seq, State: store.Parked, NextAttempt: now, Error: "parked: no matching contact yet"}
			}
			if err := st.Complete(outs); err != nil {
				tb.Fatal(err)
			}
		}
	}
}
