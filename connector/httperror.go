package connector

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onoffsync/onoffsync/store"
)

// Kinds of request failure, for HTTPStatus. Wrap one (fmt.Errorf("%w: ...", ErrBadRequest)) or give it a
// reason of its own with Reason.
var (
	ErrBadRequest       = errors.New("bad request")
	ErrUnauthorized     = errors.New("unauthorized")
	ErrNoRoute          = errors.New("no such route")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrTimeout          = errors.New("request timeout")
	ErrTooLarge         = errors.New("request too large")
	ErrUnavailable      = errors.New("unavailable")
	// ErrUnsupportedEncoding is a Content-Encoding the receiver cannot read.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
)

// HTTPStatus is the one map from errors to HTTP statuses, for the receiver and the admin API alike: a kind
// above, or a store error; anything else is a 500.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNoRoute), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrTimeout):
		return http.StatusRequestTimeout
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnsupportedEncoding):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrUnavailable), errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// reasonError is a kind with the reason a client is shown, in place of the kind's name.
type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

// Reason is an error of kind (one of the Err kinds above) whose message is reason alone.
func Reason(kind error, reason string) error { return &reasonError{kind: kind, reason: reason} }

// Abort answers err as {"error": err.Error()} with HTTPStatus(err), and stops the handler chain.
func Abort(c *gin.Context, err error) {
	c.AbortWithStatusJSON(HTTPStatus(err), gin.H{"error": err.Error()})
}

// Recovery answers a handler's panic with a JSON 500 and reports it to logPanic (nil: not reported).
func Recovery(logPanic func(c *gin.Context, v any)) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		if logPanic != nil {
			logPanic(c, v)
		}
		Abort(c, errors.New("internal error"))
	})
}
