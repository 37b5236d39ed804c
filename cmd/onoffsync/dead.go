package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/onoffsync/onoffsync/connector/admin"
	"github.com/onoffsync/onoffsync/store"
)

// jobKind is a kind of job an admin lists, retries and drops by Onoff id: dead letters, parked SMS.
type jobKind[T any] struct {
	name   string // the command
	noun   string // what one is called in messages
	ref    func(T) (dest string, seq uint64, onoffID string)
	list   func(api admin.API, dest string, limit int) ([]T, error)
	retry  func(api admin.API) func(store.Selector) (int, error)
	drop   func(api admin.API) func(store.Selector) (int, error)
	header string         // the table's header line
	row    func(T) string // one tab-separated table row
}

var deadKind = jobKind[admin.DeadLetter]{
	name: "dead", noun: "dead letter",
	ref:    func(d admin.DeadLetter) (string, uint64, string) { return d.Destination, d.Seq, d.SourceID },
	list:   admin.API.DeadList,
	retry:  func(api admin.API) func(store.Selector) (int, error) { return api.DeadRetry },
	drop:   func(api admin.API) func(store.Selector) (int, error) { return api.DeadDrop },
	header: "DESTINATION\tSEQ\tONOFF ID\tATTEMPTS\tRECEIVED\tLAST ERROR",
	row: func(d admin.DeadLetter) string {
		return fmt.Sprintf("%s\t%d\t%s\t%d\t%s\t%s", cell(d.Destination), d.Seq, cell(d.SourceID), d.Attempts, d.Received.Format(time.RFC3339), cell(d.LastError))
	},
}

var parkedKind = jobKind[admin.ParkedSMS]{
	name: "parked", noun: "parked SMS",
	ref:    func(p admin.ParkedSMS) (string, uint64, string) { return p.Destination, p.Seq, p.SourceID },
	list:   admin.API.ParkedList,
	retry:  func(api admin.API) func(store.Selector) (int, error) { return api.ParkedRetry },
	drop:   func(api admin.API) func(store.Selector) (int, error) { return api.ParkedDrop },
	header: "DESTINATION\tSEQ\tONOFF ID\tRECEIVED\tPARKED\tNEXT RECHECK",
	row: func(p admin.ParkedSMS) string {
		return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s", cell(p.Destination), p.Seq, cell(p.SourceID), p.Received.Format(time.RFC3339),
			p.Parked.Format(time.RFC3339), p.NextRecheck.Format(time.RFC3339))
	},
}

func cmdDead(e *env, args []string) error { return cmdJobs(e, args, deadKind) }

// cmdParked is `onoffsync parked list|retry|drop`: SMS waiting for their contact (match.on_no_match: park).
// retry matches them again now; drop deletes them unlogged.
func cmdParked(e *env, args []string) error { return cmdJobs(e, args, parkedKind) }

func cmdJobs[T any](e *env, args []string, k jobKind[T]) error {
	fs, path := e.flags(k.name)
	dest := fs.String("destination", "", "only this destination")
	seq := fs.Uint64("seq", 0, "only this event (with --destination)")
	onoffID := fs.String("id", "", "only the "+k.noun+"s of this Onoff SMS id")
	all := fs.Bool("all", false, "every "+k.noun+" (retry, drop)")
	limit := fs.Int("limit", 100, "list at most this many")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"want one of list, retry, drop"}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	action := pos[0]
	if action != "list" && action != "retry" && action != "drop" {
		return usageError{"unknown action " + action + " (want list, retry or drop)"}
	}
	if action != "list" && *dest == "" && !*all && *onoffID == "" {
		return usageError{"name --id, --destination (and --seq), or --all"}
	}
	if *seq != 0 && *dest == "" {
		return usageError{"--seq needs --destination"}
	}
	api, done, err := e.admin(cfg, action != "list")
	if err != nil {
		return err
	}
	defer done()
	sels := []store.Selector{{Dest: *dest, Seq: *seq}}
	if *onoffID != "" { // resolve the Onoff id to its jobs, in every destination unless one is named
		l, err := k.list(api, *dest, 1<<30)
		if err != nil {
			return err
		}
		sels = nil
		for _, x := range l {
			if d, s, id := k.ref(x); id == *onoffID {
				sels = append(sels, store.Selector{Dest: d, Seq: s})
			}
		}
		if len(sels) == 0 && action != "list" {
			return fmt.Errorf("no %s with Onoff id %q", k.noun, *onoffID)
		}
	}
	apply := func(fn func(store.Selector) (int, error)) (int, error) {
		total := 0
		for _, sel := range sels {
			n, err := fn(sel)
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	switch action {
	case "list":
		l, err := k.list(api, *dest, *limit)
		if err != nil {
			return err
		}
		if *onoffID != "" {
			l = slices.DeleteFunc(l, func(x T) bool { _, _, id := k.ref(x); return id != *onoffID })
		}
		if *asJSON {
			return printJSON(e.stdout, l)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, k.header)
		for _, x := range l {
			fmt.Fprintln(tw, k.row(x))
		}
		return tw.Flush()
	case "retry":
		n, err := apply(k.retry(api))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d %s(s) queued again\n", n, k.noun)
	case "drop":
		n, err := apply(k.drop(api))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d %s(s) dropped\n", n, k.noun)
	}
	return nil
}
