package crm

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

type noRetryKey struct{}

// NoRetry marks a request's context so the client from NewHTTPClient never resends it: a write that, sent
// again after an ambiguous failure, could be applied twice. The sync loop decides about those.
func NoRetry(ctx context.Context) context.Context { return context.WithValue(ctx, noRetryKey{}, true) }

// requestTimeout bounds one HTTP attempt, so a CRM that accepts a connection and never answers cannot hold a
// destination's loop; the timeout is an ambiguous failure the loop resolves like any other.
const requestTimeout = 60 * time.Second

// NewHTTPClient returns the HTTP client adapters use by default: go-retryablehttp retrying transport errors
// and 5xx twice (0.5-5 s apart), so these short retries and the loop's long ones do not multiply; never a 429
// (the loop owns rate limits) nor a request marked with NoRetry. Each attempt times out after a minute.
// Errors pass through with their response.
func NewHTTPClient() *http.Client {
	rc := retryablehttp.NewClient()
	rc.HTTPClient.Timeout = requestTimeout
	rc.RetryMax = 2
	rc.RetryWaitMin = 500 * time.Millisecond
	rc.RetryWaitMax = 5 * time.Second
	rc.Logger = nil
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if ctx.Value(noRetryKey{}) != nil || (resp != nil && resp.StatusCode == http.StatusTooManyRequests) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return rc.StandardClient()
}
