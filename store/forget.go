package store

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// forgetScan bounds how many events one read transaction of a forget looks at, and forgetDelete how many
// events one of its write transactions erases, so writers (webhooks) never wait long behind an erasure.
const (
	forgetScan   = sweepScan
	forgetDelete = 500
)

// Person is what identifies one person in stored bytes, for ForgetPerson: a cheap pre-filter that lets the
// expensive match (decoding, phone parsing) run only on the few events that can concern the person. It must
// never leave out an event match would accept, so it errs on the side of "maybe".
type Person struct {
	// Digits are digit strings found in an event's raw body whatever its formatting: every byte but digits
	// is dropped first (letters count as their phone keypad digit, for vanity numbers), so "+33 6 12 34 56 78",
	// "06.12.34.56.78" and "0033612345678" all contain "612345678". Pass a number's last 7 to 9 significant
	// digits (national and international forms both end with them), and the digits typed by the admin.
	// Non-digit bytes in a needle are ignored.
	Digits []string
	// Text are strings found in an event's raw body ignoring ASCII case, e.g. an email (pass it lower-case).
	Text []string
}

// filter is a Person prepared for matching.
type filter struct {
	digits, text  [][]byte
	none          bool // no needle at all: every event is a candidate
	proj, lowered []byte
}

func (p Person) filter() *filter {
	f := &filter{}
	for _, d := range p.Digits {
		if n := keypad(nil, []byte(d), false); len(n) > 0 {
			f.digits = append(f.digits, n)
		}
	}
	for _, t := range p.Text {
		if t != "" {
			f.text = append(f.text, bytes.ToLower([]byte(t)))
		}
	}
	f.none = len(f.digits) == 0 && len(f.text) == 0
	return f
}

// keypadDigit maps a byte to the digit it stands for in a phone number, or 0.
var keypadDigit = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for i, keys := range []string{"abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"} {
		for _, c := range keys {
			t[c], t[unicode.ToUpper(c)] = byte('2'+i), byte('2'+i)
		}
	}
	return t
}()

// keypad appends to dst the digits of b (and, if letters, the keypad digits of its ASCII letters).
func keypad(dst, b []byte, letters bool) []byte {
	for _, c := range b {
		if d := keypadDigit[c]; d != 0 && (letters || (c >= '0' && c <= '9')) {
			dst = append(dst, d)
		}
	}
	return dst
}

// mayMention reports whether raw may mention the person: it contains a needle, or something the filter
// cannot see through (a JSON \u escape, a non-ASCII digit, a non-ASCII letter that case-folds to ASCII).
func (f *filter) mayMention(raw []byte) bool {
	if f.none || bytes.Contains(raw, []byte(`\u`)) {
		return true
	}
	for i := 0; i < len(raw); {
		if raw[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(raw[i:])
		if unicode.IsDigit(r) || r == '\u212a' || r == '\u017f' { // Kelvin sign and long s fold to k and s
			return true
		}
		i += n
	}
	if len(f.digits) > 0 {
		f.proj = keypad(f.proj[:0], raw, true)
		for _, d := range f.digits {
			if bytes.Contains(f.proj, d) {
				return true
			}
		}
	}
	if len(f.text) > 0 {
		f.lowered = append(f.lowered[:0], raw...)
		for i, c := range f.lowered {
			if 'A' <= c && c <= 'Z' {
				f.lowered[i] = c + 'a' - 'A'
			}
		}
		for _, t := range f.text {
			if bytes.Contains(f.lowered, t) {
				return true
			}
		}
	}
	return false
}

// Forget erases every event for which match (given the event) is true, with its jobs, whatever their state.
// It decodes every event; ForgetPerson is the same with a pre-filter, and clears the contact cache too.
func (s *Store) Forget(match func(Event) bool) (int, error) {
	return s.forgetEvents(Person{}.filter(), match)
}

// ForgetPerson is a person's erasure request. It erases every event whose raw body may mention p (see
// Person) and for which match is true, with its jobs, whatever their state; and every contact-cache entry, in
// every destination, whose query key mentions p. Deduplication entries stay (they hold Onoff's opaque id).
//
// It works in short transactions, like Sweep: it reads events in chunks (writers do not wait for reads),
// calls match outside any transaction, and erases in small writes shared with other writers, so webhooks
// keep being stored meanwhile. Events stored after the scan passed are not looked at. Contact-cache writes
// made with CacheContactsAt from an epoch read before ForgetPerson returned are dropped, so a batch in flight
// cannot put back what it erased. It returns how many events it erased.
func (s *Store) ForgetPerson(p Person, match func(Event) bool) (int, error) {
	f := p.filter()
	n, err := s.forgetEvents(f, match)
	if err != nil {
		return n, err
	}
	if f.none {
		return n, nil // no needle: nothing to look for in the contact cache
	}
	err = s.forgetContacts(func(k []byte) bool {
		_, key := splitCacheKey(k)
		return f.mayMention(key)
	})
	if err != nil {
		return n, fmt.Errorf("forget contacts: %w", err)
	}
	return n, nil
}

// forgetEvents erases the events f lets through and match accepts, in short transactions.
func (s *Store) forgetEvents(f *filter, match func(Event) bool) (int, error) {
	total := 0
	var from []byte
	for {
		cands, next, err := s.forgetCandidates(f, from)
		if err != nil {
			return total, fmt.Errorf("forget: %w", err)
		}
		var seqs []uint64
		for _, e := range cands {
			if match(e) {
				seqs = append(seqs, e.Seq)
			}
		}
		for len(seqs) > 0 {
			chunk := seqs[:min(len(seqs), forgetDelete)]
			seqs = seqs[len(chunk):]
			n, err := s.eraseEvents(chunk)
			total += n
			if err != nil {
				return total, fmt.Errorf("forget: %w", err)
			}
		}
		if next == nil {
			return total, nil
		}
		from = next
	}
}

// forgetCandidates reads up to forgetScan events from key from (nil: the first) in one read transaction, and
// returns those f lets through, decoded, with the key to resume at (nil when done).
func (s *Store) forgetCandidates(f *filter, from []byte) (cands []Event, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for scanned := 0; k != nil; k, v = c.Next() {
			if scanned == forgetScan {
				next = append([]byte(nil), k...)
				return nil
			}
			scanned++
			if raw, ok := rawOf(v); ok && !f.mayMention(raw) {
				continue
			}
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			cands = append(cands, e)
		}
		return nil
	})
	return cands, next, err
}

// eraseEvents deletes the events seqs (those already gone are skipped) in one write, and returns how many.
func (s *Store) eraseEvents(seqs []uint64) (int, error) {
	var n int
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		for _, seq := range seqs {
			e, err := getEvent(tx, eventKey(seq))
			if err == ErrNotFound {
				continue // swept or erased meanwhile
			}
			if err != nil {
				return err
			}
			if err := s.deleteEvent(tx, e); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// ForgetContacts drops contact-cache entries whose query key match says to forget, in every destination.
// Like ForgetPerson, it makes CacheContactsAt drop writes from an earlier epoch.
func (s *Store) ForgetContacts(match func(key string) bool) error {
	return s.forgetContacts(func(k []byte) bool {
		_, key := splitCacheKey(k)
		return match(string(key))
	})
}

// forgetContacts deletes the cache entries match picks (given the whole bucket key) and moves to a new forget
// epoch, in one write: a CacheContactsAt write that runs before it is in the bucket it scans, and one that
// runs after it sees the new epoch. The cache holds one entry per contact and query key, swept when expired,
// so one transaction reads it quickly.
func (s *Store) forgetContacts(match func(k []byte) bool) error {
	return s.update(func(tx *bolt.Tx) error {
		s.forgetEpoch.Add(1) // at most once more if the batch is replayed: any change drops older writes
		b := tx.Bucket(bContacts)
		c := b.Cursor()
		var del [][]byte
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if match(k) {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgetEpoch returns the current forget epoch. A caller that caches contacts it looked up reads it before
// the look-up and hands it to CacheContactsAt.
func (s *Store) ForgetEpoch() uint64 { return s.forgetEpoch.Load() }
