package main

import (
	"fmt"
	"time"
)

// cmdCalls is `onoffsync calls requeue-ignored [--since TIME]`: the admin's way to sync call events stored as
// ignored, by a version that did not sync calls or while no destination synced them. Upgrading never does it
// by itself.
func cmdCalls(e *env, args []string) error {
	fs, path := e.flags("calls")
	since := fs.String("since", "", "only events received at or after this time (RFC 3339, e.g. 2026-05-20T00:00:00Z)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "requeue-ignored" {
		return usageError{"want requeue-ignored [--since TIME]"}
	}
	var t time.Time
	if *since != "" {
		if t, err = time.Parse(time.RFC3339, *since); err != nil {
			return usageError{"--since must be an RFC 3339 time, e.g. 2026-05-20T00:00:00Z"}
		}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	api, done, err := e.admin(cfg, true)
	if err != nil {
		return err
	}
	defer done()
	r, err := api.RequeueIgnoredCalls(t)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d ignored call event(s) queued for the destinations that sync calls; %d left ignored (not valid, or no destination syncs calls)\n", r.Requeued, r.Left)
	return nil
}
