// Package store is onoffsync's durable outbox: one bbolt file holding every received event, one job per event
// and destination, the dead letters, the quarantine, and the contact cache.
//
// Every write is fsync'd before it returns (bbolt's NoSync is never set). Concurrent writers share commits:
// a single committer goroutine runs each transaction as soon as the previous one ends, with every write that
// queued up meanwhile (group commit), so durability costs one fsync per batch rather than per write.
// The network is never called inside a transaction: callers read due work, call the CRM, then record the outcome.
// It imports no other onoffsync package: it stores bytes and job states, and knows no CRM or mapping.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Layout is the version of the data layout this code writes; Open refuses newer files and migrates older ones.
// Layout 3 writes binary job records and event headers (codec.go); it reads the JSON ones of layout 2 as they
// are, so moving to 3 rewrites nothing, while a binary that knows only layout 2 refuses the file.
const Layout = 3

// Errors callers test for.
var (
	ErrClosed   = errors.New("store closed")
	ErrNotFound = errors.New("not found")
	ErrLocked   = errors.New("data file locked by another process")
)

var (
	bMeta       = []byte("meta")
	bEvents     = []byte("events")     // seq -> Event
	bIDs        = []byte("ids")        // class ":" source id -> seq (deduplication)
	bJobs       = []byte("jobs")       // dest 0 seq -> Job
	bQueue      = []byte("queue")      // dest 0 seq -> nil, for jobs not yet finished (pending, in_flight, retrying)
	bDead       = []byte("dead")       // dest 0 seq -> nil
	bQuarantine = []byte("quarantine") // seq -> nil
	bCounts     = []byte("counts")     // dest 0 state -> uint64
	bDue        = []byte("due")        // dest 0 next attempt (unix ns) seq -> nil, for pending and retrying jobs
	bContacts   = []byte("contacts")   // dest 0 query key -> CachedContact
	bParked     = []byte("parked")     // dest 0 next recheck (unix ns) seq -> nil, for parked jobs
	allBuckets  = [][]byte{bMeta, bEvents, bIDs, bJobs, bQueue, bDead, bQuarantine, bCounts, bContacts, bDue, bParked}
)

// appendFill is how full bbolt fills a page before splitting it in buckets whose keys mostly grow (events,
// jobs, queue, due): the default 0.5 suits random inserts and left these half empty, doubling the file.
const appendFill = 0.9

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Timeout to obtain the file lock (another process holding the file). Default 2s.
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxBatch caps how many queued writes share one commit. Default 1024.
	MaxBatch int
	// MaxSize caps the data file (bbolt's MaxSize); 0 means no cap. Writes past it fail (tests use it as a full disk).
	MaxSize int
	// ReadOnly opens the file with a shared lock, for inspection while no server runs.
	ReadOnly bool

	fault func() error // tests only: called before each group commit; an error fails it as a full disk would
}

// Store is an open outbox. Its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	now      func() time.Time
	maxBatch int

	mu      sync.Mutex // guards queue, closed
	queue   []*call
	closed  bool
	wake    chan struct{}
	stopped chan struct{}

	notifyMu sync.Mutex
	notify   []func(dest string)

	deltas  map[string]int64            // count changes of the transaction being built (committer goroutine only)
	commits atomic.Uint64               // transactions committed by the group committer
	writes  atomic.Uint64               // writes they carried
	lastErr atomic.Pointer[commitError] // the last failed commit, until one that writes pages succeeds

	forgetEpoch atomic.Uint64 // moved by every erasure of contact-cache entries (see CacheContactsAt)

	fault func() error // Options.fault
}

// CommitStats returns how many group commits ran and how many writes they carried (their ratio is the
// average batch size).
func (s *Store) CommitStats() (commits, writes uint64) { return s.commits.Load(), s.writes.Load() }

type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// Open opens (or creates) the data file at path, creating its buckets, checking the layout version, and turning
// jobs left in flight by a killed process back into pending ones marked ambiguous. A new file is created only
// where none exists: an existing file that is empty, truncated or damaged is refused with ErrCorrupt (its
// message, one line, says to restore the copy); a file locked by another process with ErrLocked.
func Open(path string, opts Options) (s *Store, err error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	if err := checkPages(path, opts.Timeout); err != nil {
		return nil, err
	}
	// A damaged page can still make bbolt panic or fault while the buckets are read here: report it as a
	// corrupt file rather than crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var db *bolt.DB
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			s, err = nil, corrupt(path, fmt.Sprintf("bbolt failed reading it: %v", p))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, MaxSize: opts.MaxSize,
		ReadOnly: opts.ReadOnly, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s = &Store{db: db, now: opts.Now, maxBatch: opts.MaxBatch, fault: opts.fault, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	if opts.ReadOnly {
		err = db.View(checkLayout)
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			if err := migrate(tx); err != nil {
				return err
			}
			if err := s.recoverInFlight(tx, opts.Now()); err != nil {
				return err
			}
			return s.flushCounts(tx)
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if opts.ReadOnly {
		close(s.stopped)
		s.closed = true
	} else {
		go s.commitLoop()
	}
	return s, nil
}

func checkLayout(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		return errors.New("not an onoffsync data file (no meta bucket)")
	}
	if v := meta.Get([]byte("layout")); v != nil && int(binary.BigEndian.Uint64(v)) > Layout {
		return fmt.Errorf("data layout %d is newer than this binary's %d", binary.BigEndian.Uint64(v), Layout)
	}
	return nil
}

// migrate brings an older layout up to Layout: 1 -> 2 builds the due index (waiting jobs by next attempt);
// 2 -> 3 has nothing to convert (records are read in either encoding).
func migrate(tx *bolt.Tx) error {
	if err := checkLayout(tx); err != nil {
		return err
	}
	meta := tx.Bucket(bMeta)
	from := 0
	if v := meta.Get([]byte("layout")); v != nil {
		from = int(decodeU64(v))
	}
	if from == 1 {
		q := tx.Bucket(bQueue).Cursor()
		for k, _ := q.First(); k != nil; k, _ = q.Next() {
			j, err := getJob(tx, k)
			if err != nil {
				return err
			}
			if waiting(j.State) {
				if err := tx.Bucket(bDue).Put(dueKey(j.Dest, j.NextAttempt, j.Seq), nil); err != nil {
					return err
				}
			}
		}
	}
	return meta.Put([]byte("layout"), u64(Layout))
}

// recoverInFlight makes jobs a killed process left in flight pending again. Their request may have reached
// the CRM, so they are marked ambiguous: the loop checks for the record before sending again.
func (s *Store) recoverInFlight(tx *bolt.Tx, now time.Time) error {
	meta := tx.Bucket(bMeta)
	clean := meta.Get(keyClean) != nil
	if err := meta.Delete(keyClean); err != nil { // from now on a crash leaves no flag
		return err
	}
	inFlight := false
	c := tx.Bucket(bCounts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if i := indexZero(k); string(k[i+1:]) == InFlight && decodeU64(v) > 0 {
			inFlight = true
		}
	}
	if clean && !inFlight {
		return nil // closed cleanly with nothing in flight: no scan, however long the backlog
	}
	q := tx.Bucket(bQueue).Cursor()
	for k, _ := q.First(); k != nil; k, _ = q.Next() {
		j, err := getJob(tx, k)
		if err != nil {
			return err
		}
		if j.State == InFlight {
			prev := *j
			// The lost request went out before now, so counting the CRM's index lag from now is safe.
			j.State, j.Ambiguous, j.NextAttempt, j.SentAt = Pending, true, now, now
			if err := s.putJob(tx, k, j, &prev); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops the committer after the writes already queued, then closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.stopped
		if s.db.IsReadOnly() {
			return s.db.Close() // no committer ran; closing twice is harmless in bbolt
		}
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.stopped
	// Mark the file closed cleanly, so the next Open can trust the counters and skip the recovery scan.
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(keyClean, []byte{1}) })
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// keyClean in the meta bucket says the last process closed the file; Open removes it.
var keyClean = []byte("clean")

// OnJob registers fn to be called (outside any transaction) with the destination of every job that becomes
// due now: new jobs, requeued dead letters and quarantine. The sync loop uses it to wake without polling.
func (s *Store) OnJob(fn func(dest string)) {
	s.notifyMu.Lock()
	s.notify = append(s.notify, fn)
	s.notifyMu.Unlock()
}

func (s *Store) notifyDests(dests []string) {
	s.notifyMu.Lock()
	fns := s.notify
	s.notifyMu.Unlock()
	for _, d := range dests {
		for _, fn := range fns {
			fn(d)
		}
	}
}

// update runs fn in a read-write transaction shared with other writers queued at the same time, and returns
// once that transaction is committed and fsync'd. fn may run more than once (when a neighbour in its batch
// fails, the batch is replayed without it; when fn itself fails in a batch, it is run again alone), so it must
// only touch the transaction and its own results. A panic in fn is returned as a *PanicError.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return <-c.done
}

// commitLoop commits queued writes: as soon as one commit ends, everything queued meanwhile goes in the next.
// Under concurrency, writers whose commit just ended come back a moment later; when the last batch carried
// more than one write, the committer gives them up to gatherWait to rejoin (or until as many are queued as
// last time), so batches stay large instead of splitting into two half-size groups that alternate. A lone
// writer (last batch of one) never waits.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	last := 0
	for {
		s.mu.Lock()
		queued, closed := len(s.queue), s.closed
		s.mu.Unlock()
		if queued == 0 {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		if last > 1 && queued < last && !closed {
			s.gather(last)
		}
		s.mu.Lock()
		n := min(len(s.queue), s.maxBatch)
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.mu.Unlock()
		s.commit(batch)
		last = n
	}
}

// gatherWait bounds how long the committer waits for writers to rejoin a batch: well under one fsync'd commit.
const gatherWait = 200 * time.Microsecond

// gather waits until target writes are queued, the store closes, or gatherWait passes.
func (s *Store) gather(target int) {
	timer := time.NewTimer(gatherWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		done := len(s.queue) >= target || s.closed
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-s.wake:
		case <-timer.C:
			return
		}
	}
}

// commit runs a batch in one transaction. If one call fails (returns an error or panics), the transaction is
// rolled back and the others are committed again without it; a call that returned an error is then run again
// alone, in its own transaction, and its caller gets the outcome of that solo run, so an error that came from
// sharing a batch is not reported (bbolt's DB.Batch does the same: safelyCall, trySolo). A call that panicked
// is not run again: its caller gets a PanicError. A failed commit (a full disk) fails every call it carried.
func (s *Store) commit(batch []*call) {
	var solo []*call
	for len(batch) > 0 {
		failed := -1
		var tx *bolt.Tx
		err := s.db.Update(func(t *bolt.Tx) error {
			tx = t
			clear(s.deltas) // a replayed batch starts again from nothing
			for i, c := range batch {
				if err := safelyCall(c.fn, t); err != nil {
					failed = i
					return err
				}
			}
			if err := s.flushCounts(t); err != nil {
				return err
			}
			if s.fault != nil {
				return s.fault()
			}
			return nil
		})
		s.commits.Add(1)
		if failed < 0 {
			s.noteCommit(tx, err)
			s.writes.Add(uint64(len(batch)))
			for _, c := range batch {
				c.done <- err
			}
			break
		}
		if c := batch[failed]; errors.As(err, new(*PanicError)) || len(batch) == 1 {
			c.done <- err
		} else {
			solo = append(solo, c)
		}
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
	for _, c := range solo {
		s.commit([]*call{c})
	}
}

// PanicError is what a write gets when its function panicked inside the group commit: the committer recovers,
// so one bad function fails its own write and nothing else.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the goroutine's stack where it panicked
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in write: %v\n%s", e.Value, e.Stack) }

// safelyCall runs fn, turning a panic into a *PanicError.
func safelyCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(tx)
}

// noteCommit remembers the outcome of a transaction for Healthy: a failed commit is kept until a later one
// that wrote pages succeeds (an empty transaction writes only the meta page, which proves nothing about space).
func (s *Store) noteCommit(tx *bolt.Tx, err error) {
	if err != nil {
		s.lastErr.Store(&commitError{err: err, at: s.now()})
		return
	}
	if tx != nil {
		if st := tx.Stats(); st.GetWrite() > 1 {
			s.lastErr.Store(nil)
		}
	}
}

type commitError struct {
	err error
	at  time.Time
}

// Healthy returns nil, or an error when the last transaction that had something to write failed to commit
// (a full disk, an I/O error): writes are being refused, even if an empty transaction still commits. It
// clears once a transaction that writes pages commits again. It does no I/O.
func (s *Store) Healthy() error {
	if ce := s.lastErr.Load(); ce != nil {
		return fmt.Errorf("last commit failed at %s: %w", ce.at.UTC().Format(time.RFC3339), ce.err)
	}
	return nil
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func jobKey(dest string, seq uint64) []byte {
	k := make([]byte, 0, len(dest)+9)
	k = append(k, dest...)
	k = append(k, 0)
	return append(k, u64(seq)...)
}

func splitJobKey(k []byte) (string, uint64) {
	n := len(k) - 9
	return string(k[:n]), binary.BigEndian.Uint64(k[n+1:])
}

func destPrefix(dest string) []byte { return append([]byte(dest), 0) }

func unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func getJSON(b *bolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// addCount records a change of dest's count of jobs in state (dest "" holds the quarantine size). Changes
// add up in memory and reach the counts bucket once per transaction (flushCounts), so a batch of a thousand
// writes costs a handful of puts, not two each. Only transactions run by update (and Open) call it.
func (s *Store) addCount(_ *bolt.Tx, dest, state string, delta int64) error {
	if state == "" || delta == 0 {
		return nil
	}
	if s.deltas == nil {
		s.deltas = map[string]int64{}
	}
	s.deltas[dest+"\x00"+state] += delta
	return nil
}

// flushCounts writes the transaction's accumulated count changes and clears them.
func (s *Store) flushCounts(tx *bolt.Tx) error {
	b := tx.Bucket(bCounts)
	for k, delta := range s.deltas {
		if delta == 0 {
			continue
		}
		var v int64
		if old := b.Get([]byte(k)); old != nil {
			v = int64(binary.BigEndian.Uint64(old))
		}
		if v += delta; v < 0 {
			v = 0
		}
		if err := b.Put([]byte(k), u64(uint64(v))); err != nil {
			return err
		}
	}
	clear(s.deltas)
	return nil
}

// Ping proves the store is open and writable. While the last commit that had something to write succeeded, it
// is an empty durable write. After a failed one (see Healthy) it returns that error for probeAfter, then
// writes a small record to find out whether pages can be written again (so that a disk with room again is
// noticed without waiting for traffic). A success there says a small write fits, not that every write will.
func (s *Store) Ping() error {
	ce := s.lastErr.Load()
	if ce == nil {
		if err := s.update(func(tx *bolt.Tx) error { return nil }); err != nil {
			return err
		}
		return s.Healthy() // another write may have failed meanwhile
	}
	now := s.now()
	if now.Sub(ce.at) < probeAfter {
		return s.Healthy()
	}
	if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(keyProbe, u64(uint64(now.UnixNano()))) }); err != nil {
		return err
	}
	return s.Healthy()
}

// probeAfter is how long after a failed commit Ping reports it without trying to write.
const probeAfter = 10 * time.Second

// keyProbe in the meta bucket is rewritten by Ping after a failed commit, to test whether pages can be written.
var keyProbe = []byte("probe")
