package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

func cmdQuarantine(e *env, args []string) error {
	fs, path := e.flags("quarantine")
	limit := fs.Int("limit", 100, "list at most this many")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"want one of list, show SEQ, requeue SEQ, drop SEQ"}
	}
	action := pos[0]
	var seq uint64
	switch action {
	case "list":
		if len(pos) != 1 {
			return usageError{"list takes no argument"}
		}
	case "show", "requeue", "drop":
		if len(pos) != 2 {
			return usageError{action + " takes one SEQ (see quarantine list)"}
		}
		if seq, err = strconv.ParseUint(pos[1], 10, 64); err != nil || seq == 0 {
			return usageError{"SEQ must be a positive number, got " + pos[1]}
		}
	default:
		return usageError{"unknown action " + action}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	api, done, err := e.admin(cfg, action == "requeue" || action == "drop")
	if err != nil {
		return err
	}
	defer done()
	switch action {
	case "list":
		q, err := api.QuarantineList(*limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, q)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tRECEIVED\tONOFF ID\tPROBLEMS")
		for _, ev := range q {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", ev.Seq, ev.Received.Format(time.RFC3339), cell(ev.SourceID), problemList(ev.Problems))
		}
		return tw.Flush()
	case "show":
		ev, err := api.QuarantineShow(seq)
		if err != nil {
			return err
		}
		return printJSON(e.stdout, ev)
	case "requeue":
		ev, err := api.QuarantineRequeue(seq)
		if err != nil {
			return err
		}
		if ev.Status == store.Quarantined {
			return fmt.Errorf("event %d is still invalid: %s", seq, problemList(ev.Problems))
		}
		fmt.Fprintf(e.stdout, "event %d is now %s\n", seq, ev.Status)
	case "drop":
		if err := api.QuarantineDrop(seq); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "event %d dropped\n", seq)
	}
	return nil
}

func problemList(p map[string]string) string {
	var out []string
	for k, v := range p {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return cell(strings.Join(out, "; "))
}
