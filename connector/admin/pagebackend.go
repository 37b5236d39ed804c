package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/connector/admin/page"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// pageBackend is the admin page's page.Backend over the Service: the store, the configuration, and the live
// loops when they run.
type pageBackend struct{ a *Service }

var _ page.Backend = pageBackend{}

// pageErr gives an error the page's kind for its status (the one map is connector.HTTPStatus).
func pageErr(err error) error {
	switch connector.HTTPStatus(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", page.ErrNotFound, err)
	case http.StatusBadRequest:
		return fmt.Errorf("%w: %w", page.ErrBadRequest, err)
	}
	return err
}

func (b pageBackend) Overview(ctx context.Context) (page.Overview, error) {
	a := b.a
	st, err := a.Status()
	if err != nil {
		return page.Overview{}, err
	}
	ov := page.Overview{Offline: st.Server != "running", Receiver: page.Receiver{Quarantined: st.Quarantine}}
	if last, _, err := a.store.FindEvents(0, 1, func(store.Event) bool { return true }); err != nil {
		return page.Overview{}, err
	} else if len(last) == 1 {
		ov.Receiver.LastEvent = last[0].Received
	}
	now := a.now()
	for _, d := range st.Destinations {
		pd := page.Destination{Name: d.Name, Type: d.Type, Pending: d.Counts[store.Pending] + d.Counts[store.InFlight],
			Retrying: d.Counts[store.Retrying], Parked: d.Counts[store.Parked], Dead: d.Counts[store.Dead], OldestPending: d.OldestPending}
		if l := d.Live; l != nil {
			pd.Paused, pd.PauseReason, pd.PausedUntil, pd.LastError = l.Paused, l.PauseReason, l.PausedUntil, l.LastError
			for kind, r := range l.Rates {
				pd.Rates = append(pd.Rates, page.Rate{Kind: kind, Current: r, Limit: l.Limits[kind]})
			}
			sort.Slice(pd.Rates, func(i, j int) bool { return pd.Rates[i].Kind < pd.Rates[j].Kind })
		}
		if pd.DeliveredHour, err = a.store.Delivered(d.Name, now.Add(-time.Hour)); err != nil {
			return page.Overview{}, err
		}
		if pd.DeliveredDay, err = a.store.Delivered(d.Name, now.Add(-24*time.Hour)); err != nil {
			return page.Overview{}, err
		}
		pd.DeliveredKnown = true
		ov.Destinations = append(ov.Destinations, pd)
	}
	return ov, nil
}

// maxDeadScan bounds how many dead letters one filtered list reads.
const maxDeadScan = 20000

func (b pageBackend) DeadLetters(ctx context.Context, f page.DeadFilter) ([]page.DeadLetter, error) {
	scan := maxDeadScan // a filter the store cannot apply reads further
	if f.Code == "" && f.OnoffID == "" && f.Number == "" && f.Limit > 0 {
		scan = f.Limit
	}
	jobs, err := b.a.store.DeadLetters(f.Destination, scan)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	m := b.numberMatcher(f.Number)
	var out []page.DeadLetter
	for _, j := range jobs {
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		d := page.DeadLetter{DeadRef: page.DeadRef{Destination: j.Job.Dest, Seq: j.Job.Seq}, OnoffID: j.Event.SourceID,
			Attempts: j.Job.Attempts, Received: j.Event.Received, Died: j.Job.Finished, Failure: parseFailure(j.Job.LastError)}
		if f.OnoffID != "" && d.OnoffID != f.OnoffID {
			continue
		}
		if f.Code != "" && !strings.EqualFold(f.Code, pageCode(d.Failure)) {
			continue
		}
		sms, ok := b.sms(j.Event)
		if f.Number != "" && !m(sms) {
			continue
		}
		if ok {
			d.SMS = pageSMS(sms)
		}
		out = append(out, d)
	}
	return out, nil
}

// pageCode is how the page names a failure in its code filter: the CRM's code, its HTTP status, or its kind.
func pageCode(f page.Failure) string {
	switch {
	case f.Code != "":
		return f.Code
	case f.Status != 0:
		return fmt.Sprintf("HTTP %d", f.Status)
	}
	return f.Kind
}

// failureRE reads what crm.Error.Error() wrote into a job's LastError: "permanent (HTTP 400) CODE: message",
// possibly after a prefix the loop added.
var failureRE = regexp.MustCompile(`\b(permanent|retry|rate_limited|pause)(?: \(HTTP (\d{3})\))?(?: ([A-Z][A-Z0-9_]*[A-Z0-9]))?(?::|$)`)

func parseFailure(msg string) page.Failure {
	f := page.Failure{Message: msg}
	if m := failureRE.FindStringSubmatch(msg); m != nil {
		f.Kind, f.Code = m[1], m[3]
		f.Status, _ = strconv.Atoi(m[2])
	}
	return f
}

// sms reads an event for the page: an SMS, or a call (CDR, VM, RECORDING) shown as one whose body
// summarises the call.
func (b pageBackend) sms(e store.Event) (crm.SMS, bool) {
	switch e.Class {
	case "", connector.ClassSMS:
	case connector.ClassCall:
		ev, _, _, err := connector.ParseCall(e.Raw, b.a.cfg.Phone.DefaultRegion)
		if err != nil || ev.Date.IsZero() {
			return crm.SMS{}, false
		}
		c := ev.Call
		ev.Body = strings.TrimSpace(fmt.Sprintf("%s call (%s, %s, %s) %s", strings.ToLower(c.Direction), c.Kind, c.Status, c.Duration, c.Notes))
		return ev, true
	default:
		return crm.SMS{}, false
	}
	sms, _, _, err := connector.ParseSMS(e.Raw, b.a.cfg.Phone.DefaultRegion)
	return sms, err == nil && !sms.Date.IsZero()
}

func pageSMS(s crm.SMS) page.SMS {
	return page.SMS{Date: s.Date, Direction: s.Direction, UserName: s.UserName, UserNumber: phoneText(s.UserNumber),
		External: phoneText(s.External), ExtName: s.ExternalName, Body: s.Body}
}

func phoneText(p crm.Phone) string {
	if p.Valid() {
		return p.E164
	}
	return p.Raw
}

// numberMatcher says whether an SMS's other party is number, compared as E.164 when both parse (national
// numbers in the user's region), else by digits.
func (b pageBackend) numberMatcher(number string) func(crm.SMS) bool {
	want := crm.ParsePhone(number, b.a.cfg.Phone.DefaultRegion)
	digits := digitsOnly(number)
	return func(s crm.SMS) bool {
		if want.Valid() && s.External.Valid() {
			return s.External.E164 == want.E164
		}
		return digits != "" && digitsOnly(s.External.Raw) == digits
	}
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (b pageBackend) deadAction(refs []page.DeadRef, act func(store.Selector) (int, error)) (int, error) {
	n := 0
	for _, r := range refs {
		if r.Destination == "" || r.Seq == 0 {
			return n, fmt.Errorf("%w: a dead letter needs a destination and a seq", page.ErrBadRequest)
		}
		k, err := act(store.Selector{Dest: r.Destination, Seq: r.Seq})
		n += k
		if err != nil {
			return n, pageErr(err)
		}
	}
	return n, nil
}

// Parked lists the SMS parked until their contact exists (match.on_no_match: park), in recheck order.
func (b pageBackend) Parked(ctx context.Context, limit int) ([]page.Parked, error) {
	list, err := b.a.ParkedList("", limit)
	if err != nil {
		return nil, err
	}
	out := make([]page.Parked, 0, len(list))
	for _, p := range list {
		out = append(out, page.Parked{DeadRef: page.DeadRef{Destination: p.Destination, Seq: p.Seq}, OnoffID: p.SourceID,
			Reason: "no matching contact yet; matched again " + p.NextRecheck.UTC().Format("2006-01-02 15:04 UTC"), Since: p.Parked})
	}
	return out, nil
}

func (b pageBackend) RetryDead(ctx context.Context, refs []page.DeadRef) (int, error) {
	return b.deadAction(refs, b.a.DeadRetry)
}

func (b pageBackend) DropDead(ctx context.Context, refs []page.DeadRef) (int, error) {
	return b.deadAction(refs, b.a.DeadDrop)
}

func pageQuarantined(q QuarantinedEvent) page.Quarantined {
	return page.Quarantined{Seq: q.Seq, OnoffID: q.SourceID, Status: q.Status, Received: q.Received, Problems: q.Problems, Raw: q.Body}
}

func (b pageBackend) Quarantine(ctx context.Context, limit int) ([]page.Quarantined, error) {
	list, err := b.a.QuarantineList(limit)
	if err != nil {
		return nil, err
	}
	out := make([]page.Quarantined, 0, len(list))
	for _, q := range list {
		out = append(out, pageQuarantined(q))
	}
	return out, nil
}

func (b pageBackend) QuarantinedEvent(ctx context.Context, seq uint64) (page.Quarantined, error) {
	q, err := b.a.QuarantineShow(seq)
	return pageQuarantined(q), pageErr(err)
}

func (b pageBackend) Requeue(ctx context.Context, seq uint64) (page.Quarantined, error) {
	q, err := b.a.QuarantineRequeue(seq)
	return pageQuarantined(q), pageErr(err)
}

func (b pageBackend) DropQuarantined(ctx context.Context, seq uint64) error {
	return pageErr(b.a.QuarantineDrop(seq))
}

// findScan is how many events one step of a search by number reads; findMax how many a search reads at most.
const findScan, findMax = 5000, 200000

func (b pageBackend) Find(ctx context.Context, q string, limit int) ([]page.Found, error) {
	q = strings.TrimSpace(q)
	var events []store.Event
	e, err := b.a.store.EventBySource("sms", q)
	if errors.Is(err, store.ErrNotFound) {
		e, err = b.a.store.EventBySource(connector.ClassCall, q) // an Onoff call id
	}
	switch {
	case err == nil:
		events = append(events, e)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	case digitsOnly(q) != "":
		m := b.numberMatcher(q)
		before := uint64(0)
		for read := 0; read < findMax && len(events) < limit; read += findScan {
			found, next, err := b.a.store.FindEvents(before, findScan, func(e store.Event) bool {
				sms, ok := b.sms(e)
				return ok && m(sms)
			})
			if err != nil {
				return nil, err
			}
			events = append(events, found...)
			if next == 0 || ctx.Err() != nil {
				break
			}
			before = next
		}
		if len(events) > limit {
			events = events[:limit]
		}
	}
	out := make([]page.Found, 0, len(events))
	for _, e := range events {
		f := page.Found{Seq: e.Seq, OnoffID: e.SourceID, Status: e.Status, Received: e.Received}
		if sms, ok := b.sms(e); ok {
			f.SMS = pageSMS(sms)
		}
		jobs, err := b.a.store.Jobs(e.Seq)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		for _, j := range jobs {
			d := page.Delivery{Destination: j.Dest, State: j.State, Attempts: j.Attempts, Error: j.LastError, RecordID: j.RecordID}
			if j.State == store.Pending || j.State == store.Retrying || j.State == store.Parked {
				d.NextAttempt = j.NextAttempt
			}
			if j.State == store.Done || j.State == store.Skipped {
				d.Error = "" // a note from an earlier attempt, or the skip's reason below
			}
			if j.State == store.Skipped {
				d.Error = j.LastError
			}
			if j.RecordID != "" {
				d.RecordURL = b.recordURL(j)
			}
			f.Deliveries = append(f.Deliveries, d)
		}
		out = append(out, f)
	}
	return out, nil
}

// recordURL links to where a logged SMS shows in the CRM, when the destination says where its CRM is: a
// Salesforce Task under a My Domain login_url (https://acme.my.salesforce.com). "" otherwise: the generic
// login hosts do not say which org, and a HubSpot destination does not know its portal id.
func (b pageBackend) recordURL(j store.Job) string {
	d, ok := b.destination(j.Dest)
	if !ok || d.Type != "salesforce" {
		return ""
	}
	base := yamlString(d.Node, "login_url")
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Host, ".my.salesforce.com") {
		return ""
	}
	return "https://" + u.Host + "/lightning/r/Task/" + url.PathEscape(j.RecordID) + "/view"
}

func (b pageBackend) destination(name string) (connector.Destination, bool) {
	for _, d := range b.a.cfg.Destinations {
		if d.Name == name {
			return d, true
		}
	}
	return connector.Destination{}, false
}

// yamlString is the scalar value of key in a YAML mapping node, or "".
func yamlString(n *yaml.Node, key string) string {
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return strings.TrimSpace(n.Content[i+1].Value)
		}
	}
	return ""
}

func (b pageBackend) Preview(ctx context.Context, dest string, payload []byte) (page.Preview, error) {
	d, ok := b.destination(dest)
	if !ok {
		return page.Preview{}, fmt.Errorf("%w: no destination named %q", page.ErrNotFound, dest)
	}
	res, err := connector.Preview(d, b.a.cfg.Phone.DefaultRegion, payload)
	if err != nil {
		p := page.Preview{Errors: []string{err.Error()}}
		if res != nil {
			p.Mapping = res.Mapping
		}
		return p, nil
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return page.Preview{}, err
	}
	return page.Preview{Mapping: res.Mapping, Result: string(out)}, nil
}
