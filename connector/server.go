// Package connector is onoffsync's domain: configuration, the webhook receiver (routes.go lists every route),
// the admin API, and the per-destination sync loops that drive CRM adapters.
package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// Options are what Run and NewServer take from their environment.
type Options struct {
	Clock      Clock            // default: the real clock
	Now        func() time.Time // default Clock.Now
	Logger     *slog.Logger     // default: discard
	Stdout     io.Writer        // where a log destination with output "-" writes
	HTTPClient *http.Client     // adapters' HTTP client; nil for their defaults
	// Ready is called once both listeners are bound, with their addresses.
	Ready func(receiver, admin net.Addr)
	// Adapters builds the adapter of the destinations it names (tests, embedding) with the deps the loop would
	// give a built-in one; the rest are built from config.
	Adapters map[string]func(AdapterDeps) (crm.Client, error)
	// Reload, when not nil, delivers mapping reload requests (SIGHUP).
	Reload <-chan struct{}
}

// Server is a running onoffsync: receiver, admin API and sync loops over one store.
type Server struct {
	cfg       *Config
	store     *store.Store
	log       *slog.Logger
	now       func() time.Time
	metrics   *Metrics
	destNames []string
	sync      *Syncer
	admin     *Admin
}

// NewServer wires a server over an open store; sync may be nil (receiver and admin only).
func NewServer(cfg *Config, st *store.Store, sync *Syncer, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{cfg: cfg, store: st, log: opts.Logger, now: opts.Now, sync: sync}
	for _, d := range cfg.Destinations {
		s.destNames = append(s.destNames, d.Name)
	}
	s.metrics = NewMetrics(st, opts.Now)
	if sync != nil {
		sync.metrics = s.metrics
	}
	s.admin = NewAdmin(cfg, st, sync, opts.Now)
	return s
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o
}

// Run opens the store, starts the receiver, the admin listener and one sync loop per destination, and serves
// until ctx ends; then it stops accepting, finishes in-flight requests, stops the loops and closes the store.
func Run(ctx context.Context, cfg *Config, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger
	if len(cfg.Server.APIKeys) == 0 {
		log.Warn("webhook authentication is OFF (server.allow_unauthenticated): anyone who can reach the receiver can post events")
	} else if cfg.UsesDevKey() {
		log.Warn("the receiver accepts the development key " + DevKey + ": set ONOFF_API_KEY (or server.api_keys) before exposing it")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(cfg.Store.Path, store.Options{Now: opts.Now})
	if err != nil {
		return err
	}
	defer st.Close()

	syncer, err := NewSyncer(cfg, st, opts)
	if err != nil {
		return err
	}
	warnOrphans(cfg, st, log)
	defer syncer.Close()
	srv := NewServer(cfg, st, syncer, opts)

	rl, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("receiver listen: %w", err)
	}
	al, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		rl.Close()
		return fmt.Errorf("admin listen: %w", err)
	}
	receiver := &http.Server{Handler: srv.ReceiverHandler(), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout: cfg.Server.ReadTimeout, WriteTimeout: cfg.Server.ReadTimeout + 10*time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	admin := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(4)
	go func() {
		defer wg.Done()
		srv.retain(loopCtx, opts.Clock)
	}()
	go func() {
		defer wg.Done()
		var err error
		if cfg.Server.TLSCert != "" {
			err = receiver.ServeTLS(rl, cfg.Server.TLSCert, cfg.Server.TLSKey)
		} else {
			err = receiver.Serve(rl)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("receiver: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := admin.Serve(al); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		syncer.Run(loopCtx, opts.Reload)
	}()
	log.Info("onoffsync serving", "receiver", rl.Addr().String(), "path", cfg.Server.Path, "admin", al.Addr().String(),
		"store", cfg.Store.Path, "destinations", len(cfg.Destinations))
	if opts.Ready != nil {
		opts.Ready(rl.Addr(), al.Addr())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	receiver.Shutdown(shutCtx) // stop accepting; in-flight webhooks finish and are committed
	admin.Shutdown(shutCtx)
	stopLoops()
	wg.Wait()
	return runErr
}

// sweepEvery is how often retention runs (and once at startup): every 10 minutes, or a tenth of the
// retention period when that is shorter.
func sweepEvery(retention time.Duration) time.Duration {
	return min(10*time.Minute, max(retention/10, time.Second))
}

// retain applies store.retention until ctx ends: finished events older than it are removed; their
// deduplication entries are kept twice as long, so a late redelivery is still recognised.
func (s *Server) retain(ctx context.Context, clock Clock) {
	keep := s.cfg.Store.Retention
	if keep <= 0 {
		return
	}
	for {
		now := clock.Now()
		n, err := s.store.Sweep(now.Add(-keep), now.Add(-2*keep))
		if err != nil {
			s.log.Error("retention sweep", "err", err)
		} else if n > 0 {
			s.log.Info("retention sweep", "removed_events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(sweepEvery(keep)):
		}
	}
}

// warnOrphans logs destinations the data file still has unfinished jobs for but the config no longer names
// (removed or renamed): nothing delivers them, and status lists them as "(not configured)".
func warnOrphans(cfg *Config, st *store.Store, log *slog.Logger) {
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
