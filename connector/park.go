package connector

import (
	"context"
	"time"

	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// recheckShare is the fraction of a destination's search rate that rechecks of parked SMS may use. The rest
// is left to live SMS, which moreover never wait behind more than one recheck batch: the loop rechecks only
// when no live job is due, one batch at a time.
const recheckShare = 0.5

// recheck matches one batch of due parked jobs again (at most Limits().SearchBatch jobs, so at most one search
// call per match key), when their share of the search budget allows, and records the outcomes: a job whose
// contact is found goes back to pending (the live path then logs it, with the SMS's own date, finding the
// contact in the cache); one still unmatched is parked until its next recheck; one whose park_for has run out,
// or whose mapping no longer parks, goes back to pending for the live path to apply park_then (or the new
// policy). A failed search leaves the batch parked. It returns when to call again: zero when nothing is
// parked, now when the loop should look again at once.
func (l *loop) recheck(ctx context.Context, now time.Time) time.Time {
	if now.Before(l.recheckAt) {
		return l.recheckAt
	}
	m := l.currentMapping(ctx)
	claimed, next, err := l.s.store.DueParked(l.dest.Name, now, max(l.client.Limits().SearchBatch, 1))
	if err != nil {
		l.log.Error("read parked jobs", "err", err)
		return now.Add(time.Second)
	}
	if len(claimed) == 0 {
		return next
	}
	_, ws, _ := l.prepare(m, claimed, now) // parked jobs were never logged, so none has a contact update left
	var match []*work
	for _, w := range ws {
		switch {
		case w.done: // no longer parses, or a skip rule now applies
		case w.m.NoMatch() != mapping.NoMatchPark || w.expired:
			w.decide(store.Outcome{State: store.Pending, NextAttempt: now})
		default:
			match = append(match, w)
		}
	}
	before := l.searches
	l.matchContacts(ctx, m, match, now)
	for _, w := range match {
		switch {
		case w.contact != nil:
			w.decide(store.Outcome{State: store.Pending, NextAttempt: now})
		case !w.done:
			w.decide(store.Outcome{State: store.Parked, NextAttempt: now.Add(w.m.ParkRecheck()), Error: w.c.Job.LastError})
		default:
			// The search failed or was stalled by a rate limit or pause: stay parked, and try again when
			// the retry policy says (a permanent failure: at the next recheck).
			at := now.Add(w.m.ParkRecheck())
			if w.out.State != store.Dead {
				at = later(w.out.NextAttempt, w.c.Job.NextAttempt)
			}
			w.decide(store.Outcome{State: store.Parked, NextAttempt: at, Error: w.out.Error})
		}
	}
	outs := make([]store.Outcome, len(ws))
	for i, w := range ws {
		w.out.Recheck = true
		outs[i] = w.out
	}
	l.record(ctx, outs)
	end := l.s.clock.Now()
	l.recheckAt = end
	if spent, rate := l.searches-before, l.searchRate(); spent > 0 && rate > 0 {
		l.recheckAt = end.Add(time.Duration(float64(spent) / (recheckShare * rate) * float64(time.Second)))
	}
	return l.recheckAt
}

// searchRate is the current rate of the tightest limit searches count against ("search", or "requests" for
// every call), per second; 0 when the adapter declares neither.
func (l *loop) searchRate() float64 {
	rates := l.throttle.rates()
	rate := 0.0
	for _, kind := range []string{"search", "requests"} {
		if r, ok := rates[kind]; ok && r > 0 && (rate == 0 || r < rate) {
			rate = r
		}
	}
	return rate
}
