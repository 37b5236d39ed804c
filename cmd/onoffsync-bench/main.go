// Command onoffsync-bench measures the real onoffsync binary over loopback: webhook load against a no-op
// baseline, the drain of a pre-filled backlog, and the data file's growth under retention. See run.go.
// It drives the binary from outside: it imports only store (to pre-fill a data file) and the fake CRMs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
