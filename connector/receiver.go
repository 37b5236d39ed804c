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
	destNames []string // destinations that sync SMS
	callDests []string // destinations that sync calls
}

// NewReceiver returns the receiver over an open store.
func NewReceiver(cfg *Config, st *store.Store, opts Options) *Receiver {
	opts = opts.withDefaults()
	s := &Receiver{cfg: cfg, store: st, log: opts.Logger, now: opts.Clock.Now, metrics: opts.Metrics}
	if s.metrics == nil {
		s.metrics = NewMetrics(st, opts.Clock.Now)
	}
	for _, d := range cfg.Destinations {
		if d.Syncs(ClassSMS) {
			s.destNames = append(s.destNames, d.Name)
		}
		if d.Syncs(ClassCall) {
			s.callDests = append(s.callDests, d.Name)
		}
	}
	return s
}
