package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Event statuses.
const (
	Accepted    = "accepted"    // a valid SMS: one job per destination
	Quarantined = "quarantined" // authenticated but odd: kept for an admin, no jobs
	Ignored     = "ignored"     // stored but not synced (call events, other eventNames)
	Duplicate   = "duplicate"   // requeued from quarantine, found to repeat an accepted event
)

// Event is one authenticated webhook as received.
type Event struct {
	Seq       uint64            `json:"-"`     // the key
	Class     string            `json:"class"` // which webhook: "sms" or "call"
	Status    string            `json:"status"`
	SourceID  string            `json:"source_id,omitempty"` // Onoff's id
	EventName string            `json:"event_name,omitempty"`
	Received  time.Time         `json:"received"`
	Raw       []byte            `json:"-"` // the body exactly as received, stored after the header
	Problems  map[string]string `json:"problems,omitempty"`
	Dests     []string          `json:"dests,omitempty"` // destinations that got a job
}

func eventKey(seq uint64) []byte { return u64(seq) }

// encodeEvent lays an event out as a 4-byte header length (with binaryHeader set), the binary header (every
// field but Seq and Raw, see codec.go), then the raw body as is: no base64, and cheap to build outside the
// write transaction. Layout 2 and earlier wrote a JSON header (eventHeader), which decodeEvent still reads.
func encodeEvent(e *Event) ([]byte, error) {
	out := make([]byte, 4, 64+len(e.SourceID)+len(e.Raw))
	out = encodeEventHeader(out, e)
	n := len(out) - 4
	if n >= binaryHeader {
		return nil, fmt.Errorf("event header of %d bytes", n)
	}
	binary.BigEndian.PutUint32(out, uint32(n)|binaryHeader)
	return append(out, e.Raw...), nil
}

// eventHeader is the JSON header layout 2 and earlier wrote. A source id that is not valid UTF-8 was kept
// byte for byte beside it (base64), so two ids that differ only in invalid bytes stay two ids.
type eventHeader struct {
	*Event
	SourceIDBytes []byte `json:"source_id_bytes,omitempty"`
}

// rawOf returns the raw body of a stored event without decoding its header; false when v is too short.
func rawOf(v []byte) ([]byte, bool) {
	if len(v) < 4 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint32(v) &^ binaryHeader)
	if n > len(v)-4 {
		return nil, false
	}
	return v[4+n:], true
}

func decodeEvent(k, v []byte) (Event, error) {
	var e Event
	if len(v) < 4 {
		return e, fmt.Errorf("event %d: corrupt record", decodeU64(k))
	}
	word := binary.BigEndian.Uint32(v)
	n := int(word &^ binaryHeader)
	if n > len(v)-4 {
		return e, fmt.Errorf("event %d: corrupt record", decodeU64(k))
	}
	if word&binaryHeader != 0 {
		if err := decodeEventHeader(v[4:4+n], &e); err != nil {
			return e, fmt.Errorf("event %d: %w", decodeU64(k), err)
		}
	} else {
		hd := eventHeader{Event: &e}
		if err := json.Unmarshal(v[4:4+n], &hd); err != nil {
			return e, fmt.Errorf("event %d: %w", decodeU64(k), err)
		}
		if hd.SourceIDBytes != nil {
			e.SourceID = string(hd.SourceIDBytes)
		}
	}
	if raw := v[4+n:]; len(raw) > 0 {
		e.Raw = append([]byte(nil), raw...) // bbolt's memory is only valid during the transaction
	}
	e.Seq = decodeU64(k)
	return e, nil
}

// getEvent reads event seq, or ErrNotFound.
func getEvent(tx *bolt.Tx, k []byte) (Event, error) {
	v := tx.Bucket(bEvents).Get(k)
	if v == nil {
		return Event{}, ErrNotFound
	}
	return decodeEvent(k, v)
}

func putEvent(tx *bolt.Tx, e *Event) error {
	data, err := encodeEvent(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bEvents).Put(eventKey(e.Seq), data)
}

func idKey(class, sourceID string) []byte { return []byte(class + ":" + sourceID) }

// Enqueue stores ev durably and, when it is Accepted, one pending job per destination. An event whose Class
// and SourceID were stored before is a redelivery: nothing is written and dup is true, with the first one's seq
// (unless it replaces a quarantined event: see Receive). It returns once the write is fsync'd; any error means
// nothing was stored.
func (s *Store) Enqueue(ev Event, dests []string) (seq uint64, dup bool, err error) {
	r, err := s.Receive(ev, dests)
	return r.Seq, r.Dup, err
}

// Receipt says what Receive did with an event.
type Receipt struct {
	Seq      uint64 // the event's seq (the first delivery's, for a redelivery)
	Dup      bool   // a redelivery of a stored event: nothing was written
	Replaced bool   // a valid redelivery of a quarantined event took its place (same seq), with its jobs
}

// Receive is Enqueue, saying whether the event replaced a quarantined one: a redelivery whose status is not
// Quarantined, of an event still in the quarantine, replaces it (its body, status, problems and jobs), so a
// valid copy Onoff sends again is synced instead of dropped as a duplicate of the odd first one.
func (s *Store) Receive(ev Event, dests []string) (Receipt, error) {
	now := s.now()
	e := ev
	e.Dests = nil
	if e.Status == Accepted {
		e.Dests = dests
	}
	if e.Received.IsZero() {
		e.Received = now
	}
	data, err := encodeEvent(&e) // outside the transaction: the committer is the one serial step
	if err != nil {
		return Receipt{}, fmt.Errorf("enqueue %s: %w", ev.SourceID, err)
	}
	var r Receipt
	err = s.update(func(tx *bolt.Tx) error {
		r = Receipt{}
		if ev.SourceID != "" {
			if v := tx.Bucket(bIDs).Get(idKey(ev.Class, ev.SourceID)); v != nil {
				r.Seq = decodeU64(v[:8])
				if ev.Status == Quarantined || tx.Bucket(bQuarantine).Get(eventKey(r.Seq)) == nil {
					r.Dup = true
					return nil
				}
				r.Replaced = true
				return s.replaceQuarantined(tx, r.Seq, &e, data, now)
			}
		}
		var err error
		r.Seq, err = s.insertEvent(tx, &e, data, now)
		return err
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("enqueue %s: %w", ev.SourceID, err)
	}
	if !r.Dup && ev.Status == Accepted {
		s.notifyDests(dests)
	}
	return r, nil
}

// replaceQuarantined puts e (encoded as data) in place of the quarantined event seq: out of the quarantine,
// with its jobs.
func (s *Store) replaceQuarantined(tx *bolt.Tx, seq uint64, e *Event, data []byte, now time.Time) error {
	e.Seq = seq
	if err := tx.Bucket(bEvents).Put(eventKey(seq), data); err != nil {
		return err
	}
	if err := tx.Bucket(bIDs).Put(idKey(e.Class, e.SourceID), idValue(seq, e.Received)); err != nil {
		return err
	}
	if err := tx.Bucket(bQuarantine).Delete(eventKey(seq)); err != nil {
		return err
	}
	if err := s.addCount(tx, "", Quarantined, -1); err != nil {
		return err
	}
	for _, d := range e.Dests {
		if err := s.putJob(tx, jobKey(d, seq), &Job{Created: now, NextAttempt: now, State: Pending}, nil); err != nil {
			return err
		}
	}
	return nil
}

// insertEvent stores e, already encoded as data, under the next seq, with its dedup entry, quarantine entry
// and jobs.
func (s *Store) insertEvent(tx *bolt.Tx, e *Event, data []byte, now time.Time) (uint64, error) {
	events := tx.Bucket(bEvents)
	events.FillPercent = appendFill
	seq, err := events.NextSequence()
	if err != nil {
		return 0, err
	}
	e.Seq = seq
	if err := events.Put(eventKey(seq), data); err != nil {
		return 0, err
	}
	if e.SourceID != "" {
		if err := tx.Bucket(bIDs).Put(idKey(e.Class, e.SourceID), idValue(seq, e.Received)); err != nil {
			return 0, err
		}
	}
	if e.Status == Quarantined {
		if err := tx.Bucket(bQuarantine).Put(eventKey(seq), nil); err != nil {
			return 0, err
		}
		if err := s.addCount(tx, "", Quarantined, 1); err != nil {
			return 0, err
		}
	}
	for _, d := range e.Dests {
		j := &Job{Created: now, NextAttempt: now, State: Pending}
		if err := s.putJob(tx, jobKey(d, seq), j, nil); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// idValue is a deduplication entry: the event's seq, then when it was received (unix seconds), so retention
// can expire old entries without reading the event.
func idValue(seq uint64, received time.Time) []byte {
	return append(u64(seq), u64(uint64(received.Unix()))...)
}

func decodeU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// Event returns the event stored under seq, or ErrNotFound.
func (s *Store) Event(seq uint64) (Event, error) {
	var e Event
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEvent(tx, eventKey(seq))
		return err
	})
	return e, err
}

// EventBySource returns the event Onoff sent with this id on the given webhook class, or ErrNotFound.
func (s *Store) EventBySource(class, sourceID string) (Event, error) {
	var e Event
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bIDs).Get(idKey(class, sourceID))
		if v == nil {
			return ErrNotFound
		}
		var err error
		e, err = getEvent(tx, v[:8])
		return err
	})
	return e, err
}

// Quarantine lists up to limit quarantined events, oldest first, starting after seq after.
func (s *Store) Quarantine(after uint64, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bQuarantine).Cursor()
		for k, _ := c.Seek(eventKey(after + 1)); k != nil && len(out) < limit; k, _ = c.Next() {
			e, err := getEvent(tx, k)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Revalidate is what an admin's requeue does to a quarantined event: it re-reads the raw body and returns the
// event's new status, problems and source id, and the destinations to create jobs for when it is now Accepted.
type Revalidate func(e Event) (Event, []string)

// RequeueQuarantined re-validates the quarantined event seq with fix. If it is now Accepted, it leaves the
// quarantine and gets its jobs (or becomes Duplicate when its id was accepted meanwhile); otherwise it stays,
// with its problems updated. It returns the event as stored.
func (s *Store) RequeueQuarantined(seq uint64, fix Revalidate) (Event, error) {
	var out Event
	var dests []string
	now := s.now()
	err := s.update(func(tx *bolt.Tx) error {
		dests = nil
		if tx.Bucket(bQuarantine).Get(eventKey(seq)) == nil {
			return ErrNotFound
		}
		e, err := getEvent(tx, eventKey(seq))
		if err != nil {
			return err
		}
		ne, ds := fix(e)
		ne.Seq, ne.Received, ne.Raw, ne.Class = e.Seq, e.Received, e.Raw, e.Class
		if ne.Status != Quarantined {
			if ne.SourceID != "" {
				if v := tx.Bucket(bIDs).Get(idKey(ne.Class, ne.SourceID)); v != nil && decodeU64(v[:8]) != seq {
					ne.Status, ds = Duplicate, nil
				} else if err := tx.Bucket(bIDs).Put(idKey(ne.Class, ne.SourceID), idValue(seq, ne.Received)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bQuarantine).Delete(eventKey(seq)); err != nil {
				return err
			}
			if err := s.addCount(tx, "", Quarantined, -1); err != nil {
				return err
			}
			if ne.Status == Accepted {
				ne.Dests = ds
				dests = ds
				for _, d := range ds {
					if err := s.putJob(tx, jobKey(d, seq), &Job{Created: now, NextAttempt: now, State: Pending}, nil); err != nil {
						return err
					}
				}
			}
		}
		out = ne
		return putEvent(tx, &ne)
	})
	if err != nil {
		return Event{}, fmt.Errorf("requeue quarantined %d: %w", seq, err)
	}
	s.notifyDests(dests)
	return out, nil
}

// DropQuarantined deletes the quarantined event seq for good (its id stays known, so a redelivery of it is
// still answered as a duplicate).
func (s *Store) DropQuarantined(seq uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bQuarantine).Get(eventKey(seq)) == nil {
			return ErrNotFound
		}
		if err := tx.Bucket(bQuarantine).Delete(eventKey(seq)); err != nil {
			return err
		}
		if err := s.addCount(tx, "", Quarantined, -1); err != nil {
			return err
		}
		return tx.Bucket(bEvents).Delete(eventKey(seq))
	})
	if err != nil {
		return fmt.Errorf("drop quarantined %d: %w", seq, err)
	}
	return nil
}

func hasPrefix(k, p []byte) bool { return bytes.HasPrefix(k, p) }
