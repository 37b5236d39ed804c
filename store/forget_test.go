package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// onoffBody is an Onoff-like SMS webhook body.
func onoffBody(tb testing.TB, id, external, email, content string) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]string{"id": id, "eventName": "SMS_RECEIVED", "externalNumber": external,
		"externalEmail": email, "onoffUserNumber": "+33 1 70 00 00 00", "content": content})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func smsFrom(tb testing.TB, id, external, email string) Event {
	return Event{Class: "sms", Status: Accepted, SourceID: id, EventName: "SMS", Raw: onoffBody(tb, id, external, email, "Bonjour, à demain")}
}

// The person to forget, in every form a number takes.
const (
	personE164     = "+33612345678"
	personIntl     = "33612345678"
	personNational = "0612345678"
	personNSN      = "612345678"
	personEmail    = "person@example.com"
)

// personMatch is what the connector's match does: decode the body, compare the number after normalisation
// (here: French numbers only) or the email ignoring case. calls counts its runs.
func personMatch(calls *atomic.Int64) func(Event) bool {
	return func(e Event) bool {
		calls.Add(1)
		var p struct{ ExternalNumber, ExternalEmail string }
		if json.Unmarshal(e.Raw, &p) != nil {
			return false
		}
		if strings.EqualFold(strings.TrimSpace(p.ExternalEmail), personEmail) {
			return true
		}
		d := string(keypad(nil, []byte(p.ExternalNumber), false))
		d = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(d, "00"), "33"), "0")
		return d == personNSN
	}
}

var person = Person{Digits: []string{personNSN}, Text: []string{personEmail}}

// traces returns where the person still appears in the data file: every bucket, nested ones too, keys and
// values, as bytes and as their digits alone.
func traces(tb testing.TB, s *Store) []string {
	tb.Helper()
	forms := [][]byte{[]byte(personE164), []byte(personIntl), []byte(personNational), []byte(personNSN),
		[]byte("06 12 34 56 78"), []byte(personEmail)}
	var found []string
	look := func(where string, b []byte) {
		lower := bytes.ToLower(b)
		digits := keypad(nil, b, false)
		for _, f := range forms {
			if bytes.Contains(lower, f) || bytes.Contains(digits, f) {
				found = append(found, fmt.Sprintf("%s: %q", where, b))
				return
			}
		}
	}
	var walk func(path string, b *bolt.Bucket)
	walk = func(path string, b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			look(path+" key", k)
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					walk(path+"/"+string(k), nb)
				}
				return nil
			}
			look(fmt.Sprintf("%s[%q]", path, k), v)
			return nil
		})
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			look("bucket name", name)
			walk(string(name), b)
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return found
}

// seedPerson stores the person's events in several forms and states, another person's, and cache entries.
// It returns the jobs it left in flight.
func seedPerson(tb testing.TB, s *Store, clk *clock) []Claimed {
	tb.Helper()
	evs := []Event{
		smsFrom(tb, "p-e164", personE164, ""),
		smsFrom(tb, "p-national", "06 12 34 56 78", ""),
		smsFrom(tb, "p-intl", "0033 6 12 34 56 78", ""),
		smsFrom(tb, "p-email", "+44 20 7946 0000", "Person@Example.COM"),
		smsFrom(tb, "p-dead", "06.12.34.56.78", ""),
		smsFrom(tb, "other", "+33 6 99 88 77 66", "other@example.com"),
	}
	for _, e := range evs {
		if _, _, err := s.Enqueue(e, []string{"hubspot", "salesforce"}); err != nil {
			tb.Fatal(err)
		}
	}
	q := smsFrom(tb, "", "+33 6 12 34 56 78", "")
	q.Status, q.Problems = Quarantined, map[string]string{"id": "missing"}
	if _, _, err := s.Enqueue(q, nil); err != nil {
		tb.Fatal(err)
	}
	// Some jobs done, one dead (with an error quoting the number), some in flight.
	jobs, _, err := s.Claim("hubspot", clk.Now(), 10)
	if err != nil {
		tb.Fatal(err)
	}
	var outs []Outcome
	for _, j := range jobs {
		o := Outcome{Dest: "hubspot", Seq: j.Job.Seq, State: Done, Attempted: true, RecordID: "r", ContactID: "c1"}
		if j.Event.SourceID == "p-dead" {
			o.State, o.Error = Dead, "400: contact 06 12 34 56 78 is invalid"
		}
		outs = append(outs, o)
	}
	if err := s.Complete(outs); err != nil {
		tb.Fatal(err)
	}
	inFlight, _, err := s.Claim("salesforce", clk.Now(), 2)
	if err != nil {
		tb.Fatal(err)
	}
	exp := clk.Now().Add(time.Hour)
	for _, dest := range []string{"hubspot", "salesforce"} {
		err := s.CacheContacts(dest, map[string]CachedContact{
			"phone:" + personE164:        {ID: "c1", Expires: exp},
			"phone:06 12 34 56 78":       {ID: "c1", Expires: exp}, // a number that did not parse is keyed raw
			"email:" + personEmail:       {ID: "c1", Expires: exp},
			"phone:+33699887766":         {ID: "c2", Expires: exp},
			"email:other@example.com":    {ID: "c2", Expires: exp},
			"phone:+33612345678-expired": {ID: "c1", Expires: clk.Now().Add(-time.Hour)},
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return inFlight
}

func TestForgetPersonLeavesNoTrace(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	seedPerson(t, s, clk)
	if len(traces(t, s)) == 0 {
		t.Fatal("the seeded person leaves no trace: the scan sees nothing")
	}
	var calls atomic.Int64
	n, err := s.ForgetPerson(person, personMatch(&calls))
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("ForgetPerson erased %d events, want 6 (5 SMS and the quarantined one)", n)
	}
	for _, tr := range traces(t, s) {
		t.Errorf("trace left after forget: %s", tr)
	}
	if _, err := s.EventBySource("sms", "other"); err != nil {
		t.Errorf("another person's event: %v", err)
	}
	for _, dest := range []string{"hubspot", "salesforce"} {
		if _, ok, _ := s.CachedContact(dest, "phone:+33699887766", clk.Now()); !ok {
			t.Errorf("another person's cache entry in %s was dropped", dest)
		}
	}
	stats, quarantined, _ := s.Stats()
	if c := stats["hubspot"].Counts; c[Done] != 1 || c[Dead] != 0 || quarantined != 0 {
		t.Errorf("counts after forget %v, quarantine %d; want 1 done (the other person's), no dead, none quarantined", c, quarantined)
	}
	if c := stats["salesforce"].Counts; c[Pending]+c[InFlight] != 1 {
		t.Errorf("salesforce counts after forget %v, want the other person's job only", c)
	}
}

// TestSweepLeavesNoTrace: once retention removed a person's events, the contact cache must not keep their
// number, expired or not.
func TestSweepLeavesNoTrace(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	inFlight := seedPerson(t, s, clk)
	// Finish every job, so retention can take every event.
	for _, j := range inFlight {
		if err := s.Complete([]Outcome{{Dest: j.Job.Dest, Seq: j.Job.Seq, State: Done, Attempted: true}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dest := range []string{"hubspot", "salesforce"} {
		for {
			jobs, _, err := s.Claim(dest, clk.Now().Add(time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) == 0 {
				break
			}
			var outs []Outcome
			for _, j := range jobs {
				outs = append(outs, Outcome{Dest: dest, Seq: j.Job.Seq, State: Done, Attempted: true})
			}
			if err := s.Complete(outs); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Add(31 * 24 * time.Hour)
	if _, err := s.Sweep(clk.Now().Add(-30*24*time.Hour), clk.Now().Add(-60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tr := range traces(t, s) {
		t.Errorf("trace left after retention: %s", tr)
	}
}

func TestSweepContactCache(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	now := clk.Now()
	// More than one sweep transaction's worth, so resuming is exercised.
	entries := map[string]CachedContact{}
	for i := range sweepScan + 100 {
		exp := now.Add(-time.Minute)
		if i%3 == 0 {
			exp = now.Add(time.Hour)
		}
		entries[fmt.Sprintf("phone:+3361%07d", i)] = CachedContact{ID: "c", Expires: exp}
	}
	if err := s.CacheContacts("d", entries); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := s.Sweep(now.Add(-24*time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	left := 0
	s.db.View(func(tx *bolt.Tx) error { left = tx.Bucket(bContacts).Stats().KeyN; return nil })
	if want := (sweepScan + 100 + 2) / 3; left != want {
		t.Errorf("%d cache entries after sweep, want the %d unexpired", left, want)
	}
	if _, ok, _ := s.CachedContact("d", "phone:+33610000000", clk.Now()); !ok {
		t.Error("an unexpired entry was swept")
	}
	// An entry cached before the retention cutoff goes even if it has not expired.
	clk.Add(48 * time.Hour)
	if _, err := s.Sweep(clk.Now().Add(-24*time.Hour), clk.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.CachedContact("d", "phone:+33610000000", now); ok {
		t.Error("an entry cached before the retention cutoff was kept")
	}
}

func TestCacheContactsAtAfterForget(t *testing.T) {
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	entry := map[string]CachedContact{"phone:" + personE164: {ID: "c1", Expires: clk.Now().Add(time.Hour)}}
	cached := func() bool {
		_, ok, err := s.CachedContact("d", "phone:"+personE164, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var calls atomic.Int64
	forget := func() {
		if _, err := s.ForgetPerson(person, personMatch(&calls)); err != nil {
			t.Fatal(err)
		}
	}

	// A batch reads the epoch, looks the contact up; meanwhile the person is forgotten; the batch caches.
	epoch := s.ForgetEpoch()
	forget()
	if ok, err := s.CacheContactsAt("d", epoch, entry); err != nil || ok || cached() {
		t.Errorf("CacheContactsAt with an epoch from before the forget = %v, %v, cached %v; want false, nil, false", ok, err, cached())
	}
	// A batch that starts after the forget caches normally.
	if ok, err := s.CacheContactsAt("d", s.ForgetEpoch(), entry); err != nil || !ok || !cached() {
		t.Errorf("CacheContactsAt with the current epoch = %v, %v, cached %v; want true, nil, true", ok, err, cached())
	}

	// The cache write and the erasure share one commit, in either order: the entry never survives.
	for _, cacheFirst := range []bool{true, false} {
		epoch := s.ForgetEpoch()
		release := holdCommitter(t, s)
		res := make(chan error, 2)
		cache := func() { _, err := s.CacheContactsAt("d", epoch, entry); res <- err }
		erase := func() { res <- s.ForgetContacts(func(k string) bool { return k == "phone:"+personE164 }) }
		if cacheFirst {
			go cache()
			waitQueued(t, s, 1)
			go erase()
		} else {
			go erase()
			waitQueued(t, s, 1)
			go cache()
		}
		waitQueued(t, s, 2)
		release()
		for range 2 {
			if err := <-res; err != nil {
				t.Fatal(err)
			}
		}
		if cached() {
			t.Errorf("cache first %v: the forgotten contact is cached again", cacheFirst)
		}
	}
}

// TestForgetKeepsWritesFlowing: erasing one person among 50,000 events must not hold webhooks: every
// Enqueue made meanwhile answers within a second. The match costs what phone parsing costs (tens of µs per
// event), so decoding and matching every event in one write transaction, as forget used to, takes seconds.
func TestForgetKeepsWritesFlowing(t *testing.T) {
	total := 50000
	if testing.Short() {
		total = 20000
	}
	clk := newClock()
	s := openTest(t, filepath.Join(t.TempDir(), "db"), clk)
	const mine = 50
	// Seed directly, without jobs (forget erases events whatever their jobs), to keep the test short.
	for start := 0; start < total; start += 5000 {
		err := s.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bEvents)
			b.FillPercent = appendFill
			for i := start; i < start+5000; i++ {
				data := make([]byte, 0, 192)
				data = append(data, ``+"\x00\x00\x00\x02"+`{}{"id":"seed-`...)
				data = strconv.AppendInt(data, int64(i), 10)
				data = append(data, `","eventName":"SMS_RECEIVED","externalNumber":"`...)
				if i%(total/mine) == 0 {
					data = append(data, "06 12 34 56 78"...)
				} else {
					data = strconv.AppendInt(append(data, "+33 7 "...), int64(10000000+i), 10)
				}
				data = append(data, `","externalEmail":"","onoffUserNumber":"+33 1 70 00 00 00","content":"Bonjour, à demain"}`...)
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				if err := b.Put(eventKey(seq), data); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seeded := time.Now()
	var calls atomic.Int64
	slow := personMatch(&calls)
	match := func(e Event) bool {
		for start := time.Now(); time.Since(start) < 40*time.Microsecond; {
		} // the cost of parsing a phone number
		return slow(e)
	}

	done := make(chan struct{})
	var erased int
	var ferr error
	go func() {
		defer close(done)
		erased, ferr = s.ForgetPerson(person, match)
	}()
	var worst time.Duration
	writes := 0
	for running := true; running; writes++ {
		select {
		case <-done:
			running = false
		default:
		}
		start := time.Now()
		if _, _, err := s.Enqueue(smsFrom(t, fmt.Sprint("live-", writes), "+33 7 00 00 00 00", ""), []string{"d"}); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
	if erased != mine {
		t.Errorf("erased %d events, want %d", erased, mine)
	}
	if worst > time.Second {
		t.Errorf("slowest of %d writes during forget took %v, want under 1s", writes, worst)
	}
	if c := calls.Load(); c > 2*mine {
		t.Errorf("match ran %d times for %d events of the person: the pre-filter let through too much", c, mine)
	}
	t.Logf("%d writes during forget (%v), slowest %v, match ran %d times", writes, time.Since(seeded), worst, calls.Load())
}

func TestPersonFilterSeesEveryForm(t *testing.T) {
	f := person.filter()
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{`{"externalNumber":"+33612345678"}`, true},
		{`{"externalNumber":"+33 6 12 34 56 78"}`, true},
		{`{"externalNumber":"06.12.34.56.78"}`, true},
		{`{"externalNumber":"(0033) 6-12-34-56-78"}`, true},
		{`{"externalNumber":"+33 (0)6 12 34 56 78"}`, true},
		{`{"externalNumber":"\u0036\u0031\u0032345678"}`, true}, // escaped digits: cannot see, so maybe
		{`{"externalNumber":"＋３３６１２３４５６７８"}`, true},             // full-width digits
		{`{"externalEmail":"PERSON@EXAMPLE.COM"}`, true},
		{`{"externalEmail":"person@example.com "}`, true},
		{`{"externalNumber":"+33 6 99 88 77 66","content":"à demain 😀"}`, false},
		{`{"externalEmail":"other@example.com"}`, false},
	} {
		if got := f.mayMention([]byte(tc.raw)); got != tc.want {
			t.Errorf("mayMention(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	vanity := Person{Digits: []string{"8003569377"}}.filter()
	if !vanity.mayMention([]byte(`{"externalNumber":"+1 800 FLOWERS"}`)) {
		t.Error("a vanity number was not seen")
	}
}
