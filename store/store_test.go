package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC)} }

func openTest(tb testing.TB, path string, clk *clock) *Store {
	tb.Helper()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func sms(id string) Event {
	return Event{Class: "sms", Status: Accepted, SourceID: id, EventName: "SMS", Raw: []byte(`{"id":"` + id + `"}`)}
}

func TestEnqueueDeduplicates(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	seq, dup, err := s.Enqueue(sms("a"), []string{"hubspot", "audit"})
	if err != nil || dup || seq == 0 {
		t.Fatalf("first Enqueue = %d, %v, %v; want a seq, false, nil", seq, dup, err)
	}
	seq2, dup, err := s.Enqueue(sms("a"), []string{"hubspot", "audit"})
	if err != nil || !dup || seq2 != seq {
		t.Fatalf("redelivery Enqueue = %d, %v, %v; want %d, true, nil", seq2, dup, err, seq)
	}
	stats, _, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"hubspot", "audit"} {
		if got := stats[d].Counts[Pending]; got != 1 {
			t.Errorf("%s pending = %d, want 1", d, got)
		}
	}
	// A call event with the same id is a different event.
	call := sms("a")
	call.Class, call.Status = "call", Ignored
	if _, dup, _ := s.Enqueue(call, nil); dup {
		t.Error("call event with an SMS's id was taken as a duplicate")
	}
}

func TestClaimCompleteFIFO(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	for i := range 5 {
		if _, _, err := s.Enqueue(sms(fmt.Sprint(i)), []string{"d"}); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _, err := s.Claim("d", clk.Now(), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.Event.SourceID)
	}
	if diff := cmp.Diff([]string{"0", "1", "2"}, got); diff != "" {
		t.Fatalf("claimed (-want +got):\n%s", diff)
	}
	// In-flight jobs are not claimed twice.
	more, _, _ := s.Claim("d", clk.Now(), 10)
	if len(more) != 2 {
		t.Fatalf("second claim got %d jobs, want 2", len(more))
	}
	retryAt := clk.Now().Add(time.Minute)
	err = s.Complete([]Outcome{
		{Dest: "d", Seq: jobs[0].Job.Seq, State: Done, Attempted: true, RecordID: "r0"},
		{Dest: "d", Seq: jobs[1].Job.Seq, State: Retrying, Attempted: true, NextAttempt: retryAt, Error: "boom"},
		{Dest: "d", Seq: jobs[2].Job.Seq, State: Dead, Attempted: true, Error: "bad"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, next, _ := s.Claim("d", clk.Now(), 10); !next.Equal(retryAt) {
		t.Errorf("next = %v, want %v", next, retryAt)
	}
	clk.Add(time.Minute)
	again, _, _ := s.Claim("d", clk.Now(), 10)
	if len(again) != 1 || again[0].Job.Attempts != 1 || again[0].Job.LastError != "boom" {
		t.Errorf("after backoff claimed %+v, want the retrying job with 1 attempt", again)
	}
	stats, _, _ := s.Stats()
	want := map[string]int64{Done: 1, Dead: 1, InFlight: 3, Pending: 0, Retrying: 0}
	if diff := cmp.Diff(want, stats["d"].Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	dead, _ := s.DeadLetters("d", 10)
	if len(dead) != 1 || dead[0].Job.LastError != "bad" {
		t.Fatalf("dead letters = %+v", dead)
	}
	if n, err := s.RetryDead(Selector{Dest: "d"}); n != 1 || err != nil {
		t.Fatalf("RetryDead = %d, %v", n, err)
	}
	jobsOf, _ := s.Jobs(jobs[2].Job.Seq)
	if len(jobsOf) != 1 || jobsOf[0].State != Pending || jobsOf[0].Attempts != 0 {
		t.Errorf("retried dead job = %+v, want pending with 0 attempts", jobsOf)
	}
}

// TestReopenAfterUncleanStop copies the data file while the store is open and still writing, as a power cut
// or SIGKILL would leave it, and checks that every acknowledged event and its jobs are in the copy.
func TestReopenAfterUncleanStop(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	s := openTest(t, filepath.Join(dir, "db"), clk)
	var wg sync.WaitGroup
	acked := make(chan string, 200)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, _, err := s.Enqueue(sms(id), []string{"d"}); err == nil {
					acked <- id
				}
			}
		}()
	}
	wg.Wait()
	close(acked)
	claimed, _, err := s.Claim("d", clk.Now(), 10) // these are in flight when the process "dies"
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, "db"), filepath.Join(dir, "crashed"))

	r := openTest(t, filepath.Join(dir, "crashed"), clk)
	n := 0
	for id := range acked {
		n++
		e, err := r.EventBySource("sms", id)
		if err != nil {
			t.Errorf("acknowledged event %s lost: %v", id, err)
			continue
		}
		jobs, err := r.Jobs(e.Seq)
		if err != nil || len(jobs) != 1 {
			t.Errorf("event %s jobs = %v, %v; want 1 job", id, jobs, err)
		}
	}
	if n != 200 {
		t.Fatalf("acknowledged %d events, want 200", n)
	}
	jobs, _ := r.Jobs(claimed[0].Job.Seq)
	if jobs[0].State != Pending || !jobs[0].Ambiguous {
		t.Errorf("job in flight at the crash = %+v, want pending and ambiguous", jobs[0])
	}
	stats, _, _ := r.Stats()
	if got := stats["d"].Counts[Pending]; got != 200 {
		t.Errorf("pending after recovery = %d, want 200", got)
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestWriteFailsWhenFullOrClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 300<<10)
	var failed error
	for i := 0; i < 20 && failed == nil; i++ {
		ev := sms(fmt.Sprint(i))
		ev.Raw = big
		_, _, failed = s.Enqueue(ev, []string{"d"})
	}
	if failed == nil {
		t.Fatal("Enqueue past MaxSize kept succeeding")
	}
	// The store still works for small writes after a failed one... or at least reports errors, never hangs.
	s.Close()
	if _, _, err := s.Enqueue(sms("late"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
}

func TestQuarantineRequeue(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	q := Event{Class: "sms", Status: Quarantined, Raw: []byte(`{"body":"x"}`), Problems: map[string]string{"id": "missing"}}
	seq, _, err := s.Enqueue(q, []string{"d"})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := s.Quarantine(0, 10)
	if len(list) != 1 || list[0].Seq != seq {
		t.Fatalf("quarantine = %+v", list)
	}
	still, err := s.RequeueQuarantined(seq, func(e Event) (Event, []string) { return e, nil })
	if err != nil || still.Status != Quarantined {
		t.Fatalf("requeue unchanged = %+v, %v", still, err)
	}
	fixed, err := s.RequeueQuarantined(seq, func(e Event) (Event, []string) {
		e.Status, e.SourceID, e.Problems = Accepted, "fixed-1", nil
		return e, []string{"d"}
	})
	if err != nil || fixed.Status != Accepted {
		t.Fatalf("requeue fixed = %+v, %v", fixed, err)
	}
	_, quarantined, _ := s.Stats()
	jobs, _ := s.Jobs(seq)
	if quarantined != 0 || len(jobs) != 1 {
		t.Errorf("after requeue: quarantine %d, jobs %v; want 0 and 1 job", quarantined, jobs)
	}
	if _, dup, _ := s.Enqueue(sms("fixed-1"), []string{"d"}); !dup {
		t.Error("redelivery of a requeued event was not deduplicated")
	}
}

func TestContactCache(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	err := s.CacheContacts("d", map[string]CachedContact{
		"phone:+33612345678": {ID: "c1", Expires: clk.Now().Add(time.Hour)},
		"email:a@b.fr":       {ID: "c1", Expires: clk.Now().Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := s.CachedContact("d", "phone:+33612345678", clk.Now()); !ok || c.ID != "c1" {
		t.Errorf("cache get = %+v, %v", c, ok)
	}
	if _, ok, _ := s.CachedContact("other", "phone:+33612345678", clk.Now()); ok {
		t.Error("cache leaked across destinations")
	}
	if _, ok, _ := s.CachedContact("d", "phone:+33612345678", clk.Now().Add(2*time.Hour)); ok {
		t.Error("expired entry returned")
	}
	if err := s.ForgetContact("d", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.CachedContact("d", "email:a@b.fr", clk.Now()); ok {
		t.Error("forgotten contact still cached")
	}
}

func TestForgetWhileInFlight(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	s.Enqueue(sms("keep"), []string{"d"})
	s.Enqueue(sms("erase"), []string{"d"})
	jobs, _, _ := s.Claim("d", clk.Now(), 10)
	if _, err := s.Forget(func(e Event) bool { return e.SourceID == "erase" }); err != nil {
		t.Fatal(err)
	}
	var outs []Outcome
	for _, j := range jobs {
		outs = append(outs, Outcome{Dest: "d", Seq: j.Job.Seq, State: Done, Attempted: true, RecordID: "r"})
	}
	if err := s.Complete(outs); err != nil {
		t.Fatalf("Complete after an erased job: %v (the rest of the batch would stay in flight)", err)
	}
	stats, _, _ := s.Stats()
	if c := stats["d"].Counts; c[Done] != 1 || c[InFlight] != 0 {
		t.Errorf("counts %v, want 1 done, none in flight", c)
	}
}

func TestClaimSkipsWaitingRetriesCheaply(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	for i := range 300 {
		s.Enqueue(sms(fmt.Sprint("r", i)), []string{"d"})
	}
	jobs, _, _ := s.Claim("d", clk.Now(), 1000)
	var outs []Outcome
	for i, j := range jobs {
		outs = append(outs, Outcome{Dest: "d", Seq: j.Job.Seq, State: Retrying, Attempted: true,
			NextAttempt: clk.Now().Add(time.Hour + time.Duration(i)*time.Second)})
	}
	s.Complete(outs)
	clk.Add(time.Minute)
	s.Enqueue(sms("fresh"), []string{"d"})
	got, next, err := s.Claim("d", clk.Now(), 10)
	if err != nil || len(got) != 1 || got[0].Event.SourceID != "fresh" {
		t.Fatalf("Claim = %v, %v; want only the fresh job", got, err)
	}
	if want := outs[0].NextAttempt; !next.Equal(want) {
		t.Errorf("next = %v, want the earliest retry %v", next, want)
	}
	clk.Add(time.Hour + 9*time.Second - time.Minute) // retries 0..9 are due
	got, _, _ = s.Claim("d", clk.Now(), 100)
	if len(got) != 10 || got[0].Event.SourceID != "r0" {
		t.Errorf("after an hour claimed %d jobs starting with %v, want r0..r9 in retry order", len(got), got[0].Event.SourceID)
	}
}

func TestMigrateLayout1BuildsDueIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(sms("old"), []string{"d"})
	// Make it look like a layout-1 file: no due index.
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bDue); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bDue); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("layout"), u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path, clk)
	got, _, err := s.Claim("d", clk.Now(), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("after migration Claim = %v, %v; want the old job", got, err)
	}
}

// TestCleanCloseWithJobsInFlight: a clean close does not skip recovery when jobs were left in flight.
func TestCleanCloseWithJobsInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(sms("a"), []string{"d"})
	if _, _, err := s.Claim("d", clk.Now(), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, clk)
	jobs, _ := s.Jobs(1)
	if len(jobs) != 1 || jobs[0].State != Pending || !jobs[0].Ambiguous {
		t.Errorf("job left in flight at a clean close = %+v, want pending and ambiguous", jobs)
	}
}

// TestDistinctRawIDs: Onoff ids are compared as bytes. Two ids that differ only in bytes that are not valid
// UTF-8 are two SMS, and each event keeps its own id (the CRM's idempotency key), not U+FFFD.
func TestDistinctRawIDs(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	ids := []string{"sms-\xff", "sms-\xfe", "sms-\ufffd"}
	for _, id := range ids {
		seq, dup, err := s.Enqueue(sms(id), []string{"d"})
		if err != nil || dup {
			t.Fatalf("Enqueue(%q) = dup %v, %v; want a new event", id, dup, err)
		}
		e, err := s.Event(seq)
		if err != nil || e.SourceID != id {
			t.Errorf("event %d source id = %q, %v; want %q", seq, e.SourceID, err, id)
		}
		if e, err := s.EventBySource("sms", id); err != nil || e.Seq != seq {
			t.Errorf("EventBySource(%q) = %d, %v; want %d", id, e.Seq, err, seq)
		}
	}
	jobs, _, err := s.Claim("d", time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		if j.Event.SourceID != ids[i] {
			t.Errorf("claimed job %d carries source id %q, want %q", i, j.Event.SourceID, ids[i])
		}
	}
}
