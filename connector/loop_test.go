package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
	waited  chan struct{} // if set, signalled (without blocking) whenever something starts waiting
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	if c.waited != nil {
		select {
		case c.waited <- struct{}{}:
		default:
		}
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// syncEnv is a Syncer over a real store with fake adapters and a fake clock.
type syncEnv struct {
	t      *testing.T
	clock  *fakeClock
	store  *store.Store
	syncer *Syncer
	fakes  map[string]*crmtest.Fake
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// destYAML is a hubspot-typed destination (its mapping is the built-in HubSpot one unless mapping is given)
// whose adapter the test replaces with a fake.
func destYAML(name, mapping string) string {
	s := fmt.Sprintf("  - name: %s\n    type: hubspot\n    token: test-token\n", name)
	if mapping != "" {
		s += "    mapping: " + mapping + "\n"
	}
	return s
}

// mappingFile writes a mapping into a temporary file and returns its path.
func mappingFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pausedOnAuth starts e with the next search failing INVALID_AUTHENTICATION and waits for the pause.
func (e *syncEnv) pausedOnAuth() {
	e.t.Helper()
	e.fakes["crm"].FailNext(crmtest.MethodFind, 1, crmtest.ErrAuth)
	e.enqueue("p1", "+33699999999", "+33600000001")
	e.start()
	waitFor(e.t, "pause", func() bool { s, _ := e.syncer.Status("crm"); return s.Paused }, nil)
}

func newSyncEnv(t *testing.T, dests string, names ...string) *syncEnv {
	t.Helper()
	return newSyncEnvLimits(t, dests, crm.Limits{SearchBatch: 10, WriteBatch: 20}, nil, names...)
}

// newSyncEnvLimits is newSyncEnv with fakes of these batch limits that declare rates and wait on the loop's
// throttle, as real adapters do (rates nil: no throttle).
func newSyncEnvLimits(t *testing.T, dests string, limits crm.Limits, rates []crm.RateLimit, names ...string) *syncEnv {
	t.Helper()
	e := &syncEnv{t: t, clock: newFakeClock(), fakes: map[string]*crmtest.Fake{}, dir: t.TempDir()}
	cfg := testConfig(t, e.dir, "destinations:\n"+strings.ReplaceAll(dests, "DIR", e.dir))
	var err error
	e.store, err = store.Open(cfg.Store.Path, store.Options{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	adapters := map[string]func(AdapterDeps) (crm.Client, error){}
	for _, n := range names {
		f := crmtest.NewFake(limits)
		e.fakes[n] = f
		adapters[n] = func(deps AdapterDeps) (crm.Client, error) {
			if rates != nil {
				f.Throttle(deps.Throttle, rates)
			}
			return f, nil
		}
	}
	opts := Options{Clock: e.clock, Adapters: adapters, Metrics: NewMetrics(e.store, e.clock.Now)}
	e.syncer, err = NewSyncer(cfg, e.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stop)
	return e
}

func (e *syncEnv) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		e.syncer.Run(ctx, nil)
	}()
}

func (e *syncEnv) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
	e.syncer.Close()
	e.store.Close()
}

func smsBody(id, user, ext string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"eventName":"SMS","onoffUserName":"Rep One","onoffUserEmail":"rep@example.com","onoffUserNumber":%q,"externalNumber":%q,"date":"2026-05-20T14:00:00Z","smsDirection":"RECEIVED","body":"hello %s"}`, id, user, ext, id))
}

// enqueue stores SMS the way the receiver does.
func (e *syncEnv) enqueue(id, user, ext string) {
	e.t.Helper()
	var dests []string
	for _, d := range e.syncer.cfg.Destinations {
		dests = append(dests, d.Name)
	}
	if _, _, err := e.store.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
		Received: e.clock.Now(), Raw: smsBody(id, user, ext)}, dests); err != nil {
		e.t.Fatal(err)
	}
}

func (e *syncEnv) counts(dest string) map[string]int64 {
	stats, _, err := e.store.Stats()
	if err != nil {
		e.t.Fatal(err)
	}
	return stats[dest].Counts
}

// waitFor polls cond until it holds or a 10-second deadline passes; step, if set, runs between polls
// (to advance the fake clock).
func waitFor(t *testing.T, what string, cond func() bool, step func()) {
	t.Helper()
	waitWithin(t, 10*time.Second, what, cond, step)
}

// waitWithin is waitFor with another deadline, for tests whose work is large (thousands of jobs under -race).
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool, step func()) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if step != nil {
			step()
		}
		time.Sleep(time.Millisecond) // yield to the loop goroutines between polls
	}
}

func (e *syncEnv) waitCounts(dest string, want map[string]int64, step func()) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("%s counts %v", dest, want), func() bool {
		got := e.counts(dest)
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}, step)
}

func (e *syncEnv) advance(d time.Duration) func() { return func() { e.clock.Advance(d) } }

func TestLoopDeliversInBatchesAndCachesContacts(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	known := f.AddContact(crm.Contact{LastName: "Known", Phones: []string{"+33611111111"}})
	for i := range 50 {
		e.enqueue(fmt.Sprint("m", i), "+33699999999", "06 11 11 11 11")
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 50}, nil)
	if n := len(f.Logged()); n != 50 {
		t.Fatalf("logged %d activities, want 50", n)
	}
	for _, a := range f.Logged() {
		if a.ContactID != known {
			t.Fatalf("activity %s on contact %q, want %q", a.SourceID, a.ContactID, known)
		}
	}
	if calls := f.Calls(crmtest.MethodLog); calls > 5 {
		t.Errorf("%d LogActivities calls for 50 SMS, want batches (<= 5)", calls)
	}
	if calls := f.Calls(crmtest.MethodFind); calls > 3 {
		t.Errorf("%d FindContacts calls for one number, want the cache to answer (<= 3)", calls)
	}
	if f.Calls(crmtest.MethodCreate) != 0 {
		t.Errorf("created a contact for a known number")
	}
}

func TestLoopCreatesOneContactForANewNumber(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	e.enqueue("a", "+33699999999", "0622222222")
	e.enqueue("b", "+33699999999", "+33 6 22 22 22 22")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)
	e.enqueue("c", "+33699999999", "06.22.22.22.22") // a later batch: from the cache, not search
	e.waitCounts("crm", map[string]int64{store.Done: 3}, nil)
	if n := f.Calls(crmtest.MethodCreate); n != 1 {
		t.Errorf("created %d contacts for one new number, want 1", n)
	}
	ids := map[string]bool{}
	for _, a := range f.Logged() {
		ids[a.ContactID] = true
	}
	if len(ids) != 1 {
		t.Errorf("activities on %d contacts, want 1: %v", len(ids), ids)
	}
}

func TestLoop429StormThenRecovery(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailNext(crmtest.MethodLog, 6, crmtest.RateLimit(2*time.Second))
	for i := range 30 {
		e.enqueue(fmt.Sprint("r", i), "+33699999999", fmt.Sprintf("+336000000%02d", i))
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 30}, e.advance(time.Second))
	if got := f.Calls(crmtest.MethodLog); got < 7 {
		t.Fatalf("LogActivities called %d times, want the 6 rate-limited calls and more", got)
	}
	for _, d := range deadAndAttempts(t, e.store, "crm") {
		if d.State != store.Done || d.Attempts != 1 {
			t.Errorf("job %d: %s after %d attempts, want done after 1 (429s are not attempts)", d.Seq, d.State, d.Attempts)
		}
	}
}

func deadAndAttempts(t *testing.T, st *store.Store, dest string) []store.Job {
	t.Helper()
	var out []store.Job
	for seq := uint64(1); ; seq++ {
		jobs, err := st.Jobs(seq)
		if err != nil {
			return out
		}
		for _, j := range jobs {
			if j.Dest == dest {
				out = append(out, j)
			}
		}
	}
}

func TestLoopOutageLongerThanRetryCap(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailNext(crmtest.MethodLog, 40, crmtest.ErrServer) // past max_attempts (15), but not past max_age (72h)
	e.enqueue("o1", "+33699999999", "+33600000001")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(10*time.Minute))
	jobs, _ := e.store.Jobs(1)
	if jobs[0].Attempts != 41 {
		t.Errorf("attempts = %d, want 41 (40 failures and the success)", jobs[0].Attempts)
	}
	if e.counts("crm")[store.Dead] != 0 {
		t.Error("a job died during an outage shorter than max_age")
	}
}

func TestLoopGivesUpPastBothLimits(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailNext(crmtest.MethodLog, 1000, crmtest.ErrServer)
	e.enqueue("g1", "+33699999999", "+33600000001")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Dead: 1}, e.advance(time.Hour))
	dl, _ := e.store.DeadLetters("crm", 10)
	if len(dl) != 1 || dl[0].Job.Attempts < 15 || !strings.Contains(dl[0].Job.LastError, "503") {
		t.Fatalf("dead letter = %+v, want >= 15 attempts and the last error", dl)
	}
	if age := dl[0].Job.Finished.Sub(dl[0].Job.Created); age < 72*time.Hour {
		t.Errorf("died after %v, want >= 72h", age)
	}
}

func TestLoopPermanentErrorDeadAtOnce(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailItem("bad", 1, crmtest.ErrBadInput)
	e.enqueue("good", "+33699999999", "+33600000001")
	e.enqueue("bad", "+33699999999", "+33600000002")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1, store.Dead: 1}, nil)
	dl, _ := e.store.DeadLetters("crm", 10)
	if len(dl) != 1 || dl[0].Event.SourceID != "bad" || dl[0].Job.Attempts != 1 || !strings.Contains(dl[0].Job.LastError, "VALIDATION_ERROR") {
		t.Fatalf("dead letters = %+v, want 'bad' after 1 attempt with its reason", dl)
	}
	// An admin fixes the cause and retries it.
	if n, err := e.store.RetryDead(store.Selector{Dest: "crm"}); n != 1 || err != nil {
		t.Fatalf("DeadRetry = %d, %v", n, err)
	}
	e.waitCounts("crm", map[string]int64{store.Done: 2, store.Dead: 0}, nil)
}

func TestLoopAuthFailurePausesThenResumes(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	e.pausedOnAuth()
	if live, _ := e.syncer.Status("crm"); !strings.Contains(live.PauseReason, "INVALID_AUTHENTICATION") {
		t.Errorf("status does not say why it paused: %+v", live)
	}
	e.enqueue("p2", "+33699999999", "+33600000002")
	e.waitCounts("crm", map[string]int64{store.Pending: 2}, nil)
	if c := e.counts("crm"); c[store.Dead] != 0 || c[store.Done] != 0 {
		t.Errorf("paused destination counts %v, want all pending", c)
	}
	calls := f.Calls(crmtest.MethodFind)
	e.clock.Advance(time.Minute) // still paused: no call goes out
	time.Sleep(20 * time.Millisecond)
	if f.Calls(crmtest.MethodFind) != calls {
		t.Error("paused destination kept calling the CRM")
	}
	e.syncer.Resume("crm") // the admin fixed the token
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)
	jobs, _ := e.store.Jobs(1)
	if jobs[0].Attempts != 1 {
		t.Errorf("attempts = %d, want 1: a pause is not the job's fault", jobs[0].Attempts)
	}
}

func TestLoopDailyCapPausesUntilReset(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	reset := e.clock.Now().Add(9 * time.Hour)
	f.FailNext(crmtest.MethodLog, 1, crmtest.DailyCap(reset))
	e.enqueue("d1", "+33699999999", "+33600000001")
	e.start()
	waitFor(t, "daily pause", func() bool { s, _ := e.syncer.Status("crm"); return s.Paused && s.PausedUntil.Equal(reset) }, nil)
	e.clock.Advance(8 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	if e.counts("crm")[store.Done] != 0 {
		t.Fatal("delivered before the daily cap reset")
	}
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(30*time.Minute))
}

func TestLoopAmbiguousFailureNoDuplicate(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, "activity:\n  id_field: onoff_message_id\n")), "crm")
	f := e.fakes["crm"]
	f.SetIndexLag(time.Minute)
	f.FailAfterApply(1, crmtest.ErrTimeout) // the CRM logged it, the answer was lost
	e.enqueue("amb", "+33699999999", "+33600000001")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(5*time.Second))
	if n := f.LoggedCount("amb"); n != 1 {
		t.Errorf("logged %d times, want 1", n)
	}
	if f.Calls(crmtest.MethodLookup) != 1 {
		t.Errorf("FindActivity called %d times, want 1 (after the index lag)", f.Calls(crmtest.MethodLookup))
	}
}

func TestLoopCrashAfterSendNoDuplicate(t *testing.T) {
	dests := destYAML("crm", mappingFile(t, "activity:\n  id_field: onoff_message_id\n"))
	e := newSyncEnv(t, dests, "crm")
	e.enqueue("crash", "+33699999999", "+33600000001")
	// The previous process claimed the job, the CRM logged it, and the process died before recording it.
	if _, _, err := e.store.Claim("crm", e.clock.Now(), 10); err != nil {
		t.Fatal(err)
	}
	f := e.fakes["crm"]
	f.LogActivities(context.Background(), []crm.Activity{{SourceID: "crash", IDField: "onoff_message_id"}})
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
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	if n := f.LoggedCount("crash"); n != 1 {
		t.Errorf("logged %d times after the crash, want 1", n)
	}
}

func TestLoopDestinationsIsolated(t *testing.T) {
	e := newSyncEnv(t, destYAML("down", "")+destYAML("up", ""), "down", "up")
	e.fakes["down"].FailNext(crmtest.MethodFind, 1000, crmtest.ErrServer)
	for i := range 20 {
		e.enqueue(fmt.Sprint("i", i), "+33699999999", fmt.Sprintf("+336000000%02d", i))
	}
	e.start()
	e.waitCounts("up", map[string]int64{store.Done: 20}, nil)
	if c := e.counts("down"); c[store.Done] != 0 || c[store.Retrying]+c[store.InFlight]+c[store.Pending] != 20 {
		t.Errorf("down destination counts %v, want 20 waiting", c)
	}
}

func TestLoopSkipRules(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", mappingFile(t, "skip:\n  - name: colleagues\n    external_number: [\"+3361234*\"]\n")), "crm")
	e.enqueue("colleague", "+33699999999", "06 12 34 00 00")
	e.enqueue("customer", "+33699999999", "06 99 34 00 00")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1, store.Skipped: 1}, nil)
	if e.fakes["crm"].LoggedCount("colleague") != 0 {
		t.Error("a skipped SMS reached the CRM")
	}
}

func TestLoopRegionFromUserNumber(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm") // default_region FR
	f := e.fakes["crm"]
	uk := f.AddContact(crm.Contact{LastName: "UK", Phones: []string{"+44 7700 900456"}})
	e.enqueue("uk", "+447700900123", "07700 900456") // a UK Onoff number texting a UK national number
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	if got := f.Logged()[0].ContactID; got != uk {
		t.Errorf("logged on %q, want the UK contact %q", got, uk)
	}
}

func TestLoopMappingHotReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("activity:\n  fields:\n    hs_communication_body: \"v1 {{ .Event.Body }}\"\n")
	e := newSyncEnv(t, destYAML("crm", path), "crm")
	f := e.fakes["crm"]
	e.start()
	e.enqueue("h1", "+33699999999", "+33600000001")
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)

	write("activity:\n  fields:\n    hs_communication_body: \"v2 {{ .Event.Body }}\"\n")
	if errs := e.syncer.Reload(); len(errs) != 0 {
		t.Fatalf("valid edit rejected: %v", errs)
	}
	e.enqueue("h2", "+33699999999", "+33600000001")
	e.waitCounts("crm", map[string]int64{store.Done: 2}, nil)

	write("activity:\n  fields:\n    hs_communication_body: \"{{ .Event.Bodyy }}\"\n")
	errs := e.syncer.Reload()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "m.yaml:3") {
		t.Fatalf("invalid edit: errors %v, want one naming m.yaml:3", errs)
	}
	e.enqueue("h3", "+33699999999", "+33600000001")
	e.waitCounts("crm", map[string]int64{store.Done: 3}, nil)
	var bodies []string
	for _, a := range f.Logged() {
		bodies = append(bodies, strings.Fields(a.Fields["hs_communication_body"])[0])
	}
	if strings.Join(bodies, ",") != "v1,v2,v2" {
		t.Errorf("bodies rendered with %v, want v1,v2,v2 (the invalid edit keeps v2)", bodies)
	}
}

func TestLoopContactGoneInvalidatesCache(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	old := f.AddContact(crm.Contact{LastName: "Old", Phones: []string{"+33600000001"}})
	e.enqueue("x1", "+33699999999", "+33600000001")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 1}, nil)
	f.RemoveContact(old) // merged away in the CRM; the cache still points at it
	newer := f.AddContact(crm.Contact{LastName: "New", Phones: []string{"+33600000001"}})
	f.FailItem("x2", 1, crmtest.ErrGone)
	e.enqueue("x2", "+33699999999", "+33600000001")
	e.waitCounts("crm", map[string]int64{store.Done: 2}, e.advance(time.Minute))
	if got := f.Logged()[1].ContactID; got != newer {
		t.Errorf("after CONTACT_GONE logged on %q, want the contact found again %q", got, newer)
	}
}

func TestLoopPauseLiftsAfterASuccessfulProbe(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	e.pausedOnAuth()
	// Someone fixed the credentials in the CRM; the probe after pauseProbe goes through.
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(time.Minute))
	waitFor(t, "the pause to lift", func() bool { s, _ := e.syncer.Status("crm"); return !s.Paused }, nil)
}

func TestLoopAmbiguousCreateWaitsForTheIndex(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailNext(crmtest.MethodCreate, 1, crmtest.ErrTimeout)
	e.enqueue("n1", "+33699999999", "+33600000009") // a new number: the loop creates a contact
	start := e.clock.Now()
	e.start()
	e.waitCounts("crm", map[string]int64{store.Retrying: 1}, nil)
	jobs, _ := e.store.Jobs(1)
	if wait := jobs[0].NextAttempt.Sub(start); wait < contactIndexLag {
		t.Errorf("retry of an ambiguous create after %v, want >= %v (the CRM's index lag)", wait, contactIndexLag)
	}
	e.waitCounts("crm", map[string]int64{store.Done: 1}, e.advance(time.Minute))
}

// TestLoopRateLimitedCreateNeverLogsWithoutContact: a 429 on one contact create stops the batch; the SMS that
// needed the other new contacts go back to pending instead of being logged on no contact.
func TestLoopRateLimitedCreateNeverLogsWithoutContact(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", ""), "crm")
	f := e.fakes["crm"]
	f.FailNext(crmtest.MethodCreate, 1, crmtest.RateLimit(2*time.Second))
	e.enqueue("a", "+33699999999", "+33600000101")
	e.enqueue("b", "+33699999999", "+33600000102")
	e.enqueue("c", "+33699999999", "+33600000103")
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 3}, e.advance(time.Second))
	for _, a := range f.Logged() {
		if a.ContactID == "" {
			t.Errorf("SMS %s logged without a contact although the mapping creates one", a.SourceID)
		}
	}
	for _, j := range deadAndAttempts(t, e.store, "crm") {
		if j.Attempts != 1 {
			t.Errorf("job %d: %d attempts, want 1 (the rate limit is not an attempt)", j.Seq, j.Attempts)
		}
	}
}

// TestLoopOne429HalvesTheRateOnce: a 429 on a 100-activity write is one rate-limit answer, so the write rate
// is halved once (not once per activity it carried) and RateWaits counts one.
func TestLoopOne429HalvesTheRateOnce(t *testing.T) {
	e := newSyncEnvLimits(t, destYAML("crm", ""), crm.Limits{SearchBatch: 100, WriteBatch: 100},
		[]crm.RateLimit{{Kind: "requests", Rate: 100, Burst: 100}}, "crm")
	f := e.fakes["crm"]
	f.AddContact(crm.Contact{LastName: "Known", Phones: []string{"+33611111111"}})
	f.FailNext(crmtest.MethodLog, 1, crmtest.RateLimit(2*time.Second))
	for i := range 100 {
		e.enqueue(fmt.Sprint("h", i), "+33699999999", "+33611111111")
	}
	e.start()
	waitFor(t, "the rate-limited write", func() bool {
		return f.Calls(crmtest.MethodLog) >= 1 && e.counts("crm")[store.Pending] == 100
	}, nil)
	st, _ := e.syncer.Status("crm")
	if got, want := st.Rates["requests"], 50.0; got != want {
		t.Errorf("after one 429 on a 100-activity batch: requests rate %v/s, want %v/s (halved once)", got, want)
	}
	// status --json shows it as live.rates_per_second.requests (admin.DestStatus.Live is this LoopStatus).
	if js, _ := json.Marshal(st); !strings.Contains(string(js), `"rates_per_second":{"requests":50}`) {
		t.Errorf("status JSON %s, want rates_per_second.requests 50", js)
	}
	var m dto.Metric
	if err := e.syncer.metrics.RateWaits.WithLabelValues("crm").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("RateWaits = %v after one 429, want 1", got)
	}
	e.waitCounts("crm", map[string]int64{store.Done: 100}, e.advance(time.Second))
}
