// Command onoffsync receives Onoff Business SMS webhooks and logs each SMS in HubSpot or Salesforce.
//
// It owns the command line only: one file per command, over connector and connector/admin; nothing imports it.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// main sets up what belongs to the process (signals, GC tuning), runs one command, and releases them when run
// returns.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	restoreGC := tuneGC(os.Getenv)
	ctx, stopReload := forwardSIGHUP(ctx)
	code := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stopReload()
	restoreGC()
	stop()
	os.Exit(code)
}

// tuneGC trades a little memory for CPU unless the operator set GOGC or GOMEMLIMIT: the live heap is small
// (about 10 MB under load), so collecting at 4x it instead of 2x removes most GC work, and a 48 MiB soft
// limit makes the collector work harder before the process nears 64 MB. Measured with the load bench: about
// a quarter more webhooks per second with delivery running. It returns a func that restores the settings.
func tuneGC(getenv func(string) string) (restore func()) {
	percent, limit := -2, int64(-1)
	if getenv("GOGC") == "" {
		percent = debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(48 << 20)
	}
	return func() {
		if percent != -2 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// reloadKey is the context key of the SIGHUP channel (see forwardSIGHUP).
type reloadKey struct{}

// forwardSIGHUP returns ctx carrying a channel that receives a value on each SIGHUP (coalesced), for serve to
// reload its mappings; stop ends the forwarding and its goroutine.
func forwardSIGHUP(ctx context.Context) (_ context.Context, stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-done:
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return context.WithValue(ctx, reloadKey{}, (<-chan struct{})(reload)), func() {
		signal.Stop(hup)
		close(done)
		<-exited
	}
}

// reloads returns the SIGHUP channel main set up, or nil (never ready) when run is called without one (tests).
func reloads(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(reloadKey{}).(<-chan struct{})
	return ch
}
