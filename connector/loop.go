package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// errStalled marks work left undone because an earlier call of the batch hit a rate limit or a pause.
var errStalled = errors.New("stalled by a rate limit or pause")

// ownerTTL is how long an Onoff user's CRM owner is remembered.
const ownerTTL = time.Hour

// loop delivers one destination's jobs.
type loop struct {
	s        *Syncer
	dest     Destination
	client   crm.Client
	mapping  atomic.Pointer[mapping.Mapping]
	throttle *throttle
	wake     chan struct{}
	log      *slog.Logger
	owners   map[string]ownerEntry // only the loop's goroutine touches it
	autoID   autoIDField           // activity.id_field: auto, as the CRM answered (idfield.go)

	mu          sync.Mutex
	paused      bool
	pauseReason string
	pausedUntil time.Time
	notBefore   time.Time // rate limit: no call before
	lastError   string

	recheckAt time.Time // no recheck of parked jobs before: their share of the search budget (loop goroutine only)
	searches  int       // FindContacts calls made (loop goroutine only), to charge rechecks for theirs
}

type ownerEntry struct {
	id      string
	expires time.Time
}

func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) resume() {
	l.mu.Lock()
	if l.paused {
		l.log.Info("destination resumed")
	}
	l.paused, l.pauseReason, l.pausedUntil = false, "", time.Time{}
	l.mu.Unlock()
	l.poke()
}

func (l *loop) isPaused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

func (l *loop) pause(reason string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.paused || l.pauseReason != reason {
		l.log.Error("destination paused", "reason", reason, "until", until)
	}
	l.paused, l.pauseReason, l.pausedUntil = true, reason, until
}

// blockedFor is how long the loop must wait before calling the CRM (pause or rate limit), 0 if not at all.
func (l *loop) blockedFor(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused {
		if now.Before(l.pausedUntil) {
			return l.pausedUntil.Sub(now)
		}
		// the pause ran out: let one batch through as a probe; a failure pauses again
	}
	if now.Before(l.notBefore) {
		return l.notBefore.Sub(now)
	}
	return 0
}

// stalled reports whether a rate limit or pause hit earlier in this batch forbids further CRM calls.
func (l *loop) stalled() bool { return l.blockedFor(l.s.clock.Now()) > 0 }

// handBack returns every job of the batch not yet decided to pending, untouched (no attempt counted), when a
// rate limit or pause stops the batch: none of them may go on without the steps it skipped (a job that needed
// a new contact must not be logged without one).
func handBack(ws []*work, now time.Time) {
	for _, w := range ws {
		if !w.done {
			w.decide(store.Outcome{State: store.Pending, NextAttempt: now, Ambiguous: w.c.Job.Ambiguous})
		}
	}
}

func (l *loop) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-l.s.clock.After(d):
	}
}

func (l *loop) run(ctx context.Context) {
	for ctx.Err() == nil {
		now := l.s.clock.Now()
		if wait := l.blockedFor(now); wait > 0 {
			l.sleep(ctx, wait)
			continue
		}
		jobs, next, err := l.s.store.Claim(l.dest.Name, now, l.client.Limits().WriteBatch)
		if err != nil {
			l.log.Error("claim jobs", "err", err)
			l.sleep(ctx, time.Second)
			continue
		}
		if len(jobs) == 0 {
			// No live work: parked jobs may use their share of the search budget.
			if at := l.recheck(ctx, now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
			if !next.IsZero() && !next.After(now) {
				continue
			}
			wait := time.Hour
			if !next.IsZero() {
				wait = max(next.Sub(now), time.Millisecond)
			}
			l.sleep(ctx, wait)
			continue
		}
		if delivered := l.process(ctx, jobs); delivered > 0 && len(jobs) < l.client.Limits().WriteBatch {
			l.linger(ctx)
		}
	}
}

// lingerFor is how long the loop lets new jobs gather after a batch that was delivered but not full. Under a steady stream
// of webhooks this turns one CRM call (and three commits) per SMS into one per batch; an SMS waits at most
// this much longer, and an idle loop never waits, since it lingers only after work.
const lingerFor = 20 * time.Millisecond

// linger waits lingerFor on the real clock (it paces throughput; no retry logic depends on it), or until ctx ends.
func (l *loop) linger(ctx context.Context) {
	t := time.NewTimer(lingerFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// work is one claimed job on its way through a batch.
type work struct {
	c       store.Claimed
	sms     crm.SMS          // the event: an SMS, or a call (sms.Call set)
	m       *mapping.Mapping // the mapping section for the event's kind (m.For)
	queries []crm.ContactQuery
	contact *crm.Contact
	expired bool // parked for the mapping's park_for without a match: park_then applies
	done    bool // an outcome is decided
	// byContent marks an ambiguous job without an id field whose activity is looked for by content
	// (crm.ContentFinder) once it is rendered, before it is sent again.
	byContent bool
	out       store.Outcome
	act       crm.Activity
	// update is the contact update the mapping's contact_updates render for the job, applied once the
	// activity is logged (updates.go); nil for none.
	update *crm.ContactUpdate
	// foundID is the record an ambiguous earlier attempt left, when the job still has a contact update to
	// apply: the job goes through matching and rendering for it, and is not logged again.
	foundID string
}

func (w *work) decide(o store.Outcome) {
	o.Dest, o.Seq = w.c.Job.Dest, w.c.Job.Seq
	w.out, w.done = o, true
}

// prepare parses claimed jobs' events and applies the skip rules. all is every job; ws the jobs to log;
// resumed the jobs logged already whose contact update remains (updates.go). A job parked for its mapping's
// park_for without a match is marked expired and not matched again: createContacts applies park_then to it.
func (l *loop) prepare(m *mapping.Mapping, claimed []store.Claimed, now time.Time) (all, ws, resumed []*work) {
	all = make([]*work, len(claimed))
	for i, c := range claimed {
		w := &work{c: c}
		all[i] = w
		if len(c.Job.ContactUpdate) > 0 {
			resumed = append(resumed, w)
			continue
		}
		ws = append(ws, w)
		if c.Event.Raw == nil {
			w.decide(store.Outcome{State: store.Dead, Error: "event body was erased (retention) before delivery"})
			continue
		}
		parse := parseSMS
		if c.Event.Class == ClassCall {
			parse = parseCall
		}
		sms, _, problems, err := parse(c.Event.Raw, l.s.cfg.Phone.DefaultRegion, l.s.phones)
		if err != nil || len(problems) > 0 {
			w.decide(store.Outcome{State: store.Dead, Error: fmt.Sprintf("stored event no longer parses: %v %v", err, problems)})
			continue
		}
		w.sms, w.m = sms, m.For(sms)
		if reason := w.m.Skip(sms); reason != "" {
			w.decide(store.Outcome{State: store.Skipped, Error: "skipped: " + reason})
			continue
		}
		w.queries = w.m.Queries(sms)
		if w.m.NoMatch() == mapping.NoMatchPark && !c.Job.ParkedAt.IsZero() && !now.Before(c.Job.ParkedAt.Add(w.m.ParkFor())) {
			w.expired, w.queries = true, nil
		}
	}
	return all, ws, resumed
}

// process delivers a batch of claimed jobs: parse, skip rules, idempotency check, contact matching (cache,
// batched search, create), owner, mapping, one batched write; then records every outcome in one commit. It
// returns how many jobs it delivered.
func (l *loop) process(ctx context.Context, claimed []store.Claimed) int {
	m := l.currentMapping(ctx)
	now := l.s.clock.Now()
	all, ws, resumed := l.prepare(m, claimed, now)
	l.checkAmbiguous(ctx, m, ws, now)
	l.matchContacts(ctx, m, ws, now)
	l.createContacts(ctx, m, ws, now)
	l.render(ctx, m, ws, now)
	l.checkContent(ctx, ws, now)
	l.write(ctx, ws, now)
	l.updateContacts(ctx, m, ws, resumed, now)

	outs := make([]store.Outcome, 0, len(all))
	delivered := 0
	for _, w := range all {
		if w.done && w.out.State == store.Done {
			delivered++
		}
		if !w.done { // only when ctx ended mid-batch: hand the job back untouched
			w.decide(store.Outcome{State: store.Pending, NextAttempt: now, Ambiguous: w.c.Job.Ambiguous})
		}
		outs = append(outs, w.out)
		l.observe(w)
	}
	l.record(ctx, outs)
	return delivered
}

// record commits a batch's outcomes, retrying while the store cannot write (a full disk): until it succeeds
// the jobs stay in flight, and a crash meanwhile brings them back as ambiguous, so nothing is lost.
func (l *loop) record(ctx context.Context, outs []store.Outcome) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 30*time.Second) {
		err := l.s.store.Complete(outs)
		if err == nil {
			return
		}
		l.log.Error("record outcomes; will retry", "err", err, "jobs", len(outs))
		select {
		case <-ctx.Done():
			return
		case <-l.s.clock.After(wait):
		}
	}
}

// checkAmbiguous asks the CRM, for jobs whose last attempt may have been applied, whether their activities
// already exist, once the CRM's index can show them, in as few calls as the adapter allows (after a crash a
// whole batch is ambiguous). With an id field it looks the Onoff ids up here; without one it marks the job
// for checkContent, which looks the rendered activity up by content. An adapter that can do neither gets the
// job sent again.
func (l *loop) checkAmbiguous(ctx context.Context, m *mapping.Mapping, ws []*work, now time.Time) {
	finder, byID := l.client.(crm.ActivityFinder)
	content, byContent := l.client.(crm.ContentFinder)
	if !byID && !byContent {
		return
	}
	var ask []*work
	var probes []crm.Activity
	for _, w := range ws {
		if w.done || !w.c.Job.Ambiguous {
			continue
		}
		probe, err := w.m.Apply(w.sms, nil, "")
		if err != nil {
			continue
		}
		var lag time.Duration
		switch {
		case probe.IDField != "" && byID:
			lag = finder.IndexLag(probe)
		case probe.IDField == "" && byContent:
			lag = content.ContentLag(probe)
		default:
			continue
		}
		if ready := w.c.Job.SentAt.Add(lag); now.Before(ready) {
			w.decide(store.Outcome{State: store.Pending, NextAttempt: ready, Ambiguous: true,
				Error: "waiting for the CRM's index before checking whether the last attempt landed"})
			continue
		}
		if probe.IDField == "" {
			w.byContent = true
			continue
		}
		ask = append(ask, w)
		probes = append(probes, probe)
	}
	// One look-up covers activities of one kind with one id field (a call and an SMS may be different CRM
	// objects, and the calls section may name another id field).
	type kind struct {
		idField string
		call    bool
	}
	var kinds []kind
	groups := map[kind][]int{}
	for i, p := range probes {
		k := kind{p.IDField, p.Call != nil}
		if _, ok := groups[k]; !ok {
			kinds = append(kinds, k)
		}
		groups[k] = append(groups[k], i)
	}
	batch := max(l.client.Limits().WriteBatch, 1)
	for _, k := range kinds {
		idx := groups[k]
		for start := 0; start < len(idx); start += batch {
			part := idx[start:min(start+batch, len(idx))]
			asked, ps := make([]*work, len(part)), make([]crm.Activity, len(part))
			for i, j := range part {
				asked[i], ps[i] = ask[j], probes[j]
			}
			l.count("lookup")
			ids, err := finder.FindActivities(ctx, ps)
			if err == nil && len(ids) != len(ps) {
				err = fmt.Errorf("adapter returned %d results for %d look-ups", len(ids), len(ps))
			}
			if err != nil {
				l.settle(asked, sameErr(err, len(asked)), false, false)
				continue
			}
			for i, w := range asked {
				switch {
				case ids[i] == "":
				case w.sms.Call == nil && w.m.HasContactUpdates():
					w.foundID = ids[i] // logged, but its contact update may not be: on to matching
				default:
					w.decide(store.Outcome{State: store.Done, Attempted: true, RecordID: ids[i]})
				}
			}
		}
	}
}

// checkContent looks up, for the ambiguous jobs checkAmbiguous marked, the activity exactly as rendered now
// (its contact, time and body), in as few calls as the adapter allows: a job whose activity is found is done
// with that record; the others are sent again by write.
func (l *loop) checkContent(ctx context.Context, ws []*work, now time.Time) {
	finder, ok := l.client.(crm.ContentFinder)
	if !ok {
		return
	}
	var ask []*work
	for _, w := range ws {
		if !w.done && w.byContent {
			ask = append(ask, w)
		}
	}
	batch := max(l.client.Limits().WriteBatch, 1)
	for start := 0; start < len(ask); start += batch {
		if ctx.Err() != nil || l.stalled() {
			handBack(ws, now)
			return
		}
		chunk := ask[start:min(start+batch, len(ask))]
		attempts := make([]crm.Attempt, len(chunk))
		for i, w := range chunk {
			since := w.c.Job.FirstSent
			if since.IsZero() {
				since = w.c.Job.Created // stored before FirstSent existed: no attempt was earlier
			}
			attempts[i] = crm.Attempt{Activity: w.act, Since: since}
		}
		l.count("lookup")
		ids, err := finder.FindByContent(ctx, attempts)
		if err == nil && len(ids) != len(chunk) {
			err = fmt.Errorf("adapter returned %d results for %d look-ups", len(ids), len(chunk))
		}
		if err != nil {
			l.settle(chunk, sameErr(err, len(chunk)), false, false)
			continue
		}
		for i, w := range chunk {
			if ids[i] != "" {
				w.decide(store.Outcome{State: store.Done, Attempted: true, RecordID: ids[i], ContactID: w.act.ContactID})
			}
		}
	}
}

// matchContacts resolves each job's contact query by query, in the mapping's key order: from the cache, else
// by batched searches; every hit is cached.
func (l *loop) matchContacts(ctx context.Context, m *mapping.Mapping, ws []*work, now time.Time) {
	for round := 0; ; round++ {
		var need []*work
		for _, w := range ws {
			if !w.done && w.contact == nil && round < len(w.queries) {
				need = append(need, w)
			}
		}
		if len(need) == 0 {
			return
		}
		var queries []crm.ContactQuery
		found := map[string]*crm.Contact{}
		searched := map[string]bool{}
		pickWith := map[string]*mapping.Mapping{} // query key -> the mapping of the first job asking it
		for _, w := range need {
			q := w.queries[round]
			key := q.Key()
			if pickWith[key] == nil {
				pickWith[key] = w.m
			}
			if c, ok, err := l.s.store.CachedContact(l.dest.Name, key, now); err == nil && ok {
				l.cacheMetric("hit")
				found[key] = &crm.Contact{ID: c.ID, Kind: c.Kind, OwnerID: c.OwnerID, CompanyID: c.CompanyID}
				continue
			}
			if !searched[key] {
				l.cacheMetric("miss")
				searched[key] = true
				queries = append(queries, q)
			}
		}
		failed := map[string]error{}
		// One failed search fails every job whose query it carried; its answer acts on the destination once.
		var failedCalls [][]*work  // the jobs each failed search carried
		callOf := map[string]int{} // query key -> its failed search
		fresh := map[string]store.CachedContact{}
		batch := max(l.client.Limits().SearchBatch, 1)
		for start := 0; start < len(queries); start += batch {
			chunk := queries[start:min(start+batch, len(queries))]
			if l.stalled() {
				for _, q := range chunk {
					failed[q.Key()] = errStalled
				}
				continue
			}
			l.count("search")
			l.searches++
			res, err := l.client.FindContacts(ctx, chunk)
			if err == nil && len(res) != len(chunk) {
				err = fmt.Errorf("adapter returned %d results for %d queries", len(res), len(chunk))
			}
			if err != nil {
				for _, q := range chunk {
					failed[q.Key()] = err
					callOf[q.Key()] = len(failedCalls)
				}
				failedCalls = append(failedCalls, nil)
				continue
			}
			for i, q := range chunk {
				if len(res[i]) > 0 {
					c := pickWith[q.Key()].Pick(res[i])
					found[q.Key()] = &c
					fresh[q.Key()] = l.cacheEntry(c, now)
				}
			}
		}
		if err := l.s.store.CacheContacts(l.dest.Name, fresh); err != nil {
			l.log.Warn("cache contacts", "err", err)
		}
		errsOf := make([][]error, len(failedCalls))
		for _, w := range need {
			key := w.queries[round].Key()
			if err := failed[key]; errors.Is(err, errStalled) {
				w.decide(store.Outcome{State: store.Pending, NextAttempt: now, Ambiguous: w.c.Job.Ambiguous})
			} else if err != nil {
				i := callOf[key]
				failedCalls[i] = append(failedCalls[i], w)
				errsOf[i] = append(errsOf[i], err)
			} else if c := found[key]; c != nil {
				w.contact = c
			}
		}
		for i, call := range failedCalls {
			l.settle(call, errsOf[i], false, false)
		}
	}
}

func (l *loop) cacheEntry(c crm.Contact, now time.Time) store.CachedContact {
	return store.CachedContact{ID: c.ID, Kind: c.Kind, OwnerID: c.OwnerID, CompanyID: c.CompanyID,
		Expires: now.Add(l.s.cfg.Sync.ContactTTL)}
}

// createContacts applies the no-match policy. Jobs that need the same new contact (one number, several SMS)
// share one create, and the new contact is cached under every query key before any activity is written, so
// the next SMS from that number finds it even while the CRM's search index lags.
func (l *loop) createContacts(ctx context.Context, m *mapping.Mapping, ws []*work, now time.Time) {
	groups := map[string][]*work{}
	var order []string
	for _, w := range ws {
		if w.done || w.contact != nil || w.foundID != "" {
			continue
		}
		switch policy := w.m.NoMatch(); {
		case policy == mapping.NoMatchSkip:
			w.decide(store.Outcome{State: store.Skipped, Error: "skipped: no matching contact"})
		case policy == mapping.NoMatchPark && w.expired && w.m.ParkThen() == mapping.NoMatchSkip:
			w.decide(store.Outcome{State: store.Skipped, Error: fmt.Sprintf("skipped: no matching contact after %s parked", w.m.ParkFor())})
		case policy == mapping.NoMatchPark && !w.expired && len(w.queries) > 0:
			w.decide(store.Outcome{State: store.Parked, NextAttempt: now.Add(w.m.ParkRecheck()), Error: "parked: no matching contact yet"})
		case policy == "create" && len(w.queries) > 0:
			key := w.queries[0].Key()
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], w)
		}
		// log_without_contact, a park expired with park_then log_without_contact, or nothing to create a
		// contact from or wait for (an alphanumeric sender with no email): the activity is logged without one.
	}
	for _, key := range order {
		if l.stalled() {
			handBack(ws, now)
			return
		}
		group := groups[key]
		w := group[0]
		owner, err := l.owner(ctx, w.m, w.sms, now)
		if err != nil {
			l.settle(group, sameErr(err, len(group)), false, false)
			continue
		}
		nc, err := w.m.NewContact(w.sms, owner)
		if err != nil {
			for _, g := range group {
				g.decide(store.Outcome{State: store.Dead, Attempted: true, Error: "mapping (create): " + err.Error()})
			}
			continue
		}
		if l.stalled() {
			handBack(ws, now)
			return
		}
		l.count("create")
		c, err := l.client.CreateContact(ctx, nc)
		if err != nil {
			l.settle(group, sameErr(err, len(group)), false, true)
			continue
		}
		if c.Kind == "" {
			c.Kind = nc.Kind
		}
		entries := map[string]store.CachedContact{}
		for _, g := range group {
			g.contact = &c
			for _, q := range g.queries {
				entries[q.Key()] = l.cacheEntry(c, now)
			}
		}
		if err := l.s.store.CacheContacts(l.dest.Name, entries); err != nil {
			l.log.Warn("cache created contact", "err", err)
		}
	}
}

// owner picks the activity's owner: the mapping's static map, else the CRM user with the Onoff user's email
// (remembered for an hour), else the mapping's default.
func (l *loop) owner(ctx context.Context, m *mapping.Mapping, sms crm.SMS, now time.Time) (string, error) {
	if id, ok := m.StaticOwner(sms.UserEmail); ok {
		return id, nil
	}
	if m.OwnerFromUserEmail() && sms.UserEmail != "" {
		if e, ok := l.owners[sms.UserEmail]; ok && now.Before(e.expires) {
			if e.id != "" {
				return e.id, nil
			}
			return m.DefaultOwner(), nil
		}
		l.count("owner")
		id, err := l.client.ResolveOwner(ctx, sms.UserEmail)
		if err != nil {
			if a := crm.Classify(err).Action; a == crm.RateLimited || a == crm.Pause || ctx.Err() != nil {
				return "", err
			}
			l.log.Warn("owner lookup failed; using the default owner", "err", err)
			return m.DefaultOwner(), nil
		}
		l.owners[sms.UserEmail] = ownerEntry{id: id, expires: now.Add(ownerTTL)}
		if id != "" {
			return id, nil
		}
	}
	return m.DefaultOwner(), nil
}

func (l *loop) render(ctx context.Context, m *mapping.Mapping, ws []*work, now time.Time) {
	for _, w := range ws {
		if w.done {
			continue
		}
		if l.stalled() {
			handBack(ws, now)
			return
		}
		owner, err := l.owner(ctx, w.m, w.sms, now)
		if err != nil {
			l.settle([]*work{w}, []error{err}, false, false)
			continue
		}
		act, err := w.m.Apply(w.sms, w.contact, owner)
		if err != nil {
			w.decide(store.Outcome{State: store.Dead, Attempted: true, Error: "mapping: " + err.Error()})
			continue
		}
		w.act = act
		if err := l.renderUpdate(w, owner); err != nil {
			w.decide(store.Outcome{State: store.Dead, Attempted: true, Error: "mapping (contact_updates): " + err.Error()})
		}
	}
}

// write logs the batch's activities in as few calls as the adapter allows and decides each job from its result.
func (l *loop) write(ctx context.Context, ws []*work, now time.Time) {
	var ready []*work
	for _, w := range ws {
		switch {
		case w.done:
		case w.foundID != "": // an earlier attempt logged it: only its contact update is left to do
			w.decide(store.Outcome{State: store.Done, Attempted: true, RecordID: w.foundID, ContactID: w.act.ContactID})
		default:
			ready = append(ready, w)
		}
	}
	batch := max(l.client.Limits().WriteBatch, 1)
	for start := 0; start < len(ready); start += batch {
		if ctx.Err() != nil || l.stalled() {
			handBack(ws, now)
			return
		}
		chunk := ready[start:min(start+batch, len(ready))]
		acts := make([]crm.Activity, len(chunk))
		for i, w := range chunk {
			acts[i] = w.act
		}
		l.count("write")
		if l.s.metrics != nil {
			l.s.metrics.BatchSize.WithLabelValues(l.dest.Name).Observe(float64(len(acts)))
		}
		res, err := l.client.LogActivities(ctx, acts)
		if err == nil && len(res) != len(acts) {
			err = fmt.Errorf("adapter returned %d results for %d activities", len(res), len(acts))
		}
		if err != nil {
			l.settle(chunk, sameErr(err, len(chunk)), true, false)
			continue
		}
		var failedWs []*work
		var errs []error
		for i, w := range chunk {
			if res[i].Err != nil {
				failedWs, errs = append(failedWs, w), append(errs, res[i].Err)
				continue
			}
			w.decide(store.Outcome{State: store.Done, Attempted: true, Sent: true, RecordID: res[i].ID, ContactID: w.act.ContactID})
		}
		l.settle(failedWs, errs, true, false)
		if err == nil && l.isPaused() && !anyStop(res) {
			l.resume() // the probe batch went through: the cause of the pause is gone
		}
	}
}

// settle decides, with the retry policy, each job a failed CRM call carried (errs[i] is ws[i]'s error: the
// call's, or its item's in a batch), and applies the answer's effect on the destination once for the call:
// one 429 on a batch of 100 activities is one rate-limit answer, one halving of the rate.
func (l *loop) settle(ws []*work, errs []error, sent, create bool) {
	if len(ws) == 0 {
		return
	}
	at := l.s.clock.Now() // limits are timed from the answer, not from the batch's start
	var call effect
	forgotten := map[string]bool{}
	for i, w := range ws {
		v := retryPolicy(errs[i], attempt{Job: w.c.Job, Sent: sent, Create: create, ContactID: w.act.ContactID},
			at, l.s.cfg.Sync, nil)
		w.decide(v.Outcome)
		if call.Pause == "" && !call.RateLimited {
			call = v.Effect // the first answer that stops the destination, else the last one
		}
		if v.Forget != "" && !forgotten[v.Forget] {
			forgotten[v.Forget] = true
			if err := l.s.store.ForgetContact(l.dest.Name, v.Forget); err != nil {
				l.log.Warn("forget contact", "err", err)
			}
		}
	}
	l.apply(call)
}

// apply acts on the destination after one CRM answer: status, rate-limit wait and slow-down, pause.
func (l *loop) apply(e effect) {
	l.mu.Lock()
	if e.Error != "" {
		l.lastError = e.Error
	}
	if e.NotBefore.After(l.notBefore) {
		l.notBefore = e.NotBefore
	}
	l.mu.Unlock()
	if e.RateLimited {
		if l.s.metrics != nil {
			l.s.metrics.RateWaits.WithLabelValues(l.dest.Name).Inc()
		}
		l.throttle.slowDown(e.Limit)
	}
	if e.Pause != "" {
		l.pause(e.Pause, e.PauseUntil)
	}
}

// sameErr is err n times: the error of a whole call, for each job it carried.
func sameErr(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// anyStop reports whether any per-item result paused the destination or hit a rate limit.
func anyStop(res []crm.Result) bool {
	for _, r := range res {
		if r.Err != nil {
			if a := crm.Classify(r.Err).Action; a == crm.Pause || a == crm.RateLimited {
				return true
			}
		}
	}
	return false
}

func (l *loop) count(kind string) {
	if l.s.metrics != nil {
		l.s.metrics.APICalls.WithLabelValues(l.dest.Name, kind).Inc()
	}
}

func (l *loop) cacheMetric(result string) {
	if l.s.metrics != nil {
		l.s.metrics.ContactCache.WithLabelValues(l.dest.Name, result).Inc()
	}
}

func (l *loop) observe(w *work) {
	if l.s.metrics == nil {
		return
	}
	l.s.metrics.Deliveries.WithLabelValues(l.dest.Name, w.out.State).Inc()
	if w.out.State == store.Done && w.c.Job.ParkedAt.IsZero() { // a parked SMS waited for its contact, not for onoffsync
		l.s.metrics.EndToEnd.WithLabelValues(l.dest.Name).Observe(l.s.clock.Now().Sub(w.c.Event.Received).Seconds())
	}
}
