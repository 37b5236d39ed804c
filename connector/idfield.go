package connector

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
)

// idFieldRetry is how long a loop waits before asking the CRM again about an "auto" id field after the CRM
// could not answer; meanwhile it logs without an id field.
const idFieldRetry = time.Minute

// autoIDField is a loop's answer to `activity.id_field: auto`: what the adapter said the CRM has, asked once
// at start and again after each mapping reload.
type autoIDField struct {
	status  atomic.Pointer[crm.IDFieldStatus] // nil: not asked since the last reload
	retryAt atomic.Int64                      // unix ns before which not to ask again after a failure
}

// forget makes the next batch ask the CRM again (a reload: an admin may have run `onoffsync setup` since).
func (a *autoIDField) forget() {
	a.status.Store(nil)
	a.retryAt.Store(0)
}

// currentMapping is the mapping for a batch: the loaded one, its "auto" id fields resolved by asking the
// adapter (crm.IDFieldResolver) once; an adapter that cannot tell resolves them to none. While the CRM
// cannot answer, auto means no id field, and it is asked again after idFieldRetry.
func (l *loop) currentMapping(ctx context.Context) *mapping.Mapping {
	m := l.mapping.Load()
	if !m.IDFieldAuto() {
		return m
	}
	if st := l.autoID.status.Load(); st != nil {
		return m.ResolveIDField(*st)
	}
	now := l.s.clock.Now()
	if now.UnixNano() < l.autoID.retryAt.Load() {
		return m
	}
	st, err := ResolveIDField(ctx, l.client)
	if err != nil {
		l.log.Warn("cannot tell whether the CRM has the id field; logging without one for now", "err", err, "retry_in", idFieldRetry)
		l.autoID.retryAt.Store(now.Add(idFieldRetry).UnixNano())
		return m
	}
	l.autoID.status.Store(&st)
	l.log.Info("activity.id_field auto resolved", "sms", IDPath(st.SMS), "calls", IDPath(st.Call))
	return m.ResolveIDField(st)
}

// ResolveIDField asks client which id field `activity.id_field: auto` uses; an adapter that cannot tell
// (crm.IDFieldResolver) has none.
func ResolveIDField(ctx context.Context, client crm.Client) (crm.IDFieldStatus, error) {
	r, ok := client.(crm.IDFieldResolver)
	if !ok {
		return crm.IDFieldStatus{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := r.ResolveIDField(ctx)
	if err != nil {
		return st, fmt.Errorf("resolve id field: %w", err)
	}
	return st, nil
}

// IDPath says which path an id field gives against duplicates: "id field NAME (exact)", or "content look-up"
// for none.
func IDPath(field string) string {
	if field == "" {
		return "content look-up"
	}
	return "id field " + field + " (exact)"
}
