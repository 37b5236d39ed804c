package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// holdCommitter occupies the group committer with a write that waits until release is called, so that the
// writes queued meanwhile share the next commit.
func holdCommitter(tb testing.TB, s *Store) (release func()) {
	tb.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.update(func(*bolt.Tx) error {
			select {
			case <-running:
			default:
				close(running)
			}
			<-unblock
			return nil
		})
	}()
	<-running
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			tb.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued polls until n writes wait for the committer.
func waitQueued(tb testing.TB, s *Store, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		q := len(s.queue)
		s.mu.Unlock()
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d writes queued after 10s, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queueWrites starts one s.update per function and returns a channel per function with its result.
func queueWrites(s *Store, fns ...func(*bolt.Tx) error) []chan error {
	out := make([]chan error, len(fns))
	for i, fn := range fns {
		out[i] = make(chan error, 1)
		go func() { out[i] <- s.update(fn) }()
	}
	return out
}

func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte(key), []byte("v")) }
}

func stored(tb testing.TB, s *Store, key string) bool {
	tb.Helper()
	var ok bool
	if err := s.db.View(func(tx *bolt.Tx) error { ok = tx.Bucket(bMeta).Get([]byte(key)) != nil; return nil }); err != nil {
		tb.Fatal(err)
	}
	return ok
}

func TestCommitterSurvivesPanic(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	release := holdCommitter(t, s)
	res := queueWrites(s, put("t-a"), func(*bolt.Tx) error { panic("boom") }, put("t-b"))
	waitQueued(t, s, 3)
	release()
	for i, want := range []string{"t-a", "", "t-b"} {
		err := <-res[i]
		if want == "" {
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "commit_test.go") {
				t.Errorf("panicking write returned %v, want a PanicError with value boom and its stack", err)
			}
			continue
		}
		if err != nil || !stored(t, s, want) {
			t.Errorf("write %s sharing a commit with a panic: err %v, stored %v; want nil, true", want, err, stored(t, s, want))
		}
	}
	if err := s.update(put("t-after")); err != nil || !stored(t, s, "t-after") {
		t.Errorf("write after the panic: %v", err)
	}
}

func TestCommitterRunsFailingWriteAlone(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), newClock())
	release := holdCommitter(t, s)
	// flaky fails when it runs with others (the first time), and succeeds alone; broken always fails.
	var flakyRuns atomic.Int32
	flaky := func(tx *bolt.Tx) error {
		if flakyRuns.Add(1) == 1 {
			return errors.New("conflict with a neighbour")
		}
		return put("t-flaky")(tx)
	}
	errBroken := errors.New("broken")
	broken := func(tx *bolt.Tx) error {
		if err := put("t-broken")(tx); err != nil {
			return err
		}
		return errBroken
	}
	res := queueWrites(s, put("t-a"), flaky, put("t-b"), broken, put("t-c"))
	waitQueued(t, s, 5)
	commits, _ := s.CommitStats()
	release()
	for i, key := range []string{"t-a", "t-flaky", "t-b", "", "t-c"} {
		err := <-res[i]
		if key == "" {
			if !errors.Is(err, errBroken) || stored(t, s, "t-broken") {
				t.Errorf("failing write: err %v, its put stored %v; want %v, false", err, stored(t, s, "t-broken"), errBroken)
			}
			continue
		}
		if err != nil || !stored(t, s, key) {
			t.Errorf("write %s: err %v, stored %v; want nil, true", key, err, stored(t, s, key))
		}
	}
	// One commit held, then: batch fails on flaky, fails on broken, commits; flaky alone; broken alone.
	if after, _ := s.CommitStats(); after-commits > 6 {
		t.Errorf("%d transactions for 5 writes with 2 failures, want at most 6", after-commits)
	}
	if err := s.update(put("t-after")); err != nil {
		t.Errorf("write after failures: %v", err)
	}
}

func TestHealthyReportsFailedCommits(t *testing.T) {
	var full atomic.Bool
	errFull := errors.New("no space left on device")
	clk := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "db"), Options{Now: clk.Now, fault: func() error {
		if full.Load() {
			return errFull
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := s.Enqueue(sms("1"), []string{"d"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping on a healthy store: %v", err)
	}
	full.Store(true)
	if _, _, err := s.Enqueue(sms("2"), []string{"d"}); !errors.Is(err, errFull) {
		t.Fatalf("Enqueue on a full disk = %v, want %v", err, errFull)
	}
	if err := s.Healthy(); !errors.Is(err, errFull) {
		t.Errorf("Healthy after a failed commit = %v, want %v", err, errFull)
	}
	if err := s.Ping(); !errors.Is(err, errFull) {
		t.Errorf("Ping while commits fail = %v, want %v", err, errFull)
	}
	full.Store(false)
	if err := s.update(func(*bolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(); !errors.Is(err, errFull) {
		t.Errorf("Healthy after an empty commit = %v, want %v still (an empty commit proves nothing about space)", err, errFull)
	}
	if err := s.Ping(); !errors.Is(err, errFull) {
		t.Errorf("Ping just after a failed commit = %v, want %v until probeAfter passes", err, errFull)
	}
	clk.Add(probeAfter)
	if err := s.Ping(); err != nil {
		t.Errorf("Ping once the disk has room = %v, want nil", err)
	}
	if err := s.Healthy(); err != nil {
		t.Errorf("Healthy after a successful commit = %v, want nil", err)
	}
}

// TestPingFailsWhenFull fills the file to MaxSize (a full disk): readiness must then say so, even though an
// empty transaction still commits.
func TestPingFailsWhenFull(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "db"), Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	big := make([]byte, 300<<10)
	var failed error
	for i := 0; i < 20 && failed == nil; i++ {
		ev := sms(fmt.Sprint(i))
		ev.Raw = big
		_, _, failed = s.Enqueue(ev, []string{"d"})
	}
	if failed == nil {
		t.Fatal("Enqueue past MaxSize kept succeeding")
	}
	if err := s.Ping(); err == nil {
		t.Errorf("Ping after a write failed on a full file = nil, want an error (last failure: %v)", failed)
	}
}
