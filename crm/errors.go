package crm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Action says what the loop should do after a failed CRM call.
type Action int

const (
	// Retry later with backoff: a transient failure (5xx, timeout, connection reset).
	Retry Action = iota
	// Permanent: the same request will never succeed; dead-letter the job at once.
	Permanent
	// RateLimited: wait RetryAfter (or until Until), slow down, and do not count an attempt.
	RateLimited
	// Pause the whole destination: broken credentials or an exhausted quota. Until is when to resume; zero
	// means until the configuration is fixed (or an admin resumes it).
	Pause
	// Done: the record already exists (ID names it); treat the job as delivered.
	Done
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	case RateLimited:
		return "rate_limited"
	case Pause:
		return "pause"
	case Done:
		return "done"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// CodeContactGone is the Error Code every adapter gives an activity whose contact (or company) no longer
// exists in the CRM: the loop drops its cached contact and matches again on the next attempt.
const CodeContactGone = "CONTACT_GONE"

// Error is a classified CRM failure.
type Error struct {
	Action     Action
	Status     int           // HTTP status, 0 for transport errors
	Code       string        // the CRM's category or errorCode (VALIDATION_ERROR, INVALID_SESSION_ID, ...)
	Message    string        // the CRM's message, safe to show an admin (no secrets)
	RetryAfter time.Duration // RateLimited/Retry: how long the CRM asked us to wait
	Until      time.Time     // RateLimited/Pause: when the limit resets (daily caps); zero if unknown
	Daily      bool          // RateLimited: the daily cap, not a short window
	Limit      string        // RateLimited: the limit kind that was hit ("search", "write", ...)
	ID         string        // Done: the existing record
	// NotSent says the data request never went out (getting a token failed, say): resending cannot
	// duplicate anything, whatever Status is.
	NotSent bool
	Err     error // underlying error, if any
}

func (e *Error) Error() string {
	s := e.Action.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Ambiguous reports whether the failed request may have been applied by the CRM anyway (a transport error, a
// 5xx after the request was sent, or a 2xx whose answer could not be read): before sending it again, the loop
// checks whether the record exists.
func (e *Error) Ambiguous() bool {
	return e.Action == Retry && !e.NotSent && (e.Status == 0 || e.Status >= 500 || (e.Status >= 200 && e.Status < 300))
}

// Classify turns any error into an *Error. An *Error anywhere in the chain is returned as is; a context
// cancellation stays a Retry; anything else is a transport failure and retryable.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return TransportError("request", err)
	}
	return &Error{Action: Retry, Err: err}
}

// FromStatus is the fallback classification by HTTP status, for responses an adapter leaves unclassified:
// 408, 425, 429 and 5xx are retryable (429 as RateLimited), other 4xx permanent. retryAfter comes from the
// Retry-After header when there was one.
func FromStatus(status int, code, message string, retryAfter time.Duration) *Error {
	e := &Error{Status: status, Code: code, Message: message, RetryAfter: retryAfter}
	switch {
	case status == http.StatusTooManyRequests:
		e.Action = RateLimited
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status >= 500:
		e.Action = Retry
	case status >= 400:
		e.Action = Permanent
	default:
		e.Action = Retry
	}
	return e
}

// maxRetryAfter caps what a Retry-After header can ask for: a day, past which it is more likely a bug than a plan.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date) relative to now, capped at a day; 0
// when absent or bad.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var secs int64
	if _, err := fmt.Sscanf(h, "%d", &secs); err == nil && secs >= 0 {
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// TransportError is a request that got no HTTP answer (connection refused or dropped, timeout): retryable,
// and ambiguous for a write. what names the request ("POST /crm/v3/..."); its query string and the URL inside
// err are left out, since SOSL and SOQL queries carry phone numbers and emails.
func TransportError(what string, err error) *Error {
	what, _, _ = strings.Cut(what, "?")
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Action: Retry, Message: "network error on " + what, Err: err}
}
