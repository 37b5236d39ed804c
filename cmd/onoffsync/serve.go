package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/connector/admin"
	"github.com/onoffsync/onoffsync/store"
)

// shutdownGrace is how long serve waits for in-flight requests on SIGTERM: well within Docker's 10 s stop
// timeout, and far above one fsync'd commit.
const shutdownGrace = 5 * time.Second

func cmdServe(e *env, args []string) error {
	fs, path := e.flags("serve")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"unexpected argument " + pos[0]}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	logger := connector.NewLogger(cfg.Log, e.stderr)
	return serve(e.ctx, cfg, connector.Options{Logger: logger, Stdout: e.stdout}, reloads(e.ctx),
		func(r, a net.Addr) {
			fmt.Fprintf(e.stderr, "onoffsync %s: receiving webhooks on %s%s (admin on %s)\n", versionString(), r, cfg.Server.Path, a)
		})
}

// serve opens the store, starts the receiver, the admin listener, retention and one sync loop per destination,
// calls ready once both listeners are bound, and serves until ctx ends; then it stops accepting, finishes
// in-flight requests, stops the loops and closes the store. Each value from reload reloads the mappings.
func serve(ctx context.Context, cfg *connector.Config, opts connector.Options, reload <-chan struct{}, ready func(receiver, admin net.Addr)) error {
	log := opts.Logger
	for _, n := range cfg.Notes {
		log.Warn("config: " + n)
	}
	if len(cfg.Server.APIKeys) == 0 {
		log.Warn("webhook authentication is OFF (server.allow_unauthenticated): anyone who can reach the receiver can post events")
	} else if cfg.UsesDevKey() {
		log.Warn("the receiver accepts the development key " + connector.DevKey + ": set ONOFF_API_KEY (or server.api_keys) before exposing it")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	opts.Metrics = connector.NewMetrics(st, time.Now)
	syncer, err := connector.NewSyncer(cfg, st, opts)
	if err != nil {
		return err
	}
	connector.WarnOrphans(cfg, st, log)
	defer syncer.Close()

	rl, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("receiver listen: %w", err)
	}
	al, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		rl.Close()
		return fmt.Errorf("admin listen: %w", err)
	}
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	receiver := &http.Server{Handler: connector.NewReceiver(cfg, st, opts).Handler(), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout: cfg.Server.ReadTimeout, WriteTimeout: cfg.Server.ReadTimeout + 10*time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errorLog}
	adminSrv := &http.Server{Handler: admin.New(cfg, st, syncer, time.Now).Handler(opts.Metrics, log),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, ErrorLog: errorLog}

	loopCtx, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(4)
	go func() {
		defer wg.Done()
		connector.Retain(loopCtx, cfg, st, opts.Clock, log)
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
		var err error
		if cfg.Admin.TLSCert != "" {
			err = adminSrv.ServeTLS(al, cfg.Admin.TLSCert, cfg.Admin.TLSKey)
		} else {
			err = adminSrv.Serve(al)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		syncer.Run(loopCtx, reload)
	}()
	log.Info("onoffsync serving", "receiver", rl.Addr().String(), "path", cfg.Server.Path, "admin", al.Addr().String(),
		"store", cfg.Store.Path, "destinations", len(cfg.Destinations))
	if ready != nil {
		ready(rl.Addr(), al.Addr())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop accepting; in-flight webhooks finish and are committed. A body still trickling in when the grace
	// ends is cut (it was never answered 200, so Onoff sends it again).
	if receiver.Shutdown(shutCtx) != nil {
		receiver.Close()
	}
	if adminSrv.Shutdown(shutCtx) != nil {
		adminSrv.Close()
	}
	stopLoops()
	wg.Wait()
	return runErr
}
