package connector

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
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
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 16 { // concurrent writers share commits, so this takes hundreds of fsyncs, not n
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				id := fmt.Sprint("park-", i)
				if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
					Received: now, Raw: smsBody(id, "+33699999999", fmt.Sprintf("+336%08d", 10000000+i))}, dests); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
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

// runClock moves c to its earliest waiter whenever something waits on it, until the test ends: time passes
// only when the code under test waits (for a token, a recheck, a retry), as fast as it can. A waiter left
// behind by a sleep that a new job cut short can move the clock while the loop works: that makes the loop
// look slower, never faster, so rates measured on this clock are not flattered by it.
func runClock(t *testing.T, c *fakeClock) {
	c.mu.Lock()
	c.waited = make(chan struct{}, 1)
	c.waited <- struct{}{} // for whatever already waits
	c.mu.Unlock()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-c.waited:
			}
			for {
				c.mu.Lock()
				var at time.Time
				for _, w := range c.waiters {
					if at.IsZero() || w.at.Before(at) {
						at = w.at
					}
				}
				d := at.Sub(c.now)
				c.mu.Unlock()
				if at.IsZero() {
					break
				}
				c.Advance(d)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// bigWait bounds the waits of the 10,000-SMS test: about 4 s of work alone, 30 s under -race, more on a
// loaded machine.
const bigWait = 3 * time.Minute

// TestTenThousandParkedRecheckedWithinHubSpotsSearchLimit: 10,000 SMS parked for unknown numbers are all
// rechecked through the real adapter against the fake HubSpot, whose search allows 5 requests per second (on
// the shared fake clock): no search is refused and no second carries more than 5; live SMS posted meanwhile
// are logged within a second of arriving; and the three parked SMS whose contacts were created after they
// were parked are logged on them with their own date.
func TestTenThousandParkedRecheckedWithinHubSpotsSearchLimit(t *testing.T) {
	const parked = 10000
	clock := newFakeClock()
	hs := hubspottest.New(hubspottest.Options{Now: clock.Now, MaxPer10s: -1})
	defer hs.Close()
	known := hs.SeedContact(map[string]string{"phone": "+33611111111", "lastname": "Known"})
	dir := t.TempDir()
	cfg := testConfig(t, dir, fmt.Sprintf(`destinations:
  - name: hubspot
    type: hubspot
    token: pat-test
    base_url: %q
    mapping: {match: {keys: [phone], on_no_match: park}}
`, hs.URL))
	st, err := store.Open(cfg.Store.Path, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := clock.Now()
	manyParked(t, st, start, []string{"hubspot"}, parked)
	var later []string // contacts created after their SMS was parked, among the last ones rechecked
	for i := parked - 3; i < parked; i++ {
		later = append(later, hs.SeedContact(map[string]string{"phone": fmt.Sprintf("+336%08d", 10000000+i), "lastname": "Later"}))
	}
	hs.Settle()

	s, err := NewSyncer(cfg, st, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	runClock(t, clock)

	var live []uint64
	for _, at := range []int{50, 250, 500} { // post a live SMS once the recheck has made this many searches
		waitWithin(t, bigWait, fmt.Sprint(at, " searches"), func() bool { return hs.Calls(hubspottest.ContactsSearch) >= at }, nil)
		id := fmt.Sprint("live-", at)
		seq, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
			Received: clock.Now(), Raw: smsBody(id, "+33699999999", "+33611111111")}, []string{"hubspot"})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, seq)
	}
	waitWithin(t, bigWait, "every parked SMS rechecked", func() bool {
		due, _, err := st.DueParked("hubspot", start, 1)
		return err == nil && len(due) == 0
	}, nil)
	waitWithin(t, bigWait, "the found SMS logged", func() bool {
		stats, _, _ := st.Stats()
		return stats["hubspot"].Counts[store.Done] == int64(len(live)+len(later))
	}, nil)
	cancel()
	<-done

	if n := hs.RateLimited("SECONDLY"); n != 0 {
		t.Errorf("HubSpot refused %d searches for going past 5 per second", n)
	}
	times := hs.SearchTimes()
	if len(times) < parked/14 {
		t.Errorf("%d searches for %d parked SMS, want at least %d (14 numbers per search)", len(times), parked, parked/14)
	}
	busiest := 0
	for i := range times {
		n := 0
		for j := i; j >= 0 && times[i].Sub(times[j]) < time.Second; j-- {
			n++
		}
		busiest = max(busiest, n)
	}
	if busiest > 5 {
		t.Errorf("the busiest second carried %d searches, want at most 5", busiest)
	}
	t.Logf("%d searches over %v of fake time; busiest second %d", len(times), times[len(times)-1].Sub(times[0]), busiest)
	for _, seq := range live {
		jobs, err := st.Jobs(seq)
		if err != nil || len(jobs) != 1 || jobs[0].State != store.Done {
			t.Fatalf("live SMS %d: %+v, %v; want done", seq, jobs, err)
		}
		ev, _ := st.Event(seq)
		if d := jobs[0].Finished.Sub(ev.Received); d > time.Second {
			t.Errorf("live SMS %d logged %v after it arrived, want within a second while rechecks run", seq, d)
		}
	}
	byContact := map[string]int{}
	for _, c := range hs.Communications() {
		for _, a := range c.Associations {
			byContact[a.ToID]++
		}
		if ts := c.Properties["hs_timestamp"]; ts != smsDate.Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("communication %s at %s, want the SMS's date %v", c.ID, ts, smsDate)
		}
	}
	for _, id := range later {
		if byContact[id] != 1 {
			t.Errorf("contact %s created after its SMS was parked holds %d SMS, want 1", id, byContact[id])
		}
	}
	if byContact[known] != len(live) {
		t.Errorf("the known contact holds %d SMS, want the %d live ones", byContact[known], len(live))
	}
}

// TestParkedSMSThroughBothCRMs drives the real adapters against both fakes on a fake clock: SMS from unknown
// numbers are parked in HubSpot and Salesforce; one number becomes a contact in each CRM after its SMS was
// parked, and its SMS is logged there at the next recheck with its own date (days before the recheck);
// the other one's SMS follows park_then once park_for has passed: skipped in HubSpot, logged without a
// contact in Salesforce.
func TestParkedSMSThroughBothCRMs(t *testing.T) {
	clock := newFakeClock()
	hs := hubspottest.New(hubspottest.Options{Now: clock.Now, MaxPer10s: -1})
	defer hs.Close()
	sf := salesforcetest.New(salesforcetest.Options{Now: clock.Now, ClientID: "id", ClientSecret: "secret", IndexLag: 2 * time.Minute})
	defer sf.Close()
	cfg := testConfig(t, t.TempDir(), fmt.Sprintf(`destinations:
  - name: hubspot
    type: hubspot
    token: pat-test
    base_url: %q
    mapping: {match: {keys: [phone], on_no_match: park, park_recheck: 1h, park_for: 96h, park_then: skip}}
  - name: salesforce
    type: salesforce
    login_url: %q
    auth: client_credentials
    client_id: id
    client_secret: secret
    mapping: {match: {keys: [phone], on_no_match: park, park_recheck: 1h, park_for: 96h, park_then: log_without_contact}}
`, hs.URL, sf.URL()))
	st, err := store.Open(cfg.Store.Path, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := NewSyncer(cfg, st, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dests := []string{"hubspot", "salesforce"}
	for _, id := range []string{"appears", "never"} {
		number := map[string]string{"appears": "06 55 44 33 22", "never": "06 55 44 33 00"}[id]
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
			Received: clock.Now(), Raw: smsBody(id, "+33699999999", number)}, dests); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	counts := func(want map[string]int64) func() bool {
		return func() bool {
			stats, _, _ := st.Stats()
			for _, d := range dests {
				for state, n := range want {
					if stats[d].Counts[state] != n {
						return false
					}
				}
			}
			return true
		}
	}
	waitFor(t, "both SMS parked in both CRMs", counts(map[string]int64{store.Parked: 2}), func() { clock.Advance(100 * time.Millisecond) })
	if n := len(hs.Contacts()) + len(sf.Records("Contact")) + len(sf.Records("Lead")); n != 0 {
		t.Fatalf("%d contacts created, want none (the mappings park)", n)
	}
	hsContact := hs.SeedContact(map[string]string{"phone": "+33655443322", "lastname": "Later"})
	hs.Settle()
	sfContact := sf.SeedContact(salesforcetest.Person{LastName: "Later", Phone: "+33 6 55 44 33 22"})
	runClock(t, clock)

	waitFor(t, "the found SMS logged and the other past park_for", func() bool {
		stats, _, _ := st.Stats()
		return stats["hubspot"].Counts[store.Done] == 1 && stats["hubspot"].Counts[store.Skipped] == 1 &&
			stats["salesforce"].Counts[store.Done] == 2 && stats["salesforce"].Counts[store.Parked] == 0
	}, nil)
	cancel()
	<-done
	if waited := clock.Now().Sub(smsDate); waited < 96*time.Hour {
		t.Errorf("done %v after the SMS, want park_for (96h) to have passed", waited)
	}
	comms := hs.Communications()
	if len(comms) != 1 || len(comms[0].Associations) == 0 || comms[0].Associations[0].ToID != hsContact ||
		comms[0].Properties["hs_timestamp"] != smsDate.Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("HubSpot communications %+v, want one on contact %s at %v", comms, hsContact, smsDate)
	}
	tasks := sf.Tasks()
	if len(tasks) != 2 {
		t.Fatalf("Salesforce holds %d Tasks, want 2", len(tasks))
	}
	var who []string
	for _, task := range tasks {
		w, _ := task.Fields["WhoId"].(string)
		who = append(who, w)
		if got := task.Fields["ActivityDate"]; got != smsDate.Format(time.DateOnly) {
			t.Errorf("Task ActivityDate %v, want the SMS's date %s", got, smsDate.Format(time.DateOnly))
		}
	}
	slices.Sort(who)
	if want := []string{"", sfContact}; !slices.Equal(who, want) {
		t.Errorf("Tasks on %q, want one on the later contact and one without (park_then)", who)
	}
}
