package page

import (
	"context"
	"errors"
	"time"
)

// Backend is everything the page reads and changes. The page calls it from concurrent requests, so an
// implementation must be safe for concurrent use. Methods get the request's context and should return when it
// is cancelled. An error wrapping ErrNotFound is shown as "not found" (404), one wrapping ErrBadRequest as the
// user's mistake (400); any other error as an internal failure (500) with its text, escaped. A Backend may
// also implement Parker.
type Backend interface {
	// Overview is the state of the receiver and of every destination.
	Overview(ctx context.Context) (Overview, error)
	// DeadLetters lists the dead jobs that match f, oldest first, at most f.Limit of them.
	DeadLetters(ctx context.Context, f DeadFilter) ([]DeadLetter, error)
	// RetryDead makes the named dead jobs pending again and returns how many it changed; a job that is no
	// longer dead is skipped, not an error.
	RetryDead(ctx context.Context, refs []DeadRef) (int, error)
	// DropDead deletes the named dead jobs and returns how many it deleted.
	DropDead(ctx context.Context, refs []DeadRef) (int, error)
	// Quarantine lists quarantined webhooks, oldest first, with their problems but without their payload.
	Quarantine(ctx context.Context, limit int) ([]Quarantined, error)
	// QuarantinedEvent returns one quarantined webhook with its raw payload.
	QuarantinedEvent(ctx context.Context, seq uint64) (Quarantined, error)
	// Requeue validates a quarantined webhook again with today's rules: a now-valid SMS leaves the quarantine
	// and is queued for every destination. It returns the event as it is afterwards (still quarantined, with
	// its problems, when it is still invalid).
	Requeue(ctx context.Context, seq uint64) (Quarantined, error)
	// DropQuarantined deletes a quarantined webhook.
	DropQuarantined(ctx context.Context, seq uint64) error
	// Find returns the stored SMS whose Onoff id is q, or whose other party's number is q (compared after
	// normalisation), newest first, at most limit of them.
	Find(ctx context.Context, q string, limit int) ([]Found, error)
	// Preview runs dest's mapping over a webhook payload without calling anything. Problems with the payload
	// or the mapping are returned in Preview.Errors; err is for failures of the backend itself.
	Preview(ctx context.Context, dest string, payload []byte) (Preview, error)
}

// Parker is the optional capability of a Backend that parks jobs (holds them for an admin's decision). The
// page shows the "Parked" link only when its Backend implements it.
type Parker interface {
	// Parked lists parked jobs, oldest first, at most limit of them.
	Parked(ctx context.Context, limit int) ([]Parked, error)
}

var (
	// ErrNotFound marks an unknown id (a dead job, a quarantined event, a destination).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest marks a request the user can correct.
	ErrBadRequest = errors.New("bad request")
)

// Overview is what the front page shows.
type Overview struct {
	// Offline says the numbers come from the data file while no sync loop runs (live fields are then empty).
	Offline      bool
	Receiver     Receiver
	Destinations []Destination
}

// Receiver is the webhook receiver's state.
type Receiver struct {
	LastEvent   time.Time // when the last webhook was stored; zero when none (or unknown)
	Quarantined int64     // webhooks waiting in quarantine
}

// Destination is one destination's state.
type Destination struct {
	Name string
	Type string // hubspot, salesforce, log, or "(not configured)" for jobs of a removed destination
	// Paused says the loop stopped sending; PauseReason says why, PausedUntil until when (zero: until an
	// admin resumes it or the configuration is fixed).
	Paused      bool
	PauseReason string
	PausedUntil time.Time
	Pending     int64 // waiting for a first attempt, or being sent
	Retrying    int64
	Parked      int64 // SMS waiting for their contact (match.on_no_match: park)
	Dead        int64
	// OldestPending is when the oldest job still to deliver was queued; zero when none.
	OldestPending time.Time
	Rates         []Rate
	LastError     string
	// Delivered counts the SMS logged in the CRM in the last hour and day, when DeliveredKnown.
	DeliveredKnown bool
	DeliveredHour  int64
	DeliveredDay   int64
}

// Rate is one kind of CRM call's pace: what the adaptive throttle allows now, against the configured limit.
type Rate struct {
	Kind    string  // "search", "write", ...
	Current float64 // requests per second allowed now
	Limit   float64 // requests per second configured; 0 when unknown
}

// DeadFilter selects dead letters; empty fields match everything.
type DeadFilter struct {
	Destination string
	Code        string // the CRM's error code or HTTP status, as shown in the list
	OnoffID     string
	Number      string // the other party's number, in any format
	Limit       int
}

// DeadRef names one dead job.
type DeadRef struct {
	Destination string
	Seq         uint64
}

// DeadLetter is a job given up on, with its SMS.
type DeadLetter struct {
	DeadRef
	OnoffID  string
	Attempts int
	Received time.Time // when the webhook arrived
	Died     time.Time // when the job was given up
	Failure  Failure
	SMS      SMS // zero when the stored payload cannot be read
}

// Failure is a CRM failure as stored with a job.
type Failure struct {
	Message string // the whole error as stored
	Status  int    // HTTP status; 0 for transport errors or when unknown
	Code    string // the CRM's error code (VALIDATION_ERROR, INVALID_FIELD, ...), "" when none
	Kind    string // "permanent", "retry", "pause", "rate_limited", or "" when unknown
}

// SMS is what the page shows of an SMS.
type SMS struct {
	Date       time.Time
	Direction  string // "SENT" (the Onoff user wrote it) or "RECEIVED"
	UserName   string
	UserNumber string
	External   string // the other party's number
	ExtName    string
	Body       string
}

// Quarantined is a webhook the receiver stored but could not accept.
type Quarantined struct {
	Seq      uint64
	OnoffID  string
	Status   string // "quarantined", or what it became after a requeue ("accepted", "ignored")
	Received time.Time
	Problems map[string]string // field -> problem
	Raw      string            // the payload exactly as received; only from QuarantinedEvent
}

// Found is one stored SMS and where it is in each destination.
type Found struct {
	Seq        uint64
	OnoffID    string
	Status     string // the event's status: accepted, quarantined, ignored
	Received   time.Time
	SMS        SMS
	Deliveries []Delivery
}

// Delivery is one SMS's job for one destination.
type Delivery struct {
	Destination string
	State       string // pending, in_flight, retrying, done, skipped, dead
	Attempts    int
	NextAttempt time.Time // for pending and retrying jobs
	Error       string
	RecordID    string // the CRM's id of the logged activity, once done
	RecordURL   string // a link to that record when the CRM instance URL is known; "" otherwise
}

// Preview is what a destination's mapping makes of a payload.
type Preview struct {
	Mapping string   // where the mapping came from (a file, inline, the built-in default)
	Result  string   // what the CRM would receive, as indented JSON; "" when Errors
	Errors  []string // problems with the payload or the mapping
}

// Parked is a job held for an admin's decision.
type Parked struct {
	DeadRef
	OnoffID string
	Reason  string
	Since   time.Time
}
