package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDelivered(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	if n, err := s.Delivered("d", clk.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Delivered on a new file: got %d, %v; want 0, nil", n, err)
	}
	deliver := func(dest string, state string) {
		t.Helper()
		seq, _, err := s.Enqueue(sms(fmt.Sprint(clk.Now().UnixNano(), dest, state)), []string{dest})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Claim(dest, clk.Now(), 10); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete([]Outcome{{Dest: dest, Seq: seq, State: state, Attempted: true, RecordID: "r"}}); err != nil {
			t.Fatal(err)
		}
	}
	start := clk.Now()
	deliver("d", Done)
	deliver("d", Dead) // not a delivery
	deliver("e", Done) // another destination
	clk.Add(50 * time.Minute)
	deliver("d", Done)
	deliver("d", Skipped)
	clk.Add(20 * time.Minute)
	deliver("d", Done)

	now := clk.Now()
	for _, tt := range []struct {
		dest  string
		since time.Time
		want  int64
	}{
		{"d", now.Add(-time.Hour), 2},
		{"d", now.Add(-24 * time.Hour), 3},
		{"d", start, 3},
		{"d", now, 1},
		{"e", now.Add(-24 * time.Hour), 1},
		{"x", now.Add(-24 * time.Hour), 0},
	} {
		if got, err := s.Delivered(tt.dest, tt.since); err != nil || got != tt.want {
			t.Errorf("Delivered(%s, now-%v): got %d, %v; want %d", tt.dest, now.Sub(tt.since), got, err, tt.want)
		}
	}

	// A day later, the first minutes are pruned when a new one starts.
	clk.Add(DeliveredKeep)
	deliver("d", Done)
	if got, _ := s.Delivered("d", start.Add(-time.Hour)); got != 2 {
		t.Errorf("%v later: got %d deliveries counted since the start, want 2 (the two older than that pruned)", DeliveredKeep, got)
	}
}

func TestFindEvents(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	for i := range 10 {
		if _, _, err := s.Enqueue(sms(fmt.Sprintf("id-%d", i)), []string{"d"}); err != nil {
			t.Fatal(err)
		}
	}
	even := func(e Event) bool {
		return strings.HasSuffix(e.SourceID, "0") || strings.HasSuffix(e.SourceID, "4") || strings.HasSuffix(e.SourceID, "8")
	}
	var got []string
	var steps int
	for before := uint64(0); ; steps++ {
		found, next, err := s.FindEvents(before, 3, even)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range found {
			got = append(got, e.SourceID)
		}
		if next == 0 {
			break
		}
		if before != 0 && next >= before {
			t.Fatalf("FindEvents(%d): next %d does not move back", before, next)
		}
		before = next
	}
	if diff := cmp.Diff([]string{"id-8", "id-4", "id-0"}, got); diff != "" {
		t.Errorf("found, newest first (-want +got):\n%s", diff)
	}
	if steps != 3 {
		t.Errorf("10 events 3 at a time: got %d more steps, want 3", steps)
	}
	found, _, err := s.FindEvents(1<<40, 100, func(Event) bool { return true })
	if err != nil || len(found) != 10 {
		t.Errorf("FindEvents from past the newest: got %d events, %v; want 10", len(found), err)
	}
}
