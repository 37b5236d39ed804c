// Package admin owns the admin API: its service over the store and the live loops, its HTTP routes (one
// table of named handlers), and the client the CLI uses. It sits on connector; connector never imports it.
package admin

import (
	"fmt"
	"sort"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/store"
)

// API is what `onoffsync status|dead|quarantine` do. Service implements it over the data file (when no server
// runs); Client over a running server's admin listener. Errors wrap store.ErrNotFound for unknown ids.
type API interface {
	Status() (Status, error)
	DeadList(dest string, limit int) ([]DeadLetter, error)
	DeadRetry(sel store.Selector) (int, error)
	DeadDrop(sel store.Selector) (int, error)
	ParkedList(dest string, limit int) ([]ParkedSMS, error)
	ParkedRetry(sel store.Selector) (int, error)
	ParkedDrop(sel store.Selector) (int, error)
	QuarantineList(limit int) ([]QuarantinedEvent, error)
	QuarantineShow(seq uint64) (QuarantinedEvent, error)
	QuarantineRequeue(seq uint64) (QuarantinedEvent, error)
	QuarantineDrop(seq uint64) error
	Forget(number, email string) (int, error)
	RequeueIgnoredCalls(since time.Time) (Requeued, error)
}

// Service answers admin requests from the store (and the sync loops' live state when they run).
type Service struct {
	cfg   *connector.Config
	store *store.Store
	sync  *connector.Syncer // nil when no server runs
	now   func() time.Time
}

// New returns a Service over an open store; sync may be nil.
func New(cfg *connector.Config, st *store.Store, sync *connector.Syncer, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, store: st, sync: sync, now: now}
}

// Status is what `onoffsync status --json` prints.
type Status struct {
	Server       string       `json:"server"` // "running", or "offline" when read from the data file
	Destinations []DestStatus `json:"destinations"`
	Quarantine   int64        `json:"quarantine"`
}

// DestStatus is one destination's state.
type DestStatus struct {
	Name             string                `json:"name"`
	Type             string                `json:"type"`
	Counts           map[string]int64      `json:"counts"`
	OldestPending    time.Time             `json:"oldest_pending,omitzero"`
	OldestPendingAge float64               `json:"oldest_pending_age_seconds"`
	Live             *connector.LoopStatus `json:"live,omitempty"` // absent when no server runs
}

// Status reports every configured destination (and any the data file still has jobs for).
func (a *Service) Status() (Status, error) {
	stats, q, err := a.store.Stats()
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	out := Status{Server: "offline", Quarantine: q}
	if a.sync != nil {
		out.Server = "running"
	}
	seen := map[string]bool{}
	add := func(name, typ string) {
		seen[name] = true
		ds := DestStatus{Name: name, Type: typ, Counts: map[string]int64{}}
		for _, s := range store.States {
			ds.Counts[s] = stats[name].Counts[s]
		}
		if t := stats[name].OldestPending; !t.IsZero() {
			ds.OldestPending = t
			ds.OldestPendingAge = a.now().Sub(t).Seconds()
		}
		if a.sync != nil {
			if live, ok := a.sync.Status(name); ok {
				ds.Live = &live
			}
		}
		out.Destinations = append(out.Destinations, ds)
	}
	for _, d := range a.cfg.Destinations {
		add(d.Name, d.Type)
	}
	var gone []string
	for name := range stats {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		add(name, "(not configured)")
	}
	return out, nil
}

// DeadLetter is a dead job as admins see it.
type DeadLetter struct {
	Destination string    `json:"destination"`
	Seq         uint64    `json:"seq"`
	SourceID    string    `json:"onoff_id"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error"`
	Received    time.Time `json:"received"`
	Died        time.Time `json:"died"`
}

// DeadList lists dead jobs of dest ("" for all), oldest first.
func (a *Service) DeadList(dest string, limit int) ([]DeadLetter, error) {
	jobs, err := a.store.DeadLetters(dest, limit)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, DeadLetter{Destination: j.Job.Dest, Seq: j.Job.Seq, SourceID: j.Event.SourceID, Attempts: j.Job.Attempts,
			LastError: j.Job.LastError, Received: j.Event.Received, Died: j.Job.Finished})
	}
	return out, nil
}

// DeadRetry makes the selected dead jobs pending again.
func (a *Service) DeadRetry(sel store.Selector) (int, error) { return a.store.RetryDead(sel) }

// DeadDrop deletes the selected dead jobs.
func (a *Service) DeadDrop(sel store.Selector) (int, error) { return a.store.DropDead(sel) }

// ParkedSMS is a parked job (no contact matched yet) as admins see it.
type ParkedSMS struct {
	Destination string    `json:"destination"`
	Seq         uint64    `json:"seq"`
	SourceID    string    `json:"onoff_id"`
	Received    time.Time `json:"received"`
	Parked      time.Time `json:"parked"`       // when it was first parked; park_for counts from here
	NextRecheck time.Time `json:"next_recheck"` // when the sync loop matches it again
	LastError   string    `json:"last_error,omitempty"`
}

// ParkedList lists parked jobs of dest ("" for all), in the order they are rechecked.
func (a *Service) ParkedList(dest string, limit int) ([]ParkedSMS, error) {
	jobs, err := a.store.ParkedJobs(dest, limit)
	if err != nil {
		return nil, fmt.Errorf("parked: %w", err)
	}
	out := make([]ParkedSMS, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, ParkedSMS{Destination: j.Job.Dest, Seq: j.Job.Seq, SourceID: j.Event.SourceID, Received: j.Event.Received,
			Parked: j.Job.ParkedAt, NextRecheck: j.Job.NextAttempt, LastError: j.Job.LastError})
	}
	return out, nil
}

// ParkedRetry makes the selected parked jobs pending, to be matched again now.
func (a *Service) ParkedRetry(sel store.Selector) (int, error) { return a.store.RetryParked(sel) }

// ParkedDrop deletes the selected parked jobs: they are not logged.
func (a *Service) ParkedDrop(sel store.Selector) (int, error) { return a.store.DropParked(sel) }

// QuarantinedEvent is a quarantined webhook as admins see it.
type QuarantinedEvent struct {
	Seq      uint64            `json:"seq"`
	Status   string            `json:"status"`
	SourceID string            `json:"onoff_id,omitempty"`
	Received time.Time         `json:"received"`
	Problems map[string]string `json:"problems,omitempty"`
	Body     string            `json:"body,omitempty"` // the raw body (show only)
}

func quarantined(e store.Event, withBody bool) QuarantinedEvent {
	q := QuarantinedEvent{Seq: e.Seq, Status: e.Status, SourceID: e.SourceID, Received: e.Received, Problems: e.Problems}
	if withBody {
		q.Body = string(e.Raw)
	}
	return q
}

// QuarantineList lists quarantined events, oldest first.
func (a *Service) QuarantineList(limit int) ([]QuarantinedEvent, error) {
	evs, err := a.store.Quarantine(0, limit)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	out := make([]QuarantinedEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, quarantined(e, false))
	}
	return out, nil
}

// QuarantineShow returns one quarantined event with its raw body.
func (a *Service) QuarantineShow(seq uint64) (QuarantinedEvent, error) {
	e, err := a.store.Event(seq)
	if err == nil && e.Status != store.Quarantined {
		err = store.ErrNotFound
	}
	if err != nil {
		return QuarantinedEvent{}, fmt.Errorf("quarantined event %d: %w", seq, err)
	}
	return quarantined(e, true), nil
}

// QuarantineRequeue re-validates a quarantined event (with today's rules and config): a now-valid SMS or call
// leaves the quarantine and gets one job per destination that syncs its kind.
func (a *Service) QuarantineRequeue(seq uint64) (QuarantinedEvent, error) {
	e, err := a.store.RequeueQuarantined(seq, a.cfg.Revalidate)
	if err != nil {
		return QuarantinedEvent{}, err
	}
	return quarantined(e, false), nil
}

// Requeued is the outcome of RequeueIgnoredCalls.
type Requeued struct {
	Requeued int `json:"requeued"` // events that got jobs
	Left     int `json:"left"`     // ignored events left as they are (still not valid, or no destination syncs them)
}

// RequeueIgnoredCalls syncs the call events stored as ignored (received before calls were synced, or while
// no destination synced calls) at or after since (zero: all): each one valid today gets a job per destination
// whose events include calls. Quarantine-worthy ones stay ignored and are counted in Left.
func (a *Service) RequeueIgnoredCalls(since time.Time) (Requeued, error) {
	n, left, err := a.store.RequeueIgnored(connector.ClassCall, since, a.cfg.Revalidate)
	return Requeued{Requeued: n, Left: left}, err
}

// QuarantineDrop deletes a quarantined event.
func (a *Service) QuarantineDrop(seq uint64) error { return a.store.DropQuarantined(seq) }

// Forget erases every stored event of one person, by the other party's number or email (connector.Forget);
// it fails with connector.ErrBadRequest when it names nobody.
func (a *Service) Forget(number, email string) (int, error) {
	return connector.Forget(a.store, a.sync, a.cfg.Phone.DefaultRegion, number, email)
}
