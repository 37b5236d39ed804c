package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepScan bounds how many records one sweep transaction reads, so the single writer is never held long
// (webhooks wait on it), however large the backlog or the deduplication index.
const sweepScan = 5000

// Sweep applies retention: events received before cutoff whose jobs are all finished (done, skipped or dead),
// and quarantined or ignored ones, are removed with their jobs; their deduplication entries stay until
// idsCutoff, so a late redelivery is still answered as a duplicate. Contact-cache entries go once expired,
// or once cached before cutoff (they hold phone numbers and emails: the cache must not outlive the events). It works in short transactions of at most
// sweepScan records each, and returns how many events it removed.
func (s *Store) Sweep(cutoff, idsCutoff time.Time) (int, error) {
	total := 0
	var from []byte
	for {
		n, next, err := s.sweepEvents(from, cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep: %w", err)
		}
		if next == nil {
			break
		}
		from = next
	}
	from = nil
	for {
		next, err := s.sweepIDs(from, idsCutoff)
		if err != nil {
			return total, fmt.Errorf("sweep ids: %w", err)
		}
		if next == nil {
			break
		}
		from = next
	}
	from = nil
	now := s.now()
	for {
		next, err := s.sweepContacts(from, now, cutoff)
		if err != nil {
			return total, fmt.Errorf("sweep contact cache: %w", err)
		}
		if next == nil {
			return total, nil
		}
		from = next
	}
}

// sweepEvents removes the expired, finished events among the next sweepScan from key from (nil: the first),
// and returns the key to resume at (nil when done: events are in arrival order, so the first one received
// after cutoff ends the sweep).
func (s *Store) sweepEvents(from []byte, cutoff time.Time) (n int, next []byte, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		n, next = 0, nil
		c := tx.Bucket(bEvents).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		var del []Event
		for scanned := 0; k != nil; k, v = c.Next() {
			if scanned == sweepScan {
				next = append([]byte(nil), k...)
				break
			}
			scanned++
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			if !e.Received.Before(cutoff) {
				break
			}
			if finished(tx, e) {
				del = append(del, e)
			}
		}
		for _, e := range del {
			if err := s.deleteEvent(tx, e); err != nil {
				return err
			}
		}
		n = len(del)
		return nil
	})
	return n, next, err
}

// sweepIDs removes deduplication entries received before cutoff, whose event is no longer stored, among the
// next sweepScan from key from, and returns the key to resume at (nil when done).
func (s *Store) sweepIDs(from []byte, cutoff time.Time) (next []byte, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		next = nil
		c := tx.Bucket(bIDs).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		var del [][]byte
		for scanned := 0; k != nil; k, v = c.Next() {
			if scanned == sweepScan {
				next = append([]byte(nil), k...)
				break
			}
			scanned++
			// An id stays while its event is stored (unfinished): a redelivery must still find it.
			if len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) < cutoff.Unix() && tx.Bucket(bEvents).Get(v[:8]) == nil {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := tx.Bucket(bIDs).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return next, err
}

// finished reports whether none of e's jobs is still queued (pending, in flight or retrying) or parked.
func finished(tx *bolt.Tx, e Event) bool {
	for _, d := range e.Dests {
		if tx.Bucket(bQueue).Get(jobKey(d, e.Seq)) != nil {
			return false
		}
		if j, err := getJob(tx, jobKey(d, e.Seq)); err == nil && j.State == Parked {
			return false
		}
	}
	return true
}

// deleteEvent removes an event, its jobs (with their indexes and counts) and its quarantine entry. Its
// deduplication entry stays.
func (s *Store) deleteEvent(tx *bolt.Tx, e Event) error {
	for _, d := range e.Dests {
		k := jobKey(d, e.Seq)
		j, err := getJob(tx, k)
		if err != nil {
			continue // a dropped dead letter
		}
		if err := s.removeJob(tx, j); err != nil {
			return err
		}
	}
	if tx.Bucket(bQuarantine).Get(eventKey(e.Seq)) != nil {
		if err := tx.Bucket(bQuarantine).Delete(eventKey(e.Seq)); err != nil {
			return err
		}
		if err := s.addCount(tx, "", Quarantined, -1); err != nil {
			return err
		}
	}
	return tx.Bucket(bEvents).Delete(eventKey(e.Seq))
}
