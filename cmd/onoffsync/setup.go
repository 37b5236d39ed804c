package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
)

// cmdSetup prepares a destination's CRM for the exact "never twice" path: the id field that
// `activity.id_field: auto` uses (crm.Setuper). It is idempotent; --dry-run only reads.
func cmdSetup(e *env, args []string) error {
	fs, path := e.flags("setup")
	name := fs.String("destination", "", "the destination whose CRM to prepare (its name in the configuration)")
	dry := fs.Bool("dry-run", false, "print what setup would do, and change nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if *name == "" {
		return usageError{"--destination NAME is required"}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	var dest *connector.Destination
	var names []string
	for i, d := range cfg.Destinations {
		names = append(names, d.Name)
		if d.Name == *name {
			dest = &cfg.Destinations[i]
		}
	}
	if dest == nil {
		return fmt.Errorf("no destination %q in %s (have %s)", *name, *path, strings.Join(names, ", "))
	}
	client, err := connector.NewClient(*dest, connector.AdapterDeps{Throttle: crm.Unthrottled{}, Stdout: io.Discard})
	if err != nil {
		return fmt.Errorf("destination %s: %w", dest.Name, err)
	}
	if c, ok := client.(interface{ Close() error }); ok {
		defer c.Close()
	}
	s, ok := client.(crm.Setuper)
	if !ok {
		fmt.Fprintf(e.stdout, "%s (%s): nothing to set up\n", dest.Name, dest.Type)
		return nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()
	if *dry {
		fmt.Fprintf(e.stdout, "%s (%s), dry run: nothing is changed\n", dest.Name, dest.Type)
	} else {
		fmt.Fprintf(e.stdout, "%s (%s):\n", dest.Name, dest.Type)
	}
	steps, err := s.Setup(ctx, *dry)
	changed, manual := printSteps(e.stdout, steps)
	switch {
	case err != nil:
		return err
	case manual:
		return fmt.Errorf("an admin must finish the steps above, then run setup again")
	case *dry:
	case changed:
		fmt.Fprintf(e.stdout, "done: reload onoffsync (SIGHUP, or restart) so that activity.id_field: auto uses it\n")
	default:
		fmt.Fprintf(e.stdout, "nothing to do: everything already exists\n")
	}
	return nil
}

// printSteps prints one line per step (and an admin's steps indented), and says whether any step changed
// the CRM and whether any needs an admin.
func printSteps(w io.Writer, steps []crm.SetupStep) (changed, manual bool) {
	for _, st := range steps {
		line := "  " + st.What + ": " + st.State
		if st.Detail != "" && st.State != crm.SetupManual {
			line += " (" + st.Detail + ")"
		}
		fmt.Fprintln(w, line)
		if st.State == crm.SetupManual {
			for _, l := range strings.Split(st.Detail, "\n") {
				fmt.Fprintln(w, "    "+l)
			}
		}
		changed = changed || st.State == crm.SetupCreated
		manual = manual || st.State == crm.SetupManual
	}
	return changed, manual
}

// idPaths says which path against duplicates a destination's mapping uses, for check --online:
// "SMS: id field X (exact); calls: content look-up". An "auto" id field is asked of the CRM.
func idPaths(ctx context.Context, client crm.Client, m *mapping.Mapping) string {
	if m == nil {
		return ""
	}
	if m.IDFieldAuto() {
		st, err := connector.ResolveIDField(ctx, client)
		if err != nil {
			return "id field auto: cannot tell (" + err.Error() + ")"
		}
		m = m.ResolveIDField(st)
	}
	sms, call := m.IDField()
	if sms == call {
		return "SMS and calls: " + connector.IDPath(sms)
	}
	return "SMS: " + connector.IDPath(sms) + "; calls: " + connector.IDPath(call)
}
