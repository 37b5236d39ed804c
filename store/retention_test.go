package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestSweepKeepsUnfinishedAndDedup(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	for i := range 4 {
		if _, _, err := s.Enqueue(sms(fmt.Sprint("old-", i)), []string{"d"}); err != nil {
			t.Fatal(err)
		}
	}
	q := Event{Class: "sms", Status: Quarantined, Raw: []byte(`{}`), Problems: map[string]string{"id": "missing"}}
	s.Enqueue(q, nil)
	jobs, _, _ := s.Claim("d", clk.Now(), 3)
	var outs []Outcome
	for _, j := range jobs {
		outs = append(outs, Outcome{Dest: "d", Seq: j.Job.Seq, State: Done, Attempted: true, RecordID: "r"})
	}
	outs[2].State = Dead
	if err := s.Complete(outs); err != nil {
		t.Fatal(err)
	}
	clk.Add(31 * 24 * time.Hour)
	s.Enqueue(sms("new"), []string{"d"})

	n, err := s.Sweep(clk.Now().Add(-30*24*time.Hour), clk.Now().Add(-60*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // 2 done, 1 dead, 1 quarantined; old-3 is still pending
		t.Errorf("swept %d events, want 4", n)
	}
	if _, err := s.EventBySource("sms", "old-3"); err != nil {
		t.Errorf("an unfinished event was swept: %v", err)
	}
	if _, err := s.EventBySource("sms", "new"); err != nil {
		t.Errorf("a recent event was swept: %v", err)
	}
	if _, dup, _ := s.Enqueue(sms("old-0"), []string{"d"}); !dup {
		t.Error("a swept event's redelivery was not deduplicated")
	}
	stats, quarantined, _ := s.Stats()
	if c := stats["d"].Counts; c[Done] != 0 || c[Dead] != 0 || c[Pending] != 2 || quarantined != 0 {
		t.Errorf("counts after sweep %v, quarantine %d", c, quarantined)
	}
	// Past the dedup window the ids go too.
	clk.Add(90 * 24 * time.Hour)
	s.Sweep(clk.Now().Add(-30*24*time.Hour), clk.Now().Add(-60*24*time.Hour))
	if _, dup, _ := s.Enqueue(sms("old-0"), []string{"d"}); dup {
		t.Error("dedup entries never expire")
	}
}

func TestForget(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	s.Enqueue(sms("a"), []string{"d"})
	s.Enqueue(sms("b"), []string{"d"})
	s.CacheContacts("d", map[string]CachedContact{"phone:+33611111111": {ID: "c", Expires: time.Now().Add(time.Hour)}})
	n, err := s.Forget(func(e Event) bool { return e.SourceID == "a" })
	if err != nil || n != 1 {
		t.Fatalf("Forget = %d, %v", n, err)
	}
	if _, err := s.EventBySource("sms", "a"); err == nil {
		t.Error("forgotten event still stored")
	}
	if _, err := s.EventBySource("sms", "b"); err != nil {
		t.Error("another person's event was erased")
	}
	s.ForgetContacts(func(k string) bool { return k == "phone:+33611111111" })
	if _, ok, _ := s.CachedContact("d", "phone:+33611111111", time.Time{}); ok {
		t.Error("contact cache entry not forgotten")
	}
}
