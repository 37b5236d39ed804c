package page

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// fakeBackend is a Backend held in memory, recording the actions it was asked for.
type fakeBackend struct {
	mu         sync.Mutex
	overview   Overview
	dead       []DeadLetter
	quarantine []Quarantined
	found      []Found
	preview    Preview
	retried    []DeadRef
	dropped    []DeadRef
	requeued   []uint64
	qdropped   []uint64
	overviews  int
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newFake() *fakeBackend {
	return &fakeBackend{
		overview: Overview{
			Receiver: Receiver{LastEvent: t0.Add(-time.Minute), Quarantined: 1},
			Destinations: []Destination{
				{Name: "hubspot", Type: "hubspot", Pending: 3, Retrying: 1, Dead: 2, OldestPending: t0.Add(-90 * time.Second),
					Rates: []Rate{{Kind: "write", Current: 5, Limit: 10}}, DeliveredKnown: true, DeliveredHour: 12, DeliveredDay: 240},
				{Name: "sf", Type: "salesforce", Paused: true, PauseReason: "INVALID_SESSION_ID: <b>expired</b>",
					LastError: `pause (HTTP 401) INVALID_SESSION_ID: <img src=x onerror="document.title='pwned'">`},
			},
		},
		dead: []DeadLetter{
			{DeadRef: DeadRef{"hubspot", 7}, OnoffID: "sms-7", Attempts: 5, Received: t0.Add(-time.Hour), Died: t0.Add(-30 * time.Minute),
				Failure: Failure{Message: "permanent (HTTP 400) VALIDATION_ERROR: <i>bad</i> property", Status: 400, Code: "VALIDATION_ERROR", Kind: "permanent"},
				SMS: SMS{Date: t0.Add(-time.Hour), Direction: "RECEIVED", UserName: "Ada", UserNumber: "+33612345678", External: "+447700900123",
					ExtName: "Bob", Body: "<script>document.title='pwned'</script>hello"}},
			{DeadRef: DeadRef{"hubspot", 9}, OnoffID: "sms-9", Attempts: 8, Received: t0.Add(-time.Hour), Died: t0.Add(-20 * time.Minute),
				Failure: Failure{Message: "retry (HTTP 503): unavailable", Status: 503, Kind: "retry"},
				SMS:     SMS{Date: t0.Add(-time.Hour), Direction: "SENT", UserNumber: "+33612345678", External: "+33700000000", Body: "see you"}},
		},
		quarantine: []Quarantined{
			{Seq: 4, OnoffID: "sms-4", Status: "quarantined", Received: t0.Add(-2 * time.Hour),
				Problems: map[string]string{"externalNumber": "not a phone number: <svg onload=alert(1)>"},
				Raw:      `{"eventName":"SMS","body":"</pre><script>document.title='pwned'</script>"}`},
		},
	}
}

func (f *fakeBackend) Overview(context.Context) (Overview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overviews++
	ov := f.overview
	ov.Destinations = slices.Clone(ov.Destinations)
	return ov, nil
}

func (f *fakeBackend) setPending(dest string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.overview.Destinations {
		if f.overview.Destinations[i].Name == dest {
			f.overview.Destinations[i].Pending = n
		}
	}
}

func (f *fakeBackend) DeadLetters(_ context.Context, flt DeadFilter) ([]DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []DeadLetter
	for _, d := range f.dead {
		if (flt.Destination == "" || flt.Destination == d.Destination) && (flt.Code == "" || flt.Code == codeOf(d.Failure)) &&
			(flt.OnoffID == "" || flt.OnoffID == d.OnoffID) && (flt.Number == "" || strings.Contains(d.SMS.External, flt.Number)) {
			out = append(out, d)
		}
	}
	if flt.Limit > 0 && len(out) > flt.Limit {
		out = out[:flt.Limit]
	}
	return out, nil
}

func (f *fakeBackend) act(refs []DeadRef, log *[]DeadRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range refs {
		*log = append(*log, r)
		i := slices.IndexFunc(f.dead, func(d DeadLetter) bool { return d.DeadRef == r })
		if i >= 0 {
			f.dead = slices.Delete(f.dead, i, i+1)
			n++
		}
	}
	return n
}

func (f *fakeBackend) RetryDead(_ context.Context, refs []DeadRef) (int, error) {
	return f.act(refs, &f.retried), nil
}

func (f *fakeBackend) DropDead(_ context.Context, refs []DeadRef) (int, error) {
	return f.act(refs, &f.dropped), nil
}

func (f *fakeBackend) actions() (retried, dropped []DeadRef, requeued, qdropped []uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.retried), slices.Clone(f.dropped), slices.Clone(f.requeued), slices.Clone(f.qdropped)
}

func (f *fakeBackend) Quarantine(context.Context, int) ([]Quarantined, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.quarantine)
	for i := range out {
		out[i].Raw = ""
	}
	return out, nil
}

func (f *fakeBackend) QuarantinedEvent(_ context.Context, seq uint64) (Quarantined, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.quarantine {
		if q.Seq == seq {
			return q, nil
		}
	}
	return Quarantined{}, fmt.Errorf("quarantined event %d: %w", seq, ErrNotFound)
}

func (f *fakeBackend) Requeue(_ context.Context, seq uint64) (Quarantined, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requeued = append(f.requeued, seq)
	for i, q := range f.quarantine {
		if q.Seq == seq {
			f.quarantine = slices.Delete(f.quarantine, i, i+1)
			q.Status, q.Problems = "accepted", nil
			return q, nil
		}
	}
	return Quarantined{}, fmt.Errorf("quarantined event %d: %w", seq, ErrNotFound)
}

func (f *fakeBackend) DropQuarantined(_ context.Context, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.qdropped = append(f.qdropped, seq)
	for i, q := range f.quarantine {
		if q.Seq == seq {
			f.quarantine = slices.Delete(f.quarantine, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("quarantined event %d: %w", seq, ErrNotFound)
}

func (f *fakeBackend) Find(_ context.Context, q string, _ int) ([]Found, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Found
	for _, fd := range f.found {
		if fd.OnoffID == q || fd.SMS.External == q {
			out = append(out, fd)
		}
	}
	return out, nil
}

func (f *fakeBackend) Preview(_ context.Context, dest string, payload []byte) (Preview, error) {
	if dest != "hubspot" && dest != "sf" {
		return Preview{}, fmt.Errorf("destination %q: %w", dest, ErrNotFound)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(payload)), "{") {
		return Preview{Errors: []string{"body: not JSON: " + string(payload)}}, nil
	}
	return Preview{Mapping: "built-in default", Result: `{"hs_communication_body": ` + fmt.Sprintf("%q", string(payload)) + `}`}, nil
}

// parkingFake is a fake that can park.
type parkingFake struct{ *fakeBackend }

func (parkingFake) Parked(context.Context, int) ([]Parked, error) {
	return []Parked{{DeadRef: DeadRef{"hubspot", 11}, OnoffID: "sms-11", Reason: "no contact", Since: t0}}, nil
}
