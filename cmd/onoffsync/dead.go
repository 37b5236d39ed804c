package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/onoffsync/onoffsync/connector/admin"
	"github.com/onoffsync/onoffsync/store"
)

func cmdDead(e *env, args []string) error {
	fs, path := e.flags("dead")
	dest := fs.String("destination", "", "only this destination")
	seq := fs.Uint64("seq", 0, "only this event (with --destination)")
	onoffID := fs.String("id", "", "only the dead letters of this Onoff SMS id")
	all := fs.Bool("all", false, "every dead letter (retry, drop)")
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
	if *onoffID != "" { // resolve the Onoff id to its dead jobs, in every destination unless one is named
		dl, err := api.DeadList(*dest, 1<<30)
		if err != nil {
			return err
		}
		sels = nil
		for _, d := range dl {
			if d.SourceID == *onoffID {
				sels = append(sels, store.Selector{Dest: d.Destination, Seq: d.Seq})
			}
		}
		if len(sels) == 0 && action != "list" {
			return fmt.Errorf("no dead letter with Onoff id %q", *onoffID)
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
		dl, err := api.DeadList(*dest, *limit)
		if err != nil {
			return err
		}
		if *onoffID != "" {
			dl = slices.DeleteFunc(dl, func(d admin.DeadLetter) bool { return d.SourceID != *onoffID })
		}
		if *asJSON {
			return printJSON(e.stdout, dl)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "DESTINATION\tSEQ\tONOFF ID\tATTEMPTS\tRECEIVED\tLAST ERROR")
		for _, d := range dl {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", cell(d.Destination), d.Seq, cell(d.SourceID), d.Attempts, d.Received.Format(time.RFC3339), cell(d.LastError))
		}
		return tw.Flush()
	case "retry":
		n, err := apply(api.DeadRetry)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d dead letter(s) queued again\n", n)
	case "drop":
		n, err := apply(api.DeadDrop)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d dead letter(s) dropped\n", n)
	}
	return nil
}
