package store

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// fillEvery sets every exported field of the struct v points to (but the listed key fields) to a distinct
// non-zero value, so a field the codec forgets shows up as a difference.
func fillEvery(tb testing.TB, v any, skip ...string) {
	tb.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f, sf := rv.Field(i), rv.Type().Field(i)
		if !sf.IsExported() || contains(skip, sf.Name) {
			continue
		}
		switch x := f.Addr().Interface().(type) {
		case *string:
			*x = sf.Name + "-\xff-value" // not valid UTF-8 on purpose: kept byte for byte
		case *int:
			*x = 300 + i
		case *uint64:
			*x = uint64(1000 + i)
		case *bool:
			*x = true
		case *time.Time:
			*x = time.Date(2026, 5, 20, 14, 30, i, 123456789, time.UTC)
		case *[]string:
			*x = []string{sf.Name + "-a", sf.Name + "-b"}
		case *[]byte:
			*x = []byte(sf.Name)
		case *json.RawMessage:
			*x = json.RawMessage(`{"field":"` + sf.Name + `"}`)
		case *map[string]string:
			*x = map[string]string{sf.Name + "-k": "v", "z": "w"}
		default:
			tb.Fatalf("field %s has type %s, which this test does not fill: teach it and codec.go that type", sf.Name, f.Type())
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestCodecCoversEveryField: a field added to Job or Event must be added to codec.go, or it is silently lost
// in the binary records.
func TestCodecCoversEveryField(t *testing.T) {
	var j Job
	fillEvery(t, &j, "Dest", "Seq")
	var got Job
	if err := decodeJob(encodeJob(nil, &j), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, j); diff != "" {
		t.Errorf("job after a round trip differs (-got +want):\n%s", diff)
	}

	var e Event
	fillEvery(t, &e, "Seq")
	data, err := encodeEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	ge, err := decodeEvent(u64(e.Seq), data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ge, e); diff != "" {
		t.Errorf("event after a round trip differs (-got +want):\n%s", diff)
	}
}

// TestCodecRefusesTruncated: every truncation of a record is an error, never a panic or a silent default.
func TestCodecRefusesTruncated(t *testing.T) {
	var j Job
	fillEvery(t, &j, "Dest", "Seq")
	rec := encodeJob(nil, &j)
	for n := range len(rec) {
		if err := decodeJob(rec[:n], new(Job)); err == nil {
			t.Errorf("job record cut to %d of %d bytes decoded without error", n, len(rec))
		}
	}
	var e Event
	fillEvery(t, &e, "Seq", "Raw")
	data, _ := encodeEvent(&e)
	n := int(binary.BigEndian.Uint32(data) &^ binaryHeader)
	for cut := 4; cut < 4+n; cut++ {
		short := append([]byte(nil), data[:cut]...)
		binary.BigEndian.PutUint32(short, uint32(cut-4)|binaryHeader)
		if _, err := decodeEvent(u64(1), short); err == nil {
			t.Errorf("event header cut to %d of %d bytes decoded without error", cut-4, n)
		}
	}
}

// legacyLayout2 rewrites every job and event of the file at path the way layout 2 wrote them (JSON job
// records, a JSON event header with source_id_bytes for ids that are not UTF-8) and sets its layout to 2: the
// file the previous release leaves behind.
func legacyLayout2(tb testing.TB, path string) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bJobs)
		var jks, jvs [][]byte
		if err := jobs.ForEach(func(k, v []byte) error {
			var j Job
			if err := decodeJob(v, &j); err != nil {
				return err
			}
			data, err := json.Marshal(j)
			jks, jvs = append(jks, append([]byte(nil), k...)), append(jvs, data)
			return err
		}); err != nil {
			return err
		}
		for i := range jks {
			if err := jobs.Put(jks[i], jvs[i]); err != nil {
				return err
			}
		}
		events := tx.Bucket(bEvents)
		var eks, evs [][]byte
		if err := events.ForEach(func(k, v []byte) error {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			hd := eventHeader{Event: &e}
			if !utf8.ValidString(e.SourceID) {
				hd.SourceIDBytes = []byte(e.SourceID)
			}
			h, err := json.Marshal(hd)
			if err != nil {
				return err
			}
			out := binary.BigEndian.AppendUint32(nil, uint32(len(h)))
			out = append(append(out, h...), e.Raw...)
			eks, evs = append(eks, append([]byte(nil), k...)), append(evs, out)
			return nil
		}); err != nil {
			return err
		}
		for i := range eks {
			if err := events.Put(eks[i], evs[i]); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put([]byte("layout"), u64(2))
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestOpenLayout2File: a data file written by layout 2 (JSON records) opens, reads and moves on: pending,
// retrying, done and dead jobs, a job left in flight by a crash, a quarantined event and an id that is not
// UTF-8 all come back as they were, and new writes mix with the old records.
func TestOpenLayout2File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"done", "retry", "dead", "pending", "sms-\xff"} {
		if _, _, err := s.Enqueue(sms(id), []string{"d"}); err != nil {
			t.Fatal(err)
		}
	}
	q := Event{Class: "sms", Status: Quarantined, SourceID: "odd", Raw: []byte(`{"id":"odd"}`), Problems: map[string]string{"date": "missing"}}
	if _, _, err := s.Enqueue(q, []string{"d"}); err != nil {
		t.Fatal(err)
	}
	claimed, _, err := s.Claim("d", clk.Now(), 3)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("Claim = %d jobs, %v; want 3", len(claimed), err)
	}
	err = s.Complete([]Outcome{
		{Dest: "d", Seq: 1, State: Done, RecordID: "r1", ContactID: "c1", Attempted: true, Sent: true},
		{Dest: "d", Seq: 2, State: Retrying, NextAttempt: clk.Now().Add(time.Minute), Error: "503", Attempted: true, Ambiguous: true},
		{Dest: "d", Seq: 3, State: Dead, Error: "400 bad", Attempted: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim("d", clk.Now(), 1); err != nil { // "pending" (seq 4) left in flight by a crash
		t.Fatal(err)
	}
	before := snapshot(t, s, 6)
	s.db.Close() // no clean close: as a killed process leaves it
	legacyLayout2(t, path)

	s = openTest(t, path, clk)
	after := snapshot(t, s, 6)
	before[3].jobs[0].State, before[3].jobs[0].Ambiguous = Pending, true // recovered from in flight
	if diff := cmp.Diff(after, before, cmp.AllowUnexported(record{})); diff != "" {
		t.Errorf("layout 2 file read back differs (-got +want):\n%s", diff)
	}
	var layout uint64
	s.db.View(func(tx *bolt.Tx) error { layout = decodeU64(tx.Bucket(bMeta).Get([]byte("layout"))); return nil })
	if layout != Layout {
		t.Errorf("layout after open = %d, want %d", layout, Layout)
	}
	if _, dup, _ := s.Enqueue(sms("sms-\xff"), []string{"d"}); !dup {
		t.Errorf("redelivery of an id stored by layout 2 was not a duplicate")
	}
	if _, _, err := s.Enqueue(sms("new"), []string{"d"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	claimed, _, err = s.Claim("d", clk.Now(), 10)
	var got []string
	for _, c := range claimed {
		got = append(got, c.Event.SourceID)
	}
	if diff := cmp.Diff(got, []string{"pending", "sms-\xff", "new", "retry"}); err != nil || diff != "" {
		t.Errorf("claimed after the upgrade (-got +want):\n%s %v", diff, err)
	}
	if n, err := s.RetryDead(Selector{Dest: "d"}); n != 1 || err != nil {
		t.Errorf("RetryDead = %d, %v; want the layout 2 dead letter", n, err)
	}
	st, quarantined, err := s.Stats()
	if err != nil || quarantined != 1 || st["d"].Counts[InFlight] != 4 || st["d"].Counts[Done] != 1 || st["d"].Counts[Pending] != 1 {
		t.Errorf("Stats = %+v, %d quarantined, %v", st, quarantined, err)
	}
}

type record struct {
	event Event
	jobs  []Job
}

func snapshot(tb testing.TB, s *Store, n uint64) []record {
	tb.Helper()
	var out []record
	for seq := uint64(1); seq <= n; seq++ {
		e, err := s.Event(seq)
		if err != nil {
			tb.Fatalf("event %d: %v", seq, err)
		}
		jobs, err := s.Jobs(seq)
		if err != nil {
			tb.Fatalf("jobs %d: %v", seq, err)
		}
		out = append(out, record{event: e, jobs: jobs})
	}
	return out
}
