package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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

func TestSweepExpiresDedupIDs(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	t0 := clk.Now()
	// Old and new ids alternate in key order (events arrive in order: the old ones first), over more than
	// one sweep transaction.
	n := 2*sweepScan + 7
	order := make([]int, 0, n)
	for i := 0; i < n; i += 2 {
		order = append(order, i)
	}
	for i := 1; i < n; i += 2 {
		order = append(order, i)
	}
	err := s.update(func(tx *bolt.Tx) error {
		for _, i := range order {
			e := Event{Class: "sms", Status: Ignored, SourceID: fmt.Sprintf("id-%05d", i), Raw: []byte(`{}`), Received: t0}
			if i%2 == 1 {
				e.Received = t0.Add(40 * 24 * time.Hour)
			}
			data, err := encodeEvent(&e)
			if err != nil {
				return err
			}
			if _, err := s.insertEvent(tx, &e, data, e.Received); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An old SMS still waiting for its CRM (an outage): its id must stay while the event does.
	pending := sms("pending")
	pending.Received = t0
	if _, _, err := s.Enqueue(pending, []string{"d"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(70 * 24 * time.Hour)
	idsCutoff := t0.Add(40 * 24 * time.Hour) // exactly the new ids' time: they stay
	if _, err := s.Sweep(clk.Now().Add(-30*24*time.Hour), idsCutoff); err != nil {
		t.Fatal(err)
	}
	var left []string
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bIDs).ForEach(func(k, _ []byte) error { left = append(left, string(k)); return nil })
	})
	if want := n/2 + 1; len(left) != want {
		t.Errorf("%d dedup ids after sweep, want %d (the new ones and the pending event's)", len(left), want)
	}
	for _, id := range []string{"id-00001", fmt.Sprintf("id-%05d", n-2)} {
		if _, dup, err := s.Enqueue(sms(id), []string{"d"}); err != nil || !dup {
			t.Errorf("redelivery of recent %s: dup %v, %v; want a duplicate", id, dup, err)
		}
	}
	for _, id := range []string{"id-00000", fmt.Sprintf("id-%05d", n-1)} {
		if _, dup, err := s.Enqueue(sms(id), []string{"d"}); err != nil || dup {
			t.Errorf("redelivery of expired %s: dup %v, %v; want a new event", id, dup, err)
		}
	}
	if _, dup, err := s.Enqueue(sms("pending"), []string{"d"}); err != nil || !dup {
		t.Errorf("redelivery of a still-pending old SMS: dup %v, %v; want a duplicate (it would be sent twice)", dup, err)
	}
}
