package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

func cmdStatus(e *env, args []string) error {
	fs, path := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	api, done, err := e.admin(cfg, false)
	if err != nil {
		return err
	}
	defer done()
	st, err := api.Status()
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, st)
	}
	fmt.Fprintf(e.stdout, "server: %s   quarantine: %d\n", st.Server, st.Quarantine)
	tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tTYPE\tPENDING\tIN FLIGHT\tRETRYING\tPARKED\tDONE\tSKIPPED\tDEAD\tOLDEST PENDING\tRATE\tSTATE")
	for _, d := range st.Destinations {
		c := d.Counts
		oldest := "-"
		if !d.OldestPending.IsZero() {
			oldest = (time.Duration(d.OldestPendingAge) * time.Second).String()
		}
		state, rate := "-", "-"
		if d.Live != nil && len(d.Live.Rates) > 0 {
			var parts []string
			for kind, r := range d.Live.Rates {
				parts = append(parts, fmt.Sprintf("%s %.3g/s", kind, r))
			}
			sort.Strings(parts)
			rate = strings.Join(parts, ", ")
		}
		if d.Live != nil {
			state = "running"
			if d.Live.Paused {
				state = "PAUSED: " + d.Live.PauseReason
			} else if d.Live.LastError != "" {
				state = "last error: " + d.Live.LastError
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", cell(d.Name), cell(d.Type), c[store.Pending], c[store.InFlight],
			c[store.Retrying], c[store.Parked], c[store.Done], c[store.Skipped], c[store.Dead], oldest, cell(rate), cell(state))
	}
	return tw.Flush()
}
