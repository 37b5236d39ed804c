package connector

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/onoffsync/onoffsync/store"
)

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{Reason(ErrBadRequest, "seq must be a number"), http.StatusBadRequest},
		{fmt.Errorf("%w: name a number or an email", ErrBadRequest), http.StatusBadRequest},
		{Reason(ErrUnauthorized, "invalid API key"), http.StatusUnauthorized},
		{Reason(ErrNoRoute, "no such path"), http.StatusNotFound},
		{fmt.Errorf("quarantined event 9: %w", store.ErrNotFound), http.StatusNotFound},
		{Reason(ErrMethodNotAllowed, "method not allowed"), http.StatusMethodNotAllowed},
		{Reason(ErrTimeout, "slow body"), http.StatusRequestTimeout},
		{Reason(ErrTooLarge, "too big"), http.StatusRequestEntityTooLarge},
		{Reason(ErrUnavailable, "could not store the event; retry later"), http.StatusServiceUnavailable},
		{fmt.Errorf("dead letters: %w", store.ErrClosed), http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if got := Reason(ErrBadRequest, "seq must be a number").Error(); got != "seq must be a number" {
		t.Errorf("Reason(...).Error() = %q, want the reason alone", got)
	}
}
