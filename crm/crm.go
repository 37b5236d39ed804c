// Package crm is the adapter contract between the sync loop and a CRM: the SMS as the loop sees it, contact
// queries and matches, activities to log, and the typed error that tells the loop what to do next.
// It imports no other onoffsync package (the loop and every adapter import it), and nothing here speaks HTTP:
// crm/hubspot and crm/salesforce do, each for its own CRM.
package crm

import (
	"context"
	"time"
)

// SMS is one Onoff SMS event, normalised. It is what mappings and adapters see.
type SMS struct {
	ID              string    // Onoff's id of the SMS log; unique per SMS
	Direction       string    // "SENT" (the Onoff user wrote it) or "RECEIVED"
	Date            time.Time // when it was sent or received, UTC
	Body            string
	UserName        string // the Onoff user
	UserEmail       string
	UserNumber      Phone // the Onoff user's own (virtual) number
	External        Phone // the other party
	ExternalName    string
	ExternalEmail   string
	ExternalCompany string // undocumented field; filled when the payload carries one
	// Call is set when the event is a call (CDR, VM, RECORDING) rather than an SMS; see Call for how the
	// fields above read then.
	Call *Call `json:",omitempty"`
}

// Contact is a CRM record an SMS can be logged on.
type Contact struct {
	ID           string
	Kind         string // "contact", or "lead" (Salesforce)
	Name         string
	FirstName    string
	LastName     string
	Email        string
	Phones       []string // every phone the CRM returned for it, as stored
	OwnerID      string
	CompanyID    string // HubSpot primary company id, Salesforce AccountId
	LastModified time.Time
}

// Contact kinds.
const (
	KindContact = "contact"
	KindLead    = "lead"
)

// ContactQuery asks for the contacts matching one key: a phone number or an email, never both.
type ContactQuery struct {
	Phone Phone  // set for a phone query
	Email string // set for an email query (lower case)
	// PhoneFields names the CRM fields that hold phones, from the mapping; empty means the adapter's default.
	PhoneFields []string
}

// Key is the query's stable identity, used as the contact cache key: "phone:+33612345678" or "email:a@b.fr".
func (q ContactQuery) Key() string {
	if q.Email != "" {
		return "email:" + q.Email
	}
	if q.Phone.E164 != "" {
		return "phone:" + q.Phone.E164
	}
	return "phone:" + q.Phone.Raw
}

// NewContact is a contact (or lead) to create when nothing matches and the mapping says create.
type NewContact struct {
	Kind      string // KindContact or KindLead; adapters that know only contacts ignore it
	FirstName string
	LastName  string
	Email     string
	Phone     Phone
	Company   string
	OwnerID   string
	Fields    map[string]string // extra CRM fields from the mapping, by CRM field name
}

// Activity is one SMS or call to log on a contact's timeline.
type Activity struct {
	// SourceID is the Onoff id: the SMS id, or for a call "call:" and the call event's id, so the two
	// kinds never share an id (in the ledger, the id field, a batch's trace ids).
	SourceID    string
	ContactID   string    // "" when logging without a contact (where the CRM allows it)
	ContactKind string    // KindContact or KindLead
	CompanyID   string    // associate/relate to this company too; "" for none
	OwnerID     string    // CRM owner/user id; "" for the CRM's default
	Timestamp   time.Time // when the SMS happened
	// Fields are the CRM fields the mapping rendered, by CRM field name (hs_communication_body, Subject, ...).
	Fields map[string]string
	// IDField names the CRM field that holds SourceID for idempotent writes (a HubSpot communications property,
	// a Salesforce external-ID field on Task); "" when the mapping names none. The adapter sets it.
	IDField string
	// IDFieldUnique says the CRM enforces IDField's uniqueness, so it can be read or upserted without search lag.
	IDFieldUnique bool
	// Call is set for a call: the adapter logs a call (HubSpot Call engagement, Salesforce Task of subtype
	// Call) from it, beside the mapping's Fields. nil for an SMS.
	Call *Call `json:",omitempty"`
}

// Result is the outcome of one activity in a batch: the CRM record id, or an error (usually an *Error).
type Result struct {
	ID  string
	Err error
}

// Limits are what an adapter declares about batching.
type Limits struct {
	SearchBatch int // contact queries per FindContacts call (1 when the CRM cannot batch searches)
	WriteBatch  int // activities per LogActivities call
}

// Client is a CRM adapter. Methods may be called from one goroutine at a time per destination; an adapter
// must not assume more concurrency than that, nor less. Every method honours ctx (cancel and deadline).
// Errors should be *Error so the loop knows whether to retry, wait, pause or give up; anything else is
// classified by Classify.
type Client interface {
	// Limits declares batch sizes. It is called once, after New.
	Limits() Limits

	// FindContacts runs queries and returns, for each query in order, the contacts that really match it
	// (phone hits confirmed by comparing normalised numbers). An empty slice means no match. A non-nil error
	// fails the whole call.
	FindContacts(ctx context.Context, queries []ContactQuery) ([][]Contact, error)

	// CreateContact creates a contact (or lead). When the CRM says it already exists and names it, the adapter
	// returns that record with a nil error.
	CreateContact(ctx context.Context, c NewContact) (Contact, error)

	// ResolveOwner returns the CRM owner/user id for an Onoff user's email, or "" with a nil error when the
	// CRM has no such active user.
	ResolveOwner(ctx context.Context, email string) (string, error)

	// LogActivities logs a batch (at most Limits().WriteBatch) and returns one Result per activity, in order.
	// A non-nil error means the call as a whole failed and applies to every activity.
	LogActivities(ctx context.Context, acts []Activity) ([]Result, error)
}

// ActivityFinder is an optional capability: an adapter that can tell whether activities were already logged
// (by their IDField) implements it. The loop uses it before re-sending activities whose earlier attempt ended
// ambiguously (a timeout, a crash after sending): after a crash that can be a whole batch, hence one call.
type ActivityFinder interface {
	// FindActivities returns, for each activity in order, the id of the record holding its SourceID in its
	// IDField, or "" when there is none. The activities share one IDField and one kind (all calls or all
	// SMS); there are at most
	// Limits().WriteBatch of them. A non-nil error fails the whole call.
	FindActivities(ctx context.Context, acts []Activity) ([]string, error)
	// IndexLag is how long after a write FindActivities may still miss it (0 when it reads without a search
	// index).
	IndexLag(a Activity) time.Duration
}

// Attempt is an activity whose earlier attempt ended ambiguously, as it would be sent again, and when that
// attempt was first made.
type Attempt struct {
	Activity Activity
	// Since is when the first attempt was claimed to go out: a record created before it (less a minute, for
	// the clocks' skew) is not this activity.
	Since time.Time
}

// ContentFinder is an optional capability: an adapter that can tell, without an IDField, whether activities
// were already logged, by what they are made of (the contact, the time, the kind, the rendered body). The
// loop uses it before re-sending activities whose earlier attempt ended ambiguously when they have no IDField.
type ContentFinder interface {
	// FindByContent returns, for each attempt in order, the id of the record that is exactly its activity
	// (same contact, same time, same kind, every compared field equal to the one rendered now), or "" when
	// there is none or the adapter cannot tell for sure (the loop then sends it again). Attempts may mix SMS
	// and calls; there are at most Limits().WriteBatch of them, and the adapter uses as few calls as its
	// search limits allow, each counted against them. A non-nil error fails the whole call.
	FindByContent(ctx context.Context, attempts []Attempt) ([]string, error)
	// ContentLag is how long after a write FindByContent may still miss it (0 when it reads without a search
	// index).
	ContentLag(a Activity) time.Duration
}

// ContactUpdate sets fields on one contact (or lead), from the mapping's contact_updates.
type ContactUpdate struct {
	ContactID string
	Kind      string            // KindContact or KindLead
	Fields    map[string]string // by CRM field name; values as the mapping rendered them
}

// ContactUpdater is an optional capability: an adapter that can change contacts' fields implements it.
// Setting a field to the value it holds is harmless, so the loop may send an update again after an ambiguous
// failure.
type ContactUpdater interface {
	// UpdateContacts applies at most Limits().WriteBatch updates, each to a different contact, and returns
	// one Result per update, in order (ID is the contact's id). A contact that no longer exists fails its
	// item with an *Error of Code CodeContactGone; a field the CRM does not know fails with a permanent
	// *Error naming it. A non-nil error means the call as a whole failed and applies to every update.
	UpdateContacts(ctx context.Context, ups []ContactUpdate) ([]Result, error)
}

// ContactFieldChecker is an optional capability for `onoffsync check --online`: an adapter that can tell
// whether contact_updates can write the fields a mapping names.
type ContactFieldChecker interface {
	// CheckContactFields returns, for each field name in order, the problems that would make the CRM refuse
	// an update of it on a matched contact (or lead): none when it can be written. An error means the check
	// itself could not run (credentials, network).
	CheckContactFields(ctx context.Context, names []string) ([][]string, error)
}

// Checker is an optional capability for `onoffsync check --online`: one cheap call that proves the
// credentials work, with a human-readable summary (never including secrets).
type Checker interface {
	Check(ctx context.Context) (string, error)
}

// Throttle paces an adapter's outgoing calls. The loop provides one per destination; adapters call Wait
// before each HTTP request with the limit kind it counts against (e.g. "search", "write").
// Wait returns ctx.Err() when ctx ends first.
type Throttle interface {
	Wait(ctx context.Context, kind string) error
}

// Unthrottled is a Throttle that never waits, for tests and tools.
type Unthrottled struct{}

// Wait returns at once, or ctx.Err() when ctx is already done.
func (Unthrottled) Wait(ctx context.Context, _ string) error { return ctx.Err() }

// RateLimit is a CRM's documented limit for one kind of call, as an adapter declares it.
type RateLimit struct {
	Kind  string  // "search", "write", "requests", ...
	Rate  float64 // sustained calls per second
	Burst int
}

// RateLimiter is an optional capability: an adapter that declares its CRM's rate limits per kind, so the
// loop seeds its Throttle with them (config may override).
type RateLimiter interface {
	RateLimits() []RateLimit
}

// Setup step states, in SetupStep.State.
const (
	SetupExists  = "exists"       // already there: nothing to do
	SetupCreated = "created"      // created by this run
	SetupPlanned = "would create" // a dry run would create it
	SetupManual  = "needs admin"  // the credentials may not do it: Detail says what an admin must do
)

// SetupStep is one thing Setup checked or did in the CRM.
type SetupStep struct {
	What   string // e.g. "communications property onoff_message_id"
	State  string // SetupExists, SetupCreated, SetupPlanned or SetupManual
	Detail string // more, for a person: the exact steps when State is SetupManual; may be ""
}

// Setuper is an optional capability for `onoffsync setup`: an adapter that can prepare the CRM for the exact
// "never twice" path, creating the id field `activity.id_field: auto` looks for (and what makes it usable by
// the integration user). It is idempotent: what exists is reported, not changed. With dryRun it only reads.
// It returns the steps in order, also when it fails part way; the error names a missing scope or permission
// in one line when that is why.
type Setuper interface {
	Setup(ctx context.Context, dryRun bool) ([]SetupStep, error)
}

// IDFieldStatus is where a CRM stands on the id field `onoffsync setup` creates, per kind of activity.
type IDFieldStatus struct {
	SMS, Call             string // the field's name when it exists and is usable, "" when not
	SMSUnique, CallUnique bool   // the CRM enforces its uniqueness
}

// IDFieldResolver is an optional capability for `activity.id_field: auto`: an adapter that can say whether
// the id field `onoffsync setup` creates exists. It asks the CRM afresh on each call (the loop calls it at
// start and after each mapping reload). An error means the CRM could not be asked.
type IDFieldResolver interface {
	ResolveIDField(ctx context.Context) (IDFieldStatus, error)
}
