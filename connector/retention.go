package connector

import (
	"context"
	"log/slog"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

// sweepEvery is how often retention runs (and once at startup): every 10 minutes, or a tenth of the
// retention period when that is shorter.
func sweepEvery(retention time.Duration) time.Duration {
	return min(10*time.Minute, max(retention/10, time.Second))
}

// Retain applies store.retention until ctx ends: finished events older than it are removed; their
// deduplication entries are kept twice as long, so a late redelivery is still recognised. It returns at
// once when retention is off.
func Retain(ctx context.Context, cfg *Config, st *store.Store, clock Clock, log *slog.Logger) {
	keep := cfg.Store.Retention
	if keep <= 0 {
		return
	}
	if clock == nil {
		clock = realClock{}
	}
	for {
		now := clock.Now()
		n, err := st.Sweep(now.Add(-keep), now.Add(-2*keep))
		if err != nil {
			log.Error("retention sweep", "err", err)
		} else if n > 0 {
			log.Info("retention sweep", "removed_events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(sweepEvery(keep)):
		}
	}
}

// WarnOrphans logs destinations the data file still has unfinished jobs for but the config no longer names
// (removed or renamed): nothing delivers them, and status lists them as "(not configured)".
func WarnOrphans(cfg *Config, st *store.Store, log *slog.Logger) {
	stats, _, err := st.Stats()
	if err != nil {
		return
	}
	known := map[string]bool{}
	for _, d := range cfg.Destinations {
		known[d.Name] = true
	}
	for name, ds := range stats {
		waiting := ds.Counts[store.Pending] + ds.Counts[store.Retrying] + ds.Counts[store.InFlight]
		if !known[name] && waiting > 0 {
			log.Warn("the data file has unfinished jobs for a destination the config no longer names; restore it to deliver them",
				"destination", name, "jobs", waiting)
		}
	}
}
