package connector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// pauseProbe is how long a destination paused "until the config is fixed" waits before one probing batch.
const pauseProbe = 5 * time.Minute

// contactIndexLag is how long a contact created by a request whose answer was lost may stay invisible to
// search: HubSpot's index takes about a minute, Salesforce's one to three.
const contactIndexLag = 3 * time.Minute

// attempt is what the retry policy knows about one job a failed CRM call carried.
type attempt struct {
	Job  store.Job
	Sent bool // the failed call carried the job's activity (a write), so it may have been applied
	// Create says the failed call created the job's contact: an ambiguous answer waits for the index.
	Create bool
	// ContactID is the contact the activity was written on, "" if none.
	ContactID string
}

// verdict is the retry policy's answer for one job: its next state, and what the CRM's answer does to the
// destination as a whole. The loop records Outcome per job and applies Effect once per CRM call.
type verdict struct {
	Outcome store.Outcome
	Effect  effect
	// Forget is a cached contact the CRM says is gone: the loop evicts it so the next attempt matches again.
	Forget string
}

// effect is what one CRM answer does to its destination, applied once per call whatever the number of jobs
// it carried.
type effect struct {
	Error       string    // the answer, for status; "" for none
	RateLimited bool      // a rate-limit answer: count it and slow Limit down once
	Limit       string    // the limit kind to slow ("" every kind)
	NotBefore   time.Time // no CRM call before (a short rate-limit window)
	Pause       string    // pause the destination for this reason; "" for no pause
	PauseUntil  time.Time // when a probe batch may go (the limit's reset, or pauseProbe)
	// PauseConfig says the pause lasts until the configuration or credentials are fixed (no reset time is
	// known): a reload lifts it. A daily cap or a quota with a reset time waits for its reset.
	PauseConfig bool
}

// retryPolicy decides what happens after a failed CRM call, in the style of go-retryablehttp's CheckRetry
// and Backoff: it only decides, and touches nothing. now is when the answer came. Rate limits and pauses do
// not count as attempts; a job dies only on a permanent error, or when both its attempts and its age are past
// the limits. jitter(n) returns a random duration in [0, n); nil means math/rand.
func retryPolicy(err error, a attempt, now time.Time, lim SyncConfig, jitter func(n int64) int64) verdict {
	e := crm.Classify(err)
	j := a.Job
	msg := e.Error()
	if errors.Is(err, context.Canceled) {
		next := now
		if a.Create {
			next = now.Add(contactIndexLag) // the create may have landed: as below
		}
		return verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: next, Ambiguous: j.Ambiguous || a.Sent,
			Sent: a.Sent, Error: msg}, Effect: effect{Error: msg}}
	}
	eff := effect{Error: msg}
	var forget string
	switch e.Action {
	case crm.Done:
		return verdict{Outcome: store.Outcome{State: store.Done, Attempted: true, Sent: a.Sent, RecordID: e.ID}, Effect: eff}
	case crm.RateLimited:
		until := now.Add(max(e.RetryAfter, time.Second))
		if !e.Until.IsZero() {
			until = e.Until
		}
		eff.RateLimited, eff.Limit = true, e.Limit
		if e.Daily {
			eff.Pause, eff.PauseUntil = "daily API limit reached: "+msg, until
		} else {
			eff.NotBefore = until
		}
		return verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: until, Error: msg, Ambiguous: j.Ambiguous}, Effect: eff}
	case crm.Pause:
		until := e.Until
		if until.IsZero() {
			until = now.Add(pauseProbe)
		}
		eff.Pause, eff.PauseUntil, eff.PauseConfig = msg, until, e.Until.IsZero()
		return verdict{Outcome: store.Outcome{State: store.Pending, NextAttempt: now, Error: msg, Ambiguous: j.Ambiguous}, Effect: eff}
	case crm.Permanent:
		if e.Code != crm.CodeContactGone || a.ContactID == "" {
			return verdict{Outcome: store.Outcome{State: store.Dead, Attempted: true, Sent: a.Sent, Error: msg}, Effect: eff}
		}
		forget = a.ContactID // retry: the next attempt matches again
	}
	attempts := j.Attempts + 1
	if attempts >= lim.MaxAttempts && now.Sub(j.Created) >= lim.MaxAge {
		return verdict{Outcome: store.Outcome{State: store.Dead, Attempted: true, Sent: a.Sent,
			Error: fmt.Sprintf("gave up after %d attempts: %s", attempts, msg)}, Effect: eff, Forget: forget}
	}
	next := now.Add(max(backoff(attempts, lim.BackoffBase, lim.BackoffCap, jitter), e.RetryAfter))
	if a.Create && e.Ambiguous() {
		// The contact may exist already: search again only once the CRM's index can show it, or the retry
		// creates it a second time.
		next = later(next, now.Add(contactIndexLag))
	}
	return verdict{Outcome: store.Outcome{State: store.Retrying, Attempted: true, Sent: a.Sent, NextAttempt: next,
		Error: msg, Ambiguous: a.Sent && e.Ambiguous()}, Effect: eff, Forget: forget}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// backoff is exponential backoff with full jitter: a random wait up to base*2^(attempt-1), capped, plus 100 ms.
func backoff(attempt int, base, cap time.Duration, jitter func(n int64) int64) time.Duration {
	if jitter == nil {
		jitter = rand.Int64N
	}
	ceil := cap
	if attempt < 40 {
		if d := base << (attempt - 1); d > 0 && d < cap {
			ceil = d
		}
	}
	return time.Duration(jitter(int64(ceil))) + 100*time.Millisecond
}
