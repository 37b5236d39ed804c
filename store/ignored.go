package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ignoredChunk bounds the events one requeue transaction reads and rewrites, so a large data file never
// holds the write lock (and the webhooks waiting on it) for long.
const ignoredChunk = 500

// RequeueIgnored re-validates, with fix, every ignored event of class received at or after since (zero: any
// time): an event fix now returns Accepted gets its jobs (one per destination fix names) and is synced as if
// just received; any other answer leaves it ignored, untouched. It works in short transactions and returns
// how many events it requeued and how many it left ignored. It is what an admin runs to sync events stored
// as ignored by an older version (call events before calls were synced).
func (s *Store) RequeueIgnored(class string, since time.Time, fix Revalidate) (requeued, left int, err error) {
	var from uint64
	for {
		var cands []uint64
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bEvents).Cursor()
			for k, v := c.Seek(eventKey(from + 1)); k != nil && len(cands) < ignoredChunk; k, v = c.Next() {
				from = decodeU64(k)
				e, err := decodeEvent(k, v)
				if err != nil {
					return err
				}
				if e.Status == Ignored && e.Class == class && !e.Received.Before(since) {
					cands = append(cands, e.Seq)
				}
			}
			return nil
		})
		if err != nil {
			return requeued, left, fmt.Errorf("requeue ignored: %w", err)
		}
		if len(cands) == 0 {
			return requeued, left, nil
		}
		n, l, err := s.requeueIgnored(cands, fix)
		requeued, left = requeued+n, left+l
		if err != nil {
			return requeued, left, fmt.Errorf("requeue ignored: %w", err)
		}
	}
}

// requeueIgnored applies fix to the events seqs that are still ignored, in one transaction.
func (s *Store) requeueIgnored(seqs []uint64, fix Revalidate) (requeued, left int, err error) {
	now := s.now()
	var notify []string
	err = s.update(func(tx *bolt.Tx) error {
		requeued, left, notify = 0, 0, nil
		for _, seq := range seqs {
			e, err := getEvent(tx, eventKey(seq))
			if err == ErrNotFound {
				continue // erased meanwhile (retention, forget)
			}
			if err != nil {
				return err
			}
			if e.Status != Ignored {
				continue
			}
			ne, dests := fix(e)
			if ne.Status != Accepted || len(dests) == 0 {
				left++
				continue
			}
			e.Status, e.Dests, e.Problems = Accepted, dests, nil
			for _, d := range dests {
				if err := s.putJob(tx, jobKey(d, seq), &Job{Created: now, NextAttempt: now, State: Pending}, nil); err != nil {
					return err
				}
			}
			if err := putEvent(tx, &e); err != nil {
				return err
			}
			requeued++
			notify = append(notify, dests...)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	s.notifyDests(uniq(notify))
	return requeued, left, nil
}
