package connector

import (
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/onoffsync/onoffsync/crm"
)

// Options are what NewSyncer and NewReceiver take from their environment.
type Options struct {
	Clock      Clock        // default: the real clock; the one time source of loops, store and metrics
	Logger     *slog.Logger // default: discard
	Stdout     io.Writer    // where a log destination with output "-" writes
	HTTPClient *http.Client // adapters' HTTP client; nil for their defaults
	// Metrics records what the receiver and the loops do; nil: NewReceiver makes its own, the loops record none.
	Metrics *Metrics
	// Adapters builds the adapter of the destinations it names (tests, embedding) with the deps the loop would
	// give a built-in one; the rest are built from config.
	Adapters map[string]func(AdapterDeps) (crm.Client, error)
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o
}
