package connector

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/onoffsync/onoffsync/crm"
)

// throttle is a destination's crm.Throttle: one token bucket per limit kind, seeded from the CRM's documented
// limits (or config), slowed multiplicatively when the CRM answers with a rate limit and recovered additively
// while it does not.
type throttle struct {
	mu    sync.Mutex
	kinds map[string]*kindLimit
	clock Clock // the loop's: tokens refill and waits end on it, so tests with a fake clock can check rates
}

type kindLimit struct {
	lim      *rate.Limiter
	base     rate.Limit
	lastCut  time.Time
	lastGrow time.Time
}

// recoverEvery is how often a slowed limit regains a tenth of its configured rate.
const recoverEvery = 10 * time.Second

func newThrottle(limits []crm.RateLimit, clock Clock) *throttle {
	t := &throttle{kinds: map[string]*kindLimit{}, clock: clock}
	t.setLimits(limits)
	return t
}

// setLimits (re)seeds the token buckets, one per kind.
func (t *throttle) setLimits(limits []crm.RateLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range limits {
		burst := l.Burst
		if burst < 1 {
			burst = 1
		}
		t.kinds[l.Kind] = &kindLimit{lim: rate.NewLimiter(rate.Limit(l.Rate), burst), base: rate.Limit(l.Rate)}
	}
}

// Wait blocks until a call of kind may go; kinds with no configured limit pass at once.
func (t *throttle) Wait(ctx context.Context, kind string) error {
	t.mu.Lock()
	k := t.kinds[kind]
	if k != nil {
		t.recover(k)
	}
	t.mu.Unlock()
	if k == nil {
		return ctx.Err()
	}
	now := t.clock.Now()
	r := k.lim.ReserveN(now, 1) // burst is at least 1, so r is OK
	d := r.DelayFrom(now)
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		r.CancelAt(t.clock.Now())
		return ctx.Err()
	case <-t.clock.After(d):
		return nil
	}
}

// recover raises a slowed limit by a tenth of its base per recoverEvery since the last change.
func (t *throttle) recover(k *kindLimit) {
	cur := k.lim.Limit()
	if cur >= k.base {
		return
	}
	now := t.clock.Now()
	from := k.lastGrow
	if k.lastCut.After(from) {
		from = k.lastCut
	}
	steps := int(now.Sub(from) / recoverEvery)
	if steps <= 0 {
		return
	}
	next := cur + rate.Limit(steps)*k.base/10
	if next > k.base {
		next = k.base
	}
	k.lim.SetLimitAt(now, next)
	k.lastGrow = now
}

// slowDown halves kind's rate (not below a twentieth of its base); kind "" slows every kind.
func (t *throttle) slowDown(kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	for name, k := range t.kinds {
		if kind != "" && name != kind {
			continue
		}
		next := k.lim.Limit() / 2
		if min := k.base / 20; next < min {
			next = min
		}
		k.lim.SetLimitAt(now, next)
		k.lastCut = now
	}
}

// rates reports the current rate per kind, for status.
func (t *throttle) rates() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for name, k := range t.kinds {
		t.recover(k)
		out[name] = float64(k.lim.Limit())
	}
	return out
}

// limits reports the configured rate per kind (what rates recovers to), for status.
func (t *throttle) limits() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for name, k := range t.kinds {
		out[name] = float64(k.base)
	}
	return out
}
