package connector

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

func TestRetryPolicy(t *testing.T) {
	now := time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC)
	lim := SyncConfig{MaxAttempts: 3, MaxAge: time.Hour, BackoffBase: 2 * time.Second, BackoffCap: time.Minute}
	noJitter := func(n int64) int64 { return n - 1 } // the ceiling, minus a nanosecond
	fresh := store.Job{Created: now.Add(-time.Minute)}
	old := store.Job{Created: now.Add(-2 * time.Hour), Attempts: 2}
	reset := now.Add(6 * time.Hour)
	for _, tc := range []struct {
		name string
		err  error
		a    attempt
		want verdict
	}{{
		name: "429 waits Retry-After, no attempt, slows once",
		err:  crmtest.RateLimit(5 * time.Second), a: attempt{Job: fresh, Sent: true},
		want: verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: now.Add(5 * time.Second), Error: crmtest.RateLimit(5 * time.Second).Error()},
			Effect: effect{Error: crmtest.RateLimit(5 * time.Second).Error(), RateLimited: true, Limit: "requests", NotBefore: now.Add(5 * time.Second)}},
	}, {
		name: "429 without Retry-After waits a second",
		err:  crmtest.RateLimit(0), a: attempt{Job: fresh},
		want: verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: now.Add(time.Second), Error: crmtest.RateLimit(0).Error()},
			Effect: effect{Error: crmtest.RateLimit(0).Error(), RateLimited: true, Limit: "requests", NotBefore: now.Add(time.Second)}},
	}, {
		name: "daily cap pauses until the reset",
		err:  crmtest.DailyCap(reset), a: attempt{Job: old},
		want: verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: reset, Error: crmtest.DailyCap(reset).Error()},
			Effect: effect{Error: crmtest.DailyCap(reset).Error(), RateLimited: true, Limit: "requests",
				Pause: "daily API limit reached: " + crmtest.DailyCap(reset).Error(), PauseUntil: reset}},
	}, {
		name: "bad credentials pause for a probe",
		err:  crmtest.ErrAuth, a: attempt{Job: fresh},
		want: verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: now, Error: crmtest.ErrAuth.Error()},
			Effect: effect{Error: crmtest.ErrAuth.Error(), Pause: crmtest.ErrAuth.Error(), PauseUntil: now.Add(pauseProbe), PauseConfig: true}},
	}, {
		name: "permanent dies at once",
		err:  crmtest.ErrBadInput, a: attempt{Job: fresh, Sent: true},
		want: verdict{Outcome: store.Outcome{State: store.Dead, Attempted: true, Sent: true, Error: crmtest.ErrBadInput.Error()},
			Effect: effect{Error: crmtest.ErrBadInput.Error()}},
	}, {
		name: "contact gone forgets the contact and retries",
		err:  crmtest.ErrGone, a: attempt{Job: fresh, Sent: true, ContactID: "c1"},
		want: verdict{Outcome: store.Outcome{State: store.Retrying, Attempted: true, Sent: true, NextAttempt: now.Add(2*time.Second + 100*time.Millisecond - 1),
			Error: crmtest.ErrGone.Error()}, Effect: effect{Error: crmtest.ErrGone.Error()}, Forget: "c1"},
	}, {
		name: "a sent write that timed out is retried as ambiguous",
		err:  crmtest.ErrTimeout, a: attempt{Job: store.Job{Created: now, Attempts: 1}, Sent: true},
		want: verdict{Outcome: store.Outcome{State: store.Retrying, Attempted: true, Sent: true, Ambiguous: true,
			NextAttempt: now.Add(4*time.Second + 100*time.Millisecond - 1), Error: crmtest.ErrTimeout.Error()},
			Effect: effect{Error: crmtest.ErrTimeout.Error()}},
	}, {
		name: "past both limits gives up",
		err:  crmtest.ErrServer, a: attempt{Job: old},
		want: verdict{Outcome: store.Outcome{State: store.Dead, Attempted: true, Error: "gave up after 3 attempts: " + crmtest.ErrServer.Error()},
			Effect: effect{Error: crmtest.ErrServer.Error()}},
	}, {
		name: "past the attempts but young retries",
		err:  crmtest.ErrServer, a: attempt{Job: store.Job{Created: now, Attempts: 5}},
		want: verdict{Outcome: store.Outcome{State: store.Retrying, Attempted: true, NextAttempt: now.Add(time.Minute + 100*time.Millisecond - 1),
			Error: crmtest.ErrServer.Error()}, Effect: effect{Error: crmtest.ErrServer.Error()}},
	}, {
		name: "an ambiguous create waits for the index",
		err:  crmtest.ErrTimeout, a: attempt{Job: fresh, Create: true},
		want: verdict{Outcome: store.Outcome{State: store.Retrying, Attempted: true, NextAttempt: now.Add(contactIndexLag),
			Error: crmtest.ErrTimeout.Error()}, Effect: effect{Error: crmtest.ErrTimeout.Error()}},
	}, {
		name: "a cancelled create waits for the index, no attempt",
		err:  context.Canceled, a: attempt{Job: fresh, Create: true},
		want: verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: now.Add(contactIndexLag), Error: crm.Classify(context.Canceled).Error()},
			Effect: effect{Error: crm.Classify(context.Canceled).Error()}},
	}, {
		name: "already there is done",
		err:  &crm.Error{Action: crm.Done, ID: "r9"}, a: attempt{Job: fresh, Sent: true},
		want: verdict{Outcome: store.Outcome{State: store.Done, Attempted: true, Sent: true, RecordID: "r9"},
			Effect: effect{Error: (&crm.Error{Action: crm.Done, ID: "r9"}).Error()}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := retryPolicy(tc.err, tc.a, now, lim, noJitter)
			if diff := cmp.Diff(got, tc.want, cmp.AllowUnexported(verdict{}, effect{})); diff != "" {
				t.Errorf("retryPolicy(%v) (-got +want):\n%s", tc.err, diff)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	top := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {10, 30 * time.Second}, {100, 30 * time.Second}} {
		if got := backoff(tc.attempt, time.Second, 30*time.Second, top); got != tc.want+100*time.Millisecond-1 {
			t.Errorf("backoff(%d) ceiling = %v, want %v", tc.attempt, got, tc.want+100*time.Millisecond-1)
		}
		if got := backoff(tc.attempt, time.Second, 30*time.Second, func(int64) int64 { return 0 }); got != 100*time.Millisecond {
			t.Errorf("backoff(%d) floor = %v, want 100ms", tc.attempt, got)
		}
	}
}
