package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// parkAll claims every pending job of dest and parks it, to be rechecked after recheck.
func parkAll(tb testing.TB, s *Store, clk *clock, dest string, recheck time.Duration) {
	tb.Helper()
	jobs, _, err := s.Claim(dest, clk.Now(), 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var outs []Outcome
	for _, c := range jobs {
		outs = append(outs, Outcome{Dest: dest, Seq: c.Job.Seq, State: Parked, NextAttempt: clk.Now().Add(recheck),
			Error: "parked: no matching contact"})
	}
	if err := s.Complete(outs); err != nil {
		tb.Fatal(err)
	}
}

func sourceIDs(cs []Claimed) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Event.SourceID)
	}
	return out
}

// TestParkedJobsWaitTheirRecheckInOrder: parked jobs leave the live queue, are counted as parked, come back
// from DueParked only once their recheck time has come and in the order they were parked, survive a reopen,
// and a recheck outcome moves them on.
func TestParkedJobsWaitTheirRecheckInOrder(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "db")
	s := openTest(t, path, clk)
	for i := range 3 {
		s.Enqueue(sms(fmt.Sprint("p", i)), []string{"d"})
		parkAll(t, s, clk, "d", time.Hour)
		clk.Add(time.Minute)
	}
	parkedAt := clk.Now().Add(-3 * time.Minute)
	if due, _, _ := s.Claim("d", clk.Now().Add(2*time.Hour), 10); len(due) != 0 {
		t.Fatalf("Claim returned %d parked jobs, want none (parked jobs are not live work)", len(due))
	}
	if due, next, _ := s.DueParked("d", clk.Now(), 10); len(due) != 0 || !next.Equal(parkedAt.Add(time.Hour)) {
		t.Fatalf("DueParked before any recheck time = %v, next %v; want none, next %v", sourceIDs(due), next, parkedAt.Add(time.Hour))
	}
	s.Close()
	s = openTest(t, path, clk)
	clk.Add(time.Hour)
	due, next, err := s.DueParked("d", clk.Now(), 10)
	if err != nil || fmt.Sprint(sourceIDs(due)) != "[p0 p1 p2]" || !next.IsZero() {
		t.Fatalf("DueParked after an hour = %v, next %v, %v; want [p0 p1 p2], no next", sourceIDs(due), next, err)
	}
	if got := due[0].Job.ParkedAt; !got.Equal(parkedAt) {
		t.Errorf("ParkedAt %v, want %v (when it was parked)", got, parkedAt)
	}
	if !due[0].Job.Finished.IsZero() {
		t.Errorf("a parked job is not finished, got Finished %v", due[0].Job.Finished)
	}
	if got := countsOf(t, s, "d"); got[Parked] != 3 || got[Pending] != 0 || got[InFlight] != 0 {
		t.Errorf("counts %v, want 3 parked and nothing pending or in flight", got)
	}

	// p0 found a contact: pending again; p1 still unmatched: parked for another hour; p2 dropped by an admin
	// before its recheck outcome arrives: the outcome is not recorded.
	if n, err := s.DropParked(Selector{Dest: "d", Seq: due[2].Job.Seq}); n != 1 || err != nil {
		t.Fatalf("DropParked = %d, %v", n, err)
	}
	err = s.Complete([]Outcome{
		{Dest: "d", Seq: due[0].Job.Seq, State: Pending, NextAttempt: clk.Now(), Recheck: true},
		{Dest: "d", Seq: due[1].Job.Seq, State: Parked, NextAttempt: clk.Now().Add(time.Hour), Recheck: true},
		{Dest: "d", Seq: due[2].Job.Seq, State: Parked, NextAttempt: clk.Now().Add(time.Hour), Recheck: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := countsOf(t, s, "d"); got[Parked] != 1 || got[Pending] != 1 {
		t.Errorf("counts after the recheck %v, want 1 parked, 1 pending", got)
	}
	live, _, _ := s.Claim("d", clk.Now(), 10)
	if fmt.Sprint(sourceIDs(live)) != "[p0]" || !live[0].Job.ParkedAt.Equal(parkedAt) {
		t.Fatalf("Claim after the recheck = %v, want [p0] with its ParkedAt kept", sourceIDs(live))
	}
	if due, next, _ := s.DueParked("d", clk.Now(), 10); len(due) != 0 || !next.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("DueParked = %v, next %v; want p1 rescheduled an hour later", sourceIDs(due), next)
	}
	if n, _ := s.RetryParked(Selector{Dest: "d"}); n != 1 {
		t.Errorf("RetryParked = %d, want 1", n)
	}
	if live, _, _ := s.Claim("d", clk.Now(), 10); fmt.Sprint(sourceIDs(live)) != "[p1]" {
		t.Errorf("Claim after RetryParked = %v, want [p1]", sourceIDs(live))
	}
	if stale := staleParkedEntries(t, s); stale != 0 {
		t.Errorf("%d parked index entries left with no parked job", stale)
	}
}

// TestSweepAndForgetParked: retention keeps a parked SMS however old (it is not finished), and forget (by
// person, as `onoffsync forget` does, or by event) erases it with its index entry and count.
func TestSweepAndForgetParked(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	s.Enqueue(sms("old"), []string{"d"})
	parkAll(t, s, clk, "d", time.Hour)
	clk.Add(30 * 24 * time.Hour)
	if n, err := s.Sweep(clk.Now(), clk.Now()); n != 0 || err != nil {
		t.Fatalf("Sweep = %d, %v; want the parked SMS kept", n, err)
	}
	s.Enqueue(smsFrom(t, "person", personE164, ""), []string{"d"})
	parkAll(t, s, clk, "d", time.Hour)
	if n, err := s.ForgetPerson(Person{Digits: []string{personNSN}}, func(e Event) bool { return e.SourceID == "person" }); n != 1 || err != nil {
		t.Fatalf("ForgetPerson = %d, %v", n, err)
	}
	if n, err := s.Forget(func(e Event) bool { return e.SourceID == "old" }); n != 1 || err != nil {
		t.Fatalf("Forget = %d, %v", n, err)
	}
	if found := traces(t, s); len(found) != 0 {
		t.Errorf("the forgotten person's parked SMS left traces: %v", found)
	}
	if got := countsOf(t, s, "d"); got[Parked] != 0 {
		t.Errorf("parked count %d after forget, want 0", got[Parked])
	}
	if n := staleParkedEntries(t, s); n != 0 {
		t.Errorf("%d parked index entries after forget, want 0", n)
	}
}

func countsOf(tb testing.TB, s *Store, dest string) map[string]int64 {
	tb.Helper()
	stats, _, err := s.Stats()
	if err != nil {
		tb.Fatal(err)
	}
	return stats[dest].Counts
}

// staleParkedEntries counts parked index entries whose job is gone, not parked, or parked under another time.
func staleParkedEntries(tb testing.TB, s *Store) int {
	tb.Helper()
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bParked).ForEach(func(k, _ []byte) error {
			i := indexZero(k)
			j, err := getJob(tx, jobKey(string(k[:i]), decodeU64(k[len(k)-8:])))
			if err != nil || j.State != Parked || !dueKeyEqual(k, j) {
				n++
			}
			return nil
		})
	})
	return n
}

func dueKeyEqual(k []byte, j *Job) bool {
	return string(k) == string(dueKey(j.Dest, j.NextAttempt, j.Seq))
}
