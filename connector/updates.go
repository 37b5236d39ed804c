package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// A job whose mapping has contact_updates that apply to its SMS has two phases: log the activity, then update
// the contact it was logged on. Between the two, the loop records the job as logged (its record id) with the
// rendered update (store.Job.ContactUpdate), still in flight, in one commit for the batch: a crash after it
// resumes at the update, and a crash before it finds the logged activity by its id field (checkAmbiguous)
// and renders the update again. Updates set fields to values, so applying one twice is harmless. They are
// batched (one call per WriteBatch contacts, a contact's updates from several SMS merged in the SMS's order),
// throttled by the adapter as writes, and retried through settle like every other write.

// storedUpdate is a job's pending contact update as it is stored (store.Job.ContactUpdate): the update, and
// the date of the SMS it comes from, so a contact's updates from several SMS merge in the order they happened.
type storedUpdate struct {
	crm.ContactUpdate
	At time.Time `json:"at"`
}

// renderUpdate renders w's contact update, when the adapter can apply one and the mapping's rules ask for it.
func (l *loop) renderUpdate(w *work, owner string) error {
	if _, ok := l.client.(crm.ContactUpdater); !ok || w.contact == nil {
		return nil
	}
	fields, _, err := w.m.ContactUpdates(w.sms, w.contact, owner)
	if err != nil || len(fields) == 0 {
		return err
	}
	w.update = &crm.ContactUpdate{ContactID: w.contact.ID, Kind: w.contact.Kind, Fields: fields}
	return nil
}

// updateContacts runs the second phase for the jobs of ws that were just logged and have a contact update,
// and for resumed jobs (logged in an earlier batch or before a crash, or retried from the dead letters). A
// resumed job sends its stored update without the fields m's contact_updates no longer set, so an admin who
// removes a field the CRM refused, then retries the dead letter, gets the rest applied.
func (l *loop) updateContacts(ctx context.Context, m *mapping.Mapping, ws, resumed []*work, now time.Time) {
	var todo []*work
	// logged is each newly logged job's outcome, decided again once its update is applied.
	logged := map[*work]store.Outcome{}
	var marks []store.Outcome
	for _, w := range ws {
		if w.update == nil || !w.done || w.out.State != store.Done {
			continue
		}
		enc, err := json.Marshal(storedUpdate{*w.update, w.sms.Date})
		if err != nil { // a map of strings always encodes
			continue
		}
		logged[w] = w.out
		marks = append(marks, store.Outcome{Dest: w.c.Job.Dest, Seq: w.c.Job.Seq, State: store.InFlight,
			RecordID: w.out.RecordID, ContactID: w.out.ContactID, Sent: true, ContactUpdate: enc})
		todo = append(todo, w)
	}
	if len(marks) > 0 {
		l.record(ctx, marks)
	}
	kept := map[string]bool{}
	for _, f := range m.UpdateFields() {
		kept[f.Name] = true
	}
	for _, w := range resumed {
		var u storedUpdate
		if err := json.Unmarshal(w.c.Job.ContactUpdate, &u); err != nil || u.ContactID == "" {
			w.decide(store.Outcome{State: store.Dead, Error: fmt.Sprintf("stored contact update no longer reads: %v", err)})
			continue
		}
		maps.DeleteFunc(u.Fields, func(k, _ string) bool { return !kept[k] })
		if len(u.Fields) == 0 {
			w.decide(store.Outcome{State: store.Done, Attempted: true, Error: "contact update not applied: the mapping's contact_updates no longer set its fields"})
			continue
		}
		w.update, w.sms.Date = &u.ContactUpdate, u.At
		todo = append(todo, w)
	}
	if len(todo) == 0 {
		return
	}
	updater, ok := l.client.(crm.ContactUpdater)
	if !ok { // only resumed jobs after a switch to an adapter that cannot update: nothing more to do
		for _, w := range todo {
			w.decide(store.Outcome{State: store.Done, Error: "contact update not applied: the destination cannot update contacts"})
		}
		return
	}
	done := func(w *work, note string) {
		o, ok := logged[w]
		if !ok {
			o = store.Outcome{State: store.Done, Attempted: true}
		}
		o.Error = note
		w.decide(o)
	}

	// One update per contact (the CRMs refuse a contact twice in one call), its SMS's in the order they
	// happened: a field several set takes the latest SMS's value ("last SMS" fields).
	slices.SortStableFunc(todo, func(a, b *work) int { return a.sms.Date.Compare(b.sms.Date) })
	var ups []crm.ContactUpdate
	var carried [][]*work
	index := map[string]int{}
	for _, w := range todo {
		i, ok := index[w.update.ContactID]
		if !ok {
			i = len(ups)
			index[w.update.ContactID] = i
			ups = append(ups, crm.ContactUpdate{ContactID: w.update.ContactID, Kind: w.update.Kind, Fields: map[string]string{}})
			carried = append(carried, nil)
		}
		for k, v := range w.update.Fields {
			ups[i].Fields[k] = v
		}
		carried[i] = append(carried[i], w)
	}
	batch := max(l.client.Limits().WriteBatch, 1)
	for start := 0; start < len(ups); start += batch {
		end := min(start+batch, len(ups))
		var jobs []*work
		for _, c := range carried[start:end] {
			jobs = append(jobs, c...)
		}
		if ctx.Err() != nil || l.stalled() {
			// The update is durable (Job.ContactUpdate): hand the jobs back without counting an attempt.
			for _, w := range jobs {
				w.decide(store.Outcome{State: store.Pending, NextAttempt: now})
			}
			continue
		}
		l.count("update")
		res, err := updater.UpdateContacts(ctx, ups[start:end])
		if err == nil && len(res) != end-start {
			err = fmt.Errorf("adapter returned %d results for %d contact updates", len(res), end-start)
		}
		if err != nil {
			l.settle(jobs, sameErr(updateErr(err), len(jobs)), false, false)
			continue
		}
		var failedWs []*work
		var errs []error
		for i, r := range res {
			for _, w := range carried[start+i] {
				switch {
				case r.Err == nil:
					done(w, "")
				case crm.Classify(r.Err).Code == crm.CodeContactGone:
					done(w, "contact update not applied: the contact no longer exists")
				default:
					failedWs, errs = append(failedWs, w), append(errs, updateErr(r.Err))
				}
			}
		}
		l.settle(failedWs, errs, false, false)
		if l.isPaused() && !anyStop(res) {
			l.resume()
		}
	}
}

// updateErr is a failed update's error, classified as the adapter did, with a message that says it was the
// contact update (the activity is logged) for status and dead letters.
func updateErr(err error) error {
	e := *crm.Classify(err)
	e.Message = "contact update: " + e.Message
	return &e
}
