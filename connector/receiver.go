package connector

import (
	"log/slog"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

// Receiver is the webhook receiver: it authenticates Onoff's POSTs, parses them and stores each event durably
// before answering. Its routes are in routes.go.
type Receiver struct {
	cfg       *Config
	store     *store.Store
	log       *slog.Logger
	now       func() time.Time
	metrics   *Metrics
	destNames []string
}

// NewReceiver returns the receiver over an open store.
func NewReceiver(cfg *Config, st *store.Store, opts Options) *Receiver {
	opts = opts.withDefaults()
	s := &Receiver{cfg: cfg, store: st, log: opts.Logger, now: opts.Clock.Now, metrics: opts.Metrics}
	if s.metrics == nil {
		s.metrics = NewMetrics(st, opts.Clock.Now)
	}
	for _, d := range cfg.Destinations {
		s.destNames = append(s.destNames, d.Name)
	}
	return s
}
