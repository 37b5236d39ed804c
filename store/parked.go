package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DueParked returns up to max of dest's parked jobs whose recheck time (NextAttempt) has come, oldest first,
// with their events, without claiming them: a recheck only searches, and records what it found with outcomes
// marked Recheck. next is the earliest recheck time of the parked jobs not returned (zero when none).
func (s *Store) DueParked(dest string, now time.Time, max int) (jobs []Claimed, next time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		p := destPrefix(dest)
		limit := dueKey(dest, now, ^uint64(0))
		b := tx.Bucket(bParked)
		if b == nil {
			return nil // a file from before parking, opened read-only
		}
		c := b.Cursor()
		k, _ := c.Seek(p)
		for ; k != nil && hasPrefix(k, p) && bytes.Compare(k, limit) <= 0 && len(jobs) < max; k, _ = c.Next() {
			j, err := getJob(tx, jobKey(dest, binary.BigEndian.Uint64(k[len(k)-8:])))
			if err != nil {
				return err
			}
			e, err := getEvent(tx, eventKey(j.Seq))
			if err != nil {
				return fmt.Errorf("event %d: %w", j.Seq, err)
			}
			jobs = append(jobs, Claimed{Job: *j, Event: e})
		}
		if k != nil && hasPrefix(k, p) {
			next = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(p):len(p)+8]))).UTC()
			if !next.After(now) {
				next = now // more are due than max: look again at once
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("due parked %s: %w", dest, err)
	}
	return jobs, next, nil
}

// ParkedJobs lists up to limit parked jobs of dest ("" for every destination) with their events, by
// destination and then by next recheck (the order they were parked in, while park_recheck is unchanged).
func (s *Store) ParkedJobs(dest string, limit int) ([]Claimed, error) {
	var out []Claimed
	err := s.db.View(func(tx *bolt.Tx) error {
		keys := parkedKeys(tx, Selector{Dest: dest}, limit)
		for _, k := range keys {
			j, err := getJob(tx, k)
			if err != nil {
				return err
			}
			e, err := getEvent(tx, eventKey(j.Seq))
			if err != nil {
				return fmt.Errorf("event %d: %w", j.Seq, err)
			}
			out = append(out, Claimed{Job: *j, Event: e})
		}
		return nil
	})
	return out, err
}

// parkedKeys returns the job keys of every selected parked job.
func (sel Selector) parkedKeys(tx *bolt.Tx) [][]byte { return parkedKeys(tx, sel, -1) }

// parkedKeys returns the job keys of the selected parked jobs (at most limit; limit < 0: all).
func parkedKeys(tx *bolt.Tx, sel Selector, limit int) [][]byte {
	if sel.Seq != 0 {
		k := jobKey(sel.Dest, sel.Seq)
		if j, err := getJob(tx, k); err != nil || j.State != Parked {
			return nil
		}
		return [][]byte{k}
	}
	var p []byte
	if sel.Dest != "" {
		p = destPrefix(sel.Dest)
	}
	var out [][]byte
	b := tx.Bucket(bParked)
	if b == nil {
		return nil // a file from before parking, opened read-only
	}
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && hasPrefix(k, p) && (limit < 0 || len(out) < limit); k, _ = c.Next() {
		i := indexZero(k)
		out = append(out, jobKey(string(k[:i]), binary.BigEndian.Uint64(k[len(k)-8:])))
	}
	return out
}

// RetryParked makes the selected parked jobs pending now, to be matched again at once by the sync loop (which
// parks them again if still no contact matches; ParkedAt is kept, so park_for still counts from the first
// park), and returns how many.
func (s *Store) RetryParked(sel Selector) (int, error) {
	now := s.now()
	return s.eachSelected("retry parked", sel.parkedKeys, true, func(tx *bolt.Tx, k []byte, j *Job) error {
		prev := *j
		j.State, j.NextAttempt = Pending, now
		return s.putJob(tx, k, j, &prev)
	})
}

// DropParked deletes the selected parked jobs (their events stay for deduplication) and returns how many.
func (s *Store) DropParked(sel Selector) (int, error) {
	return s.eachSelected("drop parked", sel.parkedKeys, false, func(tx *bolt.Tx, _ []byte, j *Job) error { return s.removeJob(tx, j) })
}

// removeJob deletes job j with its index entries, and counts it out of its state.
func (s *Store) removeJob(tx *bolt.Tx, j *Job) error {
	k := jobKey(j.Dest, j.Seq)
	for _, b := range [][]byte{bJobs, bQueue, bDead} {
		if err := tx.Bucket(b).Delete(k); err != nil {
			return err
		}
	}
	switch {
	case waiting(j.State):
		if err := tx.Bucket(bDue).Delete(dueKey(j.Dest, j.NextAttempt, j.Seq)); err != nil {
			return err
		}
	case j.State == Parked:
		if err := tx.Bucket(bParked).Delete(dueKey(j.Dest, j.NextAttempt, j.Seq)); err != nil {
			return err
		}
	}
	return s.addCount(tx, j.Dest, j.State, -1)
}
