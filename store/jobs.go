package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Job states.
const (
	Pending  = "pending"   // waiting for its first (or a released) attempt
	InFlight = "in_flight" // claimed by the sync loop; found at startup, it becomes pending and ambiguous
	Retrying = "retrying"  // failed, waiting for NextAttempt
	Parked   = "parked"    // no contact matched yet: matched again at NextAttempt, until the mapping's park_for
	Done     = "done"      // logged in the CRM; RecordID says where
	Skipped  = "skipped"   // a mapping rule chose not to sync it
	Dead     = "dead"      // given up: LastError says why; an admin can retry or drop it
)

// States lists every job state in display order.
var States = []string{Pending, InFlight, Retrying, Parked, Done, Skipped, Dead}

func active(state string) bool { return state == Pending || state == InFlight || state == Retrying }

// Job is the delivery of one event to one destination.
type Job struct {
	Dest        string    `json:"-"`
	Seq         uint64    `json:"-"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	SentAt      time.Time `json:"sent_at,omitzero"` // when an attempt was last claimed to go out
	// FirstSent is when the first attempt was claimed to go out (zero for jobs stored before it existed: Created
	// bounds it then). A look-up of an ambiguous attempt by content ignores records created before it.
	FirstSent time.Time `json:"first_sent,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	RecordID  string    `json:"record_id,omitempty"`  // the CRM's id of the logged activity
	ContactID string    `json:"contact_id,omitempty"` // the CRM contact it was logged on
	// Ambiguous marks a job whose last attempt may have reached the CRM (timeout, crash after sending).
	Ambiguous bool `json:"ambiguous,omitempty"`
	// ParkedAt is when the job was first parked (no contact matched); it stays set once the job moves on.
	ParkedAt time.Time `json:"parked_at,omitzero"`
	// ContactUpdate is the second phase of a job whose activity is logged (RecordID) while the contact
	// update its mapping asked for is not yet applied, as the sync loop encoded it: a claim of the job
	// resumes there, so a crash between the two phases neither loses the update nor logs the SMS again.
	// It stays set once the job is done.
	ContactUpdate json.RawMessage `json:"contact_update,omitempty"`
}

// Claimed is a job handed to the sync loop, with its event.
type Claimed struct {
	Job   Job
	Event Event
}

func getJob(tx *bolt.Tx, k []byte) (*Job, error) {
	var j Job
	v := tx.Bucket(bJobs).Get(k)
	if v == nil {
		return nil, fmt.Errorf("job %x: %w", k, ErrNotFound)
	}
	if err := decodeJob(v, &j); err != nil {
		return nil, fmt.Errorf("job %x: %w", k, err)
	}
	j.Dest, j.Seq = splitJobKey(k)
	return &j, nil
}

// maxDue is the latest next attempt the due index can order.
var maxDue = time.Unix(0, math.MaxInt64)

// waiting reports whether a job in state waits for its NextAttempt (and so is in the due index).
func waiting(state string) bool { return state == Pending || state == Retrying }

// dueKey orders a destination's waiting jobs by next attempt, then by seq (FIFO among equals).
func dueKey(dest string, next time.Time, seq uint64) []byte {
	at := next.UnixNano() // undefined past 2262: clamp, or a far-future retry would sort as due now
	switch {
	case next.After(maxDue):
		at = maxDue.UnixNano()
	case at < 0:
		at = 0
	}
	k := append(destPrefix(dest), u64(uint64(at))...)
	return append(k, u64(seq)...)
}

// putJob writes j under k and keeps the indexes and counters in step with its move from prev (nil for a new job).
func (s *Store) putJob(tx *bolt.Tx, k []byte, j *Job, prev *Job) error {
	dest, seq := splitJobKey(k)
	jobs, queue, due := tx.Bucket(bJobs), tx.Bucket(bQueue), tx.Bucket(bDue)
	jobs.FillPercent, queue.FillPercent, due.FillPercent = appendFill, appendFill, appendFill
	if err := jobs.Put(k, encodeJob(nil, j)); err != nil {
		return err
	}
	old := ""
	if prev != nil {
		old = prev.State
	}
	wasDue, isDue := waiting(old), waiting(j.State)
	if wasDue && (!isDue || !prev.NextAttempt.Equal(j.NextAttempt)) {
		if err := due.Delete(dueKey(dest, prev.NextAttempt, seq)); err != nil {
			return err
		}
	}
	if isDue && (!wasDue || !prev.NextAttempt.Equal(j.NextAttempt)) {
		if err := due.Put(dueKey(dest, j.NextAttempt, seq), nil); err != nil {
			return err
		}
	}
	wasParked, isParked := old == Parked, j.State == Parked
	if wasParked && (!isParked || !prev.NextAttempt.Equal(j.NextAttempt)) {
		if err := tx.Bucket(bParked).Delete(dueKey(dest, prev.NextAttempt, seq)); err != nil {
			return err
		}
	}
	if isParked && (!wasParked || !prev.NextAttempt.Equal(j.NextAttempt)) {
		tx.Bucket(bParked).FillPercent = appendFill
		if err := tx.Bucket(bParked).Put(dueKey(dest, j.NextAttempt, seq), nil); err != nil {
			return err
		}
	}
	if old == j.State {
		return nil
	}
	if err := s.addCount(tx, dest, old, -1); err != nil {
		return err
	}
	if err := s.addCount(tx, dest, j.State, 1); err != nil {
		return err
	}
	if active(j.State) && !active(old) {
		if err := queue.Put(k, nil); err != nil {
			return err
		}
	} else if !active(j.State) && active(old) {
		if err := queue.Delete(k); err != nil {
			return err
		}
	}
	if j.State == Dead {
		return tx.Bucket(bDead).Put(k, nil)
	}
	if old == Dead {
		return tx.Bucket(bDead).Delete(k)
	}
	return nil
}

// Claim marks up to max of dest's due jobs (pending or retrying with NextAttempt <= now) in flight, in order
// of next attempt (FIFO for new jobs), and returns them with their events. next is the earliest NextAttempt of
// the jobs still waiting (zero when none), so the caller knows when to look again. It reads the due index, so
// its cost does not grow with a backlog of jobs waiting to retry.
func (s *Store) Claim(dest string, now time.Time, max int) (jobs []Claimed, next time.Time, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		jobs, next = jobs[:0], time.Time{}
		p := destPrefix(dest)
		limit := dueKey(dest, now, ^uint64(0))
		var claim, dueKeys [][]byte
		c := tx.Bucket(bDue).Cursor()
		k, _ := c.Seek(p)
		for ; k != nil && hasPrefix(k, p) && bytes.Compare(k, limit) <= 0 && len(claim) < max; k, _ = c.Next() {
			claim = append(claim, jobKey(dest, binary.BigEndian.Uint64(k[len(k)-8:])))
			dueKeys = append(dueKeys, append([]byte(nil), k...))
		}
		if k != nil && hasPrefix(k, p) {
			next = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(p):len(p)+8]))).UTC()
			if !next.After(now) {
				next = now // more are due than max: look again at once
			}
		}
		for i, k := range claim {
			j, err := getJob(tx, k)
			if errors.Is(err, ErrNotFound) || (err == nil && (!waiting(j.State) || !bytes.Equal(dueKey(dest, j.NextAttempt, j.Seq), dueKeys[i]))) {
				// A stale index entry (no path is known to leave one): drop it rather than fail or send twice.
				if err := tx.Bucket(bDue).Delete(dueKeys[i]); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			prev := *j
			// Claiming is the last durable step before the request goes out, so it stands for "sent" when a
			// crash leaves the job in flight: the CRM's index lag is counted from here. An ambiguous job keeps
			// the time of the send in doubt until the loop has looked for its record.
			j.State = InFlight
			if !j.Ambiguous {
				j.SentAt = now
			}
			if j.FirstSent.IsZero() {
				j.FirstSent = now
			}
			if err := s.putJob(tx, k, j, &prev); err != nil {
				return err
			}
			e, err := getEvent(tx, eventKey(j.Seq))
			if err != nil {
				return fmt.Errorf("event %d: %w", j.Seq, err)
			}
			jobs = append(jobs, Claimed{Job: *j, Event: e})
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claim %s: %w", dest, err)
	}
	return jobs, next, nil
}

// Outcome is what happened to a claimed job.
type Outcome struct {
	Dest  string
	Seq   uint64
	State string // Done, Skipped, Retrying, Dead, Parked, or Pending (handed back without counting an attempt)
	// Recheck marks the outcome of a parked job's recheck, which read the job without claiming it: it is
	// recorded only if the job is still parked (an admin may have retried or dropped it meanwhile).
	Recheck bool
	// Attempted counts an attempt (false for rate limits and pauses, which are not the job's fault).
	Attempted   bool
	NextAttempt time.Time
	Error       string
	RecordID    string
	ContactID   string
	Ambiguous   bool
	Sent        bool // a request went out for it (sets SentAt)
	// ContactUpdate, when set, records the job's second phase (Job.ContactUpdate): with State InFlight it
	// marks the activity logged while the job stays claimed for its contact update.
	ContactUpdate json.RawMessage
}

// Complete records outcomes in one durable write. The CRM record id in a Done outcome is what prevents a
// second delivery, so callers complete as soon as the CRM confirms.
func (s *Store) Complete(outs []Outcome) error {
	now := s.now()
	err := s.update(func(tx *bolt.Tx) error {
		for _, o := range outs {
			k := jobKey(o.Dest, o.Seq)
			j, err := getJob(tx, k)
			if errors.Is(err, ErrNotFound) {
				continue // erased meanwhile (forget): nothing to record
			}
			if err != nil {
				return err
			}
			if o.Recheck && j.State != Parked {
				continue
			}
			prev := *j
			j.State = o.State
			if o.Attempted {
				j.Attempts++
			}
			j.NextAttempt = o.NextAttempt
			if o.Error != "" || o.State == Done {
				j.LastError = o.Error
			}
			if o.RecordID != "" {
				j.RecordID = o.RecordID
			}
			if o.ContactID != "" {
				j.ContactID = o.ContactID
			}
			if o.ContactUpdate != nil {
				j.ContactUpdate = o.ContactUpdate
			}
			if o.Sent {
				j.SentAt = now
			}
			j.Ambiguous = o.Ambiguous || (j.Ambiguous && o.State != Done && !o.Sent)
			if o.State == Parked && j.ParkedAt.IsZero() {
				j.ParkedAt = now
			}
			if !active(o.State) && o.State != Parked {
				j.Finished = now
			}
			if err := s.putJob(tx, k, j, &prev); err != nil {
				return err
			}
			if j.State == Done && prev.State != Done {
				if err := countDelivered(tx, o.Dest, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete %d jobs: %w", len(outs), err)
	}
	return nil
}

// Jobs returns the jobs of event seq, one per destination.
func (s *Store) Jobs(seq uint64) ([]Job, error) {
	var out []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		e, err := getEvent(tx, eventKey(seq))
		if err != nil {
			return err
		}
		for _, d := range e.Dests {
			j, err := getJob(tx, jobKey(d, seq))
			if err != nil {
				continue // dropped dead letter
			}
			out = append(out, *j)
		}
		return nil
	})
	return out, err
}

// DeadLetters lists up to limit dead jobs of dest ("" for every destination) with their events.
func (s *Store) DeadLetters(dest string, limit int) ([]Claimed, error) {
	var out []Claimed
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDead).Cursor()
		var p []byte
		if dest != "" {
			p = destPrefix(dest)
		}
		for k, _ := c.Seek(p); k != nil && hasPrefix(k, p) && len(out) < limit; k, _ = c.Next() {
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

// Selector picks dead letters: one (Dest and Seq), a destination's (Dest), or all (zero value).
type Selector struct {
	Dest string
	Seq  uint64
}

func (sel Selector) keys(tx *bolt.Tx) [][]byte {
	if sel.Seq != 0 {
		k := jobKey(sel.Dest, sel.Seq)
		if tx.Bucket(bDead).Get(k) == nil {
			return nil
		}
		return [][]byte{k}
	}
	var p []byte
	if sel.Dest != "" {
		p = destPrefix(sel.Dest)
	}
	var out [][]byte
	c := tx.Bucket(bDead).Cursor()
	for k, _ := c.Seek(p); k != nil && hasPrefix(k, p); k, _ = c.Next() {
		out = append(out, append([]byte(nil), k...))
	}
	return out
}

// RetryDead makes the selected dead jobs pending again with a fresh attempt count, and returns how many.
func (s *Store) RetryDead(sel Selector) (int, error) {
	now := s.now()
	return s.eachSelected("retry dead", sel.keys, true, func(tx *bolt.Tx, k []byte, j *Job) error {
		prev := *j
		j.State, j.Attempts, j.NextAttempt, j.Finished = Pending, 0, now, time.Time{}
		return s.putJob(tx, k, j, &prev)
	})
}

// DropDead deletes the selected dead jobs (their events stay for deduplication) and returns how many.
func (s *Store) DropDead(sel Selector) (int, error) {
	return s.eachSelected("drop dead", sel.keys, false, func(tx *bolt.Tx, _ []byte, j *Job) error { return s.removeJob(tx, j) })
}

// eachSelected applies fn to every job keys selects, in one write, and returns how many; notify wakes the
// loops of the destinations it touched (for jobs made due). what names the action in errors.
func (s *Store) eachSelected(what string, keys func(*bolt.Tx) [][]byte, notify bool, fn func(tx *bolt.Tx, k []byte, j *Job) error) (int, error) {
	var n int
	var dests []string
	err := s.update(func(tx *bolt.Tx) error {
		n, dests = 0, nil
		for _, k := range keys(tx) {
			j, err := getJob(tx, k)
			if err != nil {
				return err
			}
			if err := fn(tx, k, j); err != nil {
				return err
			}
			n++
			dests = append(dests, j.Dest)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if notify {
		s.notifyDests(uniq(dests))
	}
	return n, nil
}

// DestStats are one destination's job counts.
type DestStats struct {
	Counts        map[string]int64 `json:"counts"`
	OldestPending time.Time        `json:"oldest_pending,omitzero"` // creation of the oldest unfinished job
}

// Stats returns job counts per destination and the quarantine size.
func (s *Store) Stats() (map[string]DestStats, int64, error) {
	out := map[string]DestStats{}
	var quarantined int64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bCounts).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			i := indexZero(k)
			dest, state := string(k[:i]), string(k[i+1:])
			if dest == "" {
				if state == Quarantined {
					quarantined = int64(decodeU64(v))
				}
				continue
			}
			ds, ok := out[dest]
			if !ok {
				ds = DestStats{Counts: map[string]int64{}}
				out[dest] = ds
			}
			ds.Counts[state] = int64(decodeU64(v))
		}
		for dest, ds := range out {
			p := destPrefix(dest)
			if k, _ := tx.Bucket(bQueue).Cursor().Seek(p); k != nil && hasPrefix(k, p) {
				j, err := getJob(tx, k)
				if err != nil {
					return err
				}
				ds.OldestPending = j.Created
				out[dest] = ds
			}
		}
		return nil
	})
	return out, quarantined, err
}

func indexZero(k []byte) int {
	for i, c := range k {
		if c == 0 {
			return i
		}
	}
	return len(k)
}

func uniq(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
