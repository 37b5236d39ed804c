package crm

import (
	"log/slog"
	"net/http"
	"time"
)

// Options are what every adapter's constructor takes from the sync loop (hubspot.Options and
// salesforce.Options are this type). Zero fields mean the defaults WithDefaults fills in.
type Options struct {
	HTTPClient *http.Client     // nil: NewHTTPClient (two retries, never a 429 nor a NoRetry request)
	Throttle   Throttle         // nil: Unthrottled; the adapter waits on it before every request
	Now        func() time.Time // nil: time.Now
	Location   *time.Location   // destination time zone (daily-cap resets, date-only fields); nil: UTC
	Logger     *slog.Logger     // nil: discard. Adapters never log secrets, nor SMS bodies at Info
}

// WithDefaults returns o with every nil field set to its default.
func (o Options) WithDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	if o.Throttle == nil {
		o.Throttle = Unthrottled{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
