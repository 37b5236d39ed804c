package connector

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

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
	refusals  *logLimiter
}

// NewReceiver returns the receiver over an open store.
func NewReceiver(cfg *Config, st *store.Store, opts Options) *Receiver {
	opts = opts.withDefaults()
	s := &Receiver{cfg: cfg, store: st, log: opts.Logger, now: opts.Clock.Now, metrics: opts.Metrics,
		refusals: newLogLimiter(rate.Every(time.Second), 10)}
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

// logLimiter lets a burst of warnings through, then one per interval, so a flood of bad requests cannot fill
// the disk with log lines; the line after a quiet spell says how many were left out (suppressed).
type logLimiter struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	suppressed int
}

func newLogLimiter(every rate.Limit, burst int) *logLimiter {
	return &logLimiter{lim: rate.NewLimiter(every, burst)}
}

// log writes msg at warn level to log unless the limit is reached at now.
func (l *logLimiter) log(log *slog.Logger, now time.Time, msg string, args ...any) {
	l.mu.Lock()
	ok := l.lim.AllowN(now, 1)
	n := l.suppressed
	if ok {
		l.suppressed = 0
	} else {
		l.suppressed++
	}
	l.mu.Unlock()
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}
