package connector

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// contentFake is a crmtest.Fake that also looks activities up by content (crm.ContentFinder), as the HubSpot
// and Salesforce adapters do without an id field: an activity counts as logged when one with the same
// contact, time, kind and fields was, each logged one answering for one look-up at most.
type contentFake struct {
	*crmtest.Fake
	lag time.Duration

	mu      sync.Mutex
	calls   int
	asked   int
	at      []time.Time // when each look-up was made (by the loop's clock)
	since   []time.Time
	nowFunc func() time.Time
}

func (f *contentFake) FindByContent(ctx context.Context, atts []crm.Attempt) ([]string, error) {
	f.mu.Lock()
	f.calls++
	f.asked += len(atts)
	f.at = append(f.at, f.nowFunc())
	for _, a := range atts {
		f.since = append(f.since, a.Since)
	}
	f.mu.Unlock()
	logged := f.Logged()
	used := map[int]bool{}
	out := make([]string, len(atts))
	for i, at := range atts {
		a := at.Activity
		for j, x := range logged {
			if !used[j] && x.ContactID == a.ContactID && x.Timestamp.Equal(a.Timestamp) &&
				(x.Call == nil) == (a.Call == nil) && cmp.Equal(x.Fields, a.Fields) {
				used[j], out[i] = true, fmt.Sprint("found-", j)
				break
			}
		}
	}
	return out, nil
}

func (f *contentFake) ContentLag(crm.Activity) time.Duration { return f.lag }

// newContentEnv is a sync env with the built-in mapping (no id field) whose "crm" adapter is a contentFake.
func newContentEnv(t *testing.T, lag time.Duration) (*syncEnv, *contentFake) {
	t.Helper()
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	cf := &contentFake{Fake: e.fakes["crm"], lag: lag, nowFunc: e.clock.Now}
	var err error
	e.syncer.Close()
	e.syncer, err = NewSyncer(e.syncer.cfg, e.store, Options{Clock: e.clock, Adapters: map[string]func(AdapterDeps) (crm.Client, error){
		"crm": func(AdapterDeps) (crm.Client, error) { return cf, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	return e, cf
}

// TestLoopAmbiguousWithoutIDFieldLooksByContent: with the built-in mapping (no id field), a batch whose
// answer was lost after HubSpot applied part of it is looked up by content once the index lag has passed, in
// one call: what was logged is done, what was not is sent once.
func TestLoopAmbiguousWithoutIDFieldLooksByContent(t *testing.T) {
	e, f := newContentEnv(t, time.Minute)
	f.FailItem("b", 1, crmtest.ErrServer)   // b is not logged...
	f.FailAfterApply(1, crmtest.ErrTimeout) // ...a and c are, and the answer is lost
	start := e.clock.Now()
	for _, id := range []string{"a", "b", "c"} {
		e.enqueue(id, "+33699999999", "+33600000001")
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 3}, e.advance(5*time.Second))
	for _, id := range []string{"a", "b", "c"} {
		if n := f.LoggedCount(id); n != 1 {
			t.Errorf("%s logged %d times, want 1", id, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls != 1 || f.asked != 3 {
		t.Errorf("FindByContent called %d times for %d activities, want once for 3", f.calls, f.asked)
	}
	if len(f.at) > 0 && f.at[0].Sub(start) < time.Minute {
		t.Errorf("looked up %v after the attempt, want >= the index lag (1m)", f.at[0].Sub(start))
	}
}

// TestLoopCrashWithoutIDFieldNoDuplicate: a process killed with a batch in flight (logged in the CRM, not
// recorded) restarts; the jobs are ambiguous and found by content, none logged twice, and the look-up counts
// from the first attempt, not from the restart.
func TestLoopCrashWithoutIDFieldNoDuplicate(t *testing.T) {
	e, f := newContentEnv(t, 0)
	contact := f.AddContact(crm.Contact{Kind: crm.KindContact, LastName: "Known", Phones: []string{"+33600000001"}})
	for _, id := range []string{"a", "b"} {
		e.enqueue(id, "+33699999999", "+33600000001")
	}
	// The previous process claimed both jobs, the CRM logged a (as the loop renders it), and the process died
	// before recording anything.
	claimedAt := e.clock.Now()
	claimed, _, err := e.store.Claim("crm", claimedAt, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %d jobs, %v", len(claimed), err)
	}
	m := e.syncer.loops[0].mapping.Load()
	sms, _, _, err := parseSMS(claimed[0].Event.Raw, e.syncer.cfg.Phone.DefaultRegion, e.syncer.phones)
	if err != nil {
		t.Fatal(err)
	}
	act, err := m.For(sms).Apply(sms, &crm.Contact{ID: contact, Kind: crm.KindContact}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.LogActivities(context.Background(), []crm.Activity{act}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // the restart comes much later
	path := e.syncer.cfg.Store.Path
	e.syncer.Close()
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
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)
	for _, id := range []string{"a", "b"} {
		if n := f.LoggedCount(id); n != 1 {
			t.Errorf("%s logged %d times after the crash, want 1", id, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.since {
		if !s.Equal(claimedAt) {
			t.Errorf("look-up since %v, want the first attempt %v (not the restart)", s, claimedAt)
		}
	}
}
