package connector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// Syncer runs one sync loop per destination. Loops are isolated: a destination that is down, paused or rate
// limited never delays another.
type Syncer struct {
	cfg     *Config
	store   *store.Store
	log     *slog.Logger
	clock   Clock
	metrics *Metrics
	loops   []*loop
	byName  map[string]*loop
	phones  *crm.PhoneCache // shared by the loops: every destination parses the same numbers
}

// NewSyncer builds every destination's adapter and mapping; it fails on the first that cannot be built.
func NewSyncer(cfg *Config, st *store.Store, opts Options) (*Syncer, error) {
	opts = opts.withDefaults()
	s := &Syncer{cfg: cfg, store: st, log: opts.Logger, clock: opts.Clock, metrics: opts.Metrics, byName: map[string]*loop{},
		phones: crm.NewPhoneCache(50000)}
	for _, d := range cfg.Destinations {
		m, err := LoadMapping(d)
		if err != nil {
			return nil, err
		}
		l := &loop{s: s, dest: d, wake: make(chan struct{}, 1), owners: map[string]ownerEntry{},
			log: opts.Logger.With("destination", d.Name)}
		l.mapping.Store(m)
		l.throttle = newThrottle(nil, opts.Clock)
		deps := AdapterDeps{HTTPClient: opts.HTTPClient, Throttle: l.throttle, Now: opts.Clock.Now, Logger: l.log, Stdout: opts.Stdout}
		build := opts.Adapters[d.Name]
		if build == nil {
			build = func(deps AdapterDeps) (crm.Client, error) { return NewClient(d, deps) }
		}
		client, err := build(deps)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		if rl, ok := client.(crm.RateLimiter); ok {
			l.throttle.setLimits(rl.RateLimits())
		}
		l.client = client
		s.loops = append(s.loops, l)
		s.byName[d.Name] = l
	}
	st.OnJob(func(dest string) {
		if l := s.byName[dest]; l != nil {
			l.poke()
		}
	})
	return s, nil
}

// LoadMapping loads d's mapping: its file, its inline map, or the built-in default for its type.
func LoadMapping(d Destination) (*mapping.Mapping, error) {
	opts := mapping.Options{CRM: d.Type, Location: d.Location}
	switch {
	case d.MappingPath != "":
		return mapping.Load(d.MappingPath, opts)
	case d.MappingNode != nil:
		return mapping.ParseNode(d.File, d.MappingNode, opts)
	default:
		return mapping.LoadDefault(opts)
	}
}

// Run drives every loop until ctx ends, and reloads mappings on each value from reload.
func (s *Syncer) Run(ctx context.Context, reload <-chan struct{}) {
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-reload:
			s.Reload()
		}
	}
}

// Reload re-reads every destination's mapping file. An invalid edit is logged and the previous mapping kept.
// An "auto" id field is asked of the CRM again before the next batch.
// Destinations paused until their configuration is fixed are resumed, to try again.
func (s *Syncer) Reload() []error {
	var errs []error
	for _, l := range s.loops {
		if l.dest.MappingPath != "" {
			m, err := LoadMapping(l.dest)
			if err != nil {
				l.log.Error("mapping reload rejected; keeping the previous mapping", "err", err)
				errs = append(errs, err)
			} else {
				l.mapping.Store(m)
				l.log.Info("mapping reloaded", "file", l.dest.MappingPath)
			}
		}
		l.autoID.forget()
		l.resume()
	}
	return errs
}

// Resume lifts a destination's pause; it reports false for an unknown destination.
func (s *Syncer) Resume(dest string) bool {
	l := s.byName[dest]
	if l != nil {
		l.resume()
	}
	return l != nil
}

// Close releases the adapters' resources (open log files).
func (s *Syncer) Close() {
	for _, l := range s.loops {
		if c, ok := l.client.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// LoopStatus is a destination's live state, for status and metrics.
type LoopStatus struct {
	Paused      bool               `json:"paused"`
	PauseReason string             `json:"pause_reason,omitempty"`
	PausedUntil time.Time          `json:"paused_until,omitzero"`
	LastError   string             `json:"last_error,omitempty"`
	Rates       map[string]float64 `json:"rates_per_second,omitempty"`
	Limits      map[string]float64 `json:"limits_per_second,omitempty"` // the configured rates Rates recover to
	Mapping     string             `json:"mapping"`
}

// Status returns a destination's live state.
func (s *Syncer) Status(dest string) (LoopStatus, bool) {
	l := s.byName[dest]
	if l == nil {
		return LoopStatus{}, false
	}
	l.mu.Lock()
	st := LoopStatus{Paused: l.paused, PauseReason: l.pauseReason, PausedUntil: l.pausedUntil, LastError: l.lastError}
	l.mu.Unlock()
	st.Rates, st.Limits = l.throttle.rates(), l.throttle.limits()
	st.Mapping = l.mapping.Load().Source()
	return st, true
}
