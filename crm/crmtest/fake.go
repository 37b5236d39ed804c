package crmtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// Methods of crm.Client a Fake can be scripted on.
const (
	MethodFind   = "FindContacts"
	MethodCreate = "CreateContact"
	MethodOwner  = "ResolveOwner"
	MethodLog    = "LogActivities"
	MethodLookup = "FindActivities"
	MethodUpdate = "UpdateContacts"
)

// Fake is a scriptable in-memory crm.Client (and crm.ActivityFinder, crm.ContactUpdater) for the sync loop's tests: it holds
// contacts, owners and logged activities, counts calls, and fails the next calls of a method on demand.
// It is safe for concurrent use.
type Fake struct {
	mu         sync.Mutex
	limits     crm.Limits
	contacts   []crm.Contact
	owners     map[string]string
	acts       []crm.Activity
	actIDs     []string
	calls      map[string]int
	items      map[string]int
	fail       map[string][]error
	failAfter  []error // LogActivities: apply, then return this error
	itemErrors map[string][]error
	lag        time.Duration
	nextID     int
	onCall     func(method string)
	throttle   crm.Throttle
	rateLimits []crm.RateLimit
	e164       map[string]string            // region|stored phone -> E.164, so matching stays cheap with many contacts
	fields     map[string]map[string]string // contact id -> the fields UpdateContacts set
	updates    []crm.ContactUpdate          // every update applied, in order
}

// samePhone is crm.SamePhone with its parse of the stored number memoised (caller holds f.mu).
func (f *Fake) samePhone(stored string, p crm.Phone) bool {
	if !p.Valid() {
		return false
	}
	if f.e164 == nil {
		f.e164 = map[string]string{}
	}
	read := func(region string) string {
		k := region + "|" + stored
		e, ok := f.e164[k]
		if !ok {
			e = crm.ParsePhone(stored, region).E164
			f.e164[k] = e
		}
		return e
	}
	if e := read(p.Region); e != "" && e == p.E164 {
		return true
	}
	// as crm.SamePhone: a number written with the account country's international prefix
	return p.Home != "" && p.Home != p.Region && read(p.Home) == p.E164
}

// Throttle makes every method wait on th first ("search" for FindContacts, "write" for the others), as a
// real adapter does, and declares limits through RateLimits.
func (f *Fake) Throttle(th crm.Throttle, limits []crm.RateLimit) {
	f.mu.Lock()
	f.throttle, f.rateLimits = th, limits
	f.mu.Unlock()
}

// RateLimits returns what Throttle declared.
func (f *Fake) RateLimits() []crm.RateLimit { f.mu.Lock(); defer f.mu.Unlock(); return f.rateLimits }

// NewFake returns an empty Fake with the given batch limits (zero values become 10 and 100).
func NewFake(l crm.Limits) *Fake {
	if l.SearchBatch == 0 {
		l.SearchBatch = 10
	}
	if l.WriteBatch == 0 {
		l.WriteBatch = 100
	}
	return &Fake{limits: l, owners: map[string]string{}, calls: map[string]int{}, items: map[string]int{},
		fail: map[string][]error{}, itemErrors: map[string][]error{}}
}

// AddContact seeds a contact and returns its id (assigned when empty).
func (f *Fake) AddContact(c crm.Contact) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		f.nextID++
		c.ID = fmt.Sprint("c", f.nextID)
	}
	if c.Kind == "" {
		c.Kind = crm.KindContact
	}
	f.contacts = append(f.contacts, c)
	return c.ID
}

// RemoveContact deletes a contact, as a CRM user merging or deleting it would.
func (f *Fake) RemoveContact(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.contacts {
		if c.ID == id {
			f.contacts = append(f.contacts[:i], f.contacts[i+1:]...)
			return
		}
	}
}

// Contacts returns the contacts the fake holds.
func (f *Fake) Contacts() []crm.Contact {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]crm.Contact(nil), f.contacts...)
}

// AddOwner seeds an owner.
func (f *Fake) AddOwner(email, id string) {
	f.mu.Lock()
	f.owners[strings.ToLower(email)] = id
	f.mu.Unlock()
}

// SetIndexLag sets what IndexLag reports.
func (f *Fake) SetIndexLag(d time.Duration) { f.mu.Lock(); f.lag = d; f.mu.Unlock() }

// OnCall registers fn, called at the start of every method with its name (outside the fake's lock).
func (f *Fake) OnCall(fn func(method string)) { f.mu.Lock(); f.onCall = fn; f.mu.Unlock() }

// FailNext makes the next n calls of method return err (before doing anything).
func (f *Fake) FailNext(method string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fail[method] = append(f.fail[method], err)
	}
}

// FailAfterApply makes the next n LogActivities calls log their activities and then return err, as a
// timeout after the CRM applied the request would.
func (f *Fake) FailAfterApply(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failAfter = append(f.failAfter, err)
	}
}

// FailItem makes the activity with this SourceID fail with err in its next n LogActivities calls, alone (or,
// given a contact id, that contact's item in its next n UpdateContacts calls).
func (f *Fake) FailItem(sourceID string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.itemErrors[sourceID] = append(f.itemErrors[sourceID], err)
	}
}

// Calls returns how many times method was called.
func (f *Fake) Calls(method string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[method] }

// Items returns how many queries or activities were passed to method in all.
func (f *Fake) Items(method string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.items[method] }

// Logged returns every activity logged, in order.
func (f *Fake) Logged() []crm.Activity {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]crm.Activity(nil), f.acts...)
}

// LoggedCount returns how many activities carry sourceID.
func (f *Fake) LoggedCount(sourceID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.acts {
		if a.SourceID == sourceID {
			n++
		}
	}
	return n
}

func (f *Fake) enter(method string, n int) error {
	f.mu.Lock()
	th := f.throttle
	f.mu.Unlock()
	if th != nil {
		kind := "write"
		if method == MethodFind || method == MethodLookup {
			kind = "search"
		}
		if err := th.Wait(context.Background(), kind); err != nil {
			return err
		}
	}
	f.mu.Lock()
	hook := f.onCall
	f.calls[method]++
	f.items[method] += n
	var err error
	if q := f.fail[method]; len(q) > 0 {
		err, f.fail[method] = q[0], q[1:]
	}
	f.mu.Unlock()
	if hook != nil {
		hook(method)
	}
	return err
}

// Limits returns the limits NewFake was given.
func (f *Fake) Limits() crm.Limits { return f.limits }

// FindContacts matches phones with crm.SamePhone and emails case-insensitively.
func (f *Fake) FindContacts(ctx context.Context, qs []crm.ContactQuery) ([][]crm.Contact, error) {
	if err := f.enter(MethodFind, len(qs)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]crm.Contact, len(qs))
	for i, q := range qs {
		for _, c := range f.contacts {
			if q.Email != "" && strings.EqualFold(c.Email, q.Email) {
				out[i] = append(out[i], c)
				continue
			}
			for _, p := range c.Phones {
				if q.Email == "" && f.samePhone(p, q.Phone) {
					out[i] = append(out[i], c)
					break
				}
			}
		}
	}
	return out, nil
}

// CreateContact stores a new contact.
func (f *Fake) CreateContact(ctx context.Context, nc crm.NewContact) (crm.Contact, error) {
	if err := f.enter(MethodCreate, 1); err != nil {
		return crm.Contact{}, err
	}
	c := crm.Contact{Kind: nc.Kind, FirstName: nc.FirstName, LastName: nc.LastName, Email: nc.Email, OwnerID: nc.OwnerID,
		Name: strings.TrimSpace(nc.FirstName + " " + nc.LastName)}
	if c.Kind == "" {
		c.Kind = crm.KindContact
	}
	if nc.Phone.E164 != "" {
		c.Phones = []string{nc.Phone.E164}
	}
	c.ID = f.AddContact(c)
	return c, nil
}

// ResolveOwner returns a seeded owner's id.
func (f *Fake) ResolveOwner(ctx context.Context, email string) (string, error) {
	if err := f.enter(MethodOwner, 1); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owners[strings.ToLower(email)], nil
}

// LogActivities stores each activity and returns its id, honouring FailItem and FailAfterApply.
func (f *Fake) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	if err := f.enter(MethodLog, len(acts)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	res := make([]crm.Result, len(acts))
	for i, a := range acts {
		if q := f.itemErrors[a.SourceID]; len(q) > 0 {
			res[i].Err, f.itemErrors[a.SourceID] = q[0], q[1:]
			continue
		}
		f.nextID++
		id := fmt.Sprint("a", f.nextID)
		f.acts = append(f.acts, a)
		f.actIDs = append(f.actIDs, id)
		res[i].ID = id
	}
	if len(f.failAfter) > 0 {
		err := f.failAfter[0]
		f.failAfter = f.failAfter[1:]
		return nil, err
	}
	return res, nil
}

// FindActivities finds logged activities by SourceID when their IDField is set. Like a real adapter, which
// looks calls and SMS up in different objects, it refuses activities of mixed kinds or id fields.
func (f *Fake) FindActivities(ctx context.Context, acts []crm.Activity) ([]string, error) {
	if err := f.enter(MethodLookup, len(acts)); err != nil {
		return nil, err
	}
	for _, a := range acts[1:] {
		if a.IDField != acts[0].IDField || (a.Call == nil) != (acts[0].Call == nil) {
			return nil, fmt.Errorf("FindActivities: activities of different kinds or id fields in one call (the contract forbids it)")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(acts))
	for i, a := range acts {
		if a.IDField == "" {
			continue
		}
		for j, x := range f.acts {
			if x.SourceID == a.SourceID {
				out[i] = f.actIDs[j]
				break
			}
		}
	}
	return out, nil
}

// IndexLag returns what SetIndexLag set.
func (f *Fake) IndexLag(crm.Activity) time.Duration { f.mu.Lock(); defer f.mu.Unlock(); return f.lag }

// UpdateContacts sets fields on held contacts. Like the real CRMs it refuses a call naming one contact twice,
// and fails the item of a contact it does not hold with CodeContactGone.
func (f *Fake) UpdateContacts(ctx context.Context, ups []crm.ContactUpdate) ([]crm.Result, error) {
	if err := f.enter(MethodUpdate, len(ups)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, u := range ups {
		if seen[u.ContactID] {
			return nil, &crm.Error{Action: crm.Permanent, Status: 400, Code: "VALIDATION_ERROR",
				Message: "Duplicate IDs found in batch input: [" + u.ContactID + "]. IDs must be unique"}
		}
		seen[u.ContactID] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fields == nil {
		f.fields = map[string]map[string]string{}
	}
	res := make([]crm.Result, len(ups))
	for i, u := range ups {
		if q := f.itemErrors[u.ContactID]; len(q) > 0 {
			res[i].Err, f.itemErrors[u.ContactID] = q[0], q[1:]
			continue
		}
		held := false
		for _, c := range f.contacts {
			held = held || c.ID == u.ContactID
		}
		if !held {
			res[i].Err = &crm.Error{Action: crm.Permanent, Status: 404, Code: crm.CodeContactGone, Message: "contact " + u.ContactID + " does not exist"}
			continue
		}
		if f.fields[u.ContactID] == nil {
			f.fields[u.ContactID] = map[string]string{}
		}
		for k, v := range u.Fields {
			f.fields[u.ContactID][k] = v
		}
		f.updates = append(f.updates, u)
		res[i].ID = u.ContactID
	}
	return res, nil
}

// ContactFields returns the fields UpdateContacts set on a contact.
func (f *Fake) ContactFields(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.fields[id] {
		out[k] = v
	}
	return out
}

// Updates returns every update applied, in order.
func (f *Fake) Updates() []crm.ContactUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]crm.ContactUpdate(nil), f.updates...)
}

// Errors a test scripts with.
var (
	ErrServer   = &crm.Error{Action: crm.Retry, Status: 503, Message: "service unavailable"}
	ErrTimeout  = &crm.Error{Action: crm.Retry, Message: "timeout awaiting response headers"}
	ErrAuth     = &crm.Error{Action: crm.Pause, Status: 401, Code: "INVALID_AUTHENTICATION", Message: "bad token"}
	ErrBadInput = &crm.Error{Action: crm.Permanent, Status: 400, Code: "VALIDATION_ERROR", Message: "property values were not valid"}
	ErrGone     = &crm.Error{Action: crm.Permanent, Status: 404, Code: crm.CodeContactGone, Message: "contact does not exist"}
)

// RateLimit is a 429 that asks to wait d.
func RateLimit(d time.Duration) *crm.Error {
	return &crm.Error{Action: crm.RateLimited, Status: 429, Code: "TEN_SECONDLY_ROLLING", RetryAfter: d, Limit: "requests"}
}

// DailyCap is a daily-cap 429 that resets at until.
func DailyCap(until time.Time) *crm.Error {
	return &crm.Error{Action: crm.RateLimited, Status: 429, Code: "DAILY", Daily: true, Until: until, Limit: "requests"}
}

var (
	_ crm.Client         = (*Fake)(nil)
	_ crm.ActivityFinder = (*Fake)(nil)
	_ crm.ContactUpdater = (*Fake)(nil)
)
