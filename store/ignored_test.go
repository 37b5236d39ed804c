package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestRequeueIgnored(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	put := func(class, id string, received time.Time) uint64 {
		t.Helper()
		seq, _, err := s.Enqueue(Event{Class: class, Status: Ignored, SourceID: id, EventName: "CDR", Received: received, Raw: []byte(`{}`)}, []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	old := put("call", "old", t0)
	recent := put("call", "recent", t0.Add(48*time.Hour))
	bad := put("call", "bad", t0.Add(48*time.Hour))
	sms := put("sms", "recent", t0.Add(48*time.Hour))
	fix := func(e Event) (Event, []string) {
		if e.SourceID == "bad" {
			e.Status = Quarantined
			return e, nil
		}
		e.Status = Accepted
		return e, []string{"a", "b"}
	}
	n, left, err := s.RequeueIgnored("call", t0.Add(24*time.Hour), fix)
	if err != nil || n != 1 || left != 1 {
		t.Fatalf("RequeueIgnored = %d, %d, %v; want 1 requeued (recent), 1 left (bad)", n, left, err)
	}
	for seq, want := range map[uint64]int{old: 0, recent: 2, bad: 0, sms: 0} {
		jobs, err := s.Jobs(seq)
		if err != nil || len(jobs) != want {
			t.Errorf("event %d has %d jobs (%v), want %d", seq, len(jobs), err, want)
		}
	}
	if e, _ := s.Event(recent); e.Status != Accepted || len(e.Dests) != 2 {
		t.Errorf("requeued event is %s for %v", e.Status, e.Dests)
	}
	if e, _ := s.Event(bad); e.Status != Ignored {
		t.Errorf("event fix refused is %s, want still ignored", e.Status)
	}
	if jobs, _, err := s.Claim("a", clk.Now(), 10); err != nil || len(jobs) != 1 || jobs[0].Event.SourceID != "recent" {
		t.Errorf("claim = %v, %v; want the requeued event", jobs, err)
	}
	// Again, from the start: only the old one is still ignored and accepted now; the requeued one is not
	// requeued twice.
	if n, left, err := s.RequeueIgnored("call", time.Time{}, fix); err != nil || n != 1 || left != 1 {
		t.Errorf("second RequeueIgnored = %d, %d, %v; want 1 (old), 1 left", n, left, err)
	}
	if jobs, _ := s.Jobs(recent); len(jobs) != 2 {
		t.Errorf("requeued event has %d jobs after a second run, want 2", len(jobs))
	}
}
