package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

func cmdCheck(e *env, args []string) error {
	fs, path := e.flags("check")
	online := fs.Bool("online", false, "also verify each CRM destination's credentials with one cheap call")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	var probs []string
	for _, d := range cfg.Destinations {
		if _, err := connector.LoadMapping(d); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("invalid mapping:\n%s", strings.Join(probs, "\n"))
	}
	if err := store.Check(cfg.Store.Path); err != nil {
		return err // serve would refuse the file: say so before an operator relies on it
	}
	fmt.Fprintf(e.stdout, "%s: configuration OK (%d destinations)\n", *path, len(cfg.Destinations))
	if !*online {
		return nil
	}
	failed := 0
	for _, d := range cfg.Destinations {
		client, err := connector.NewClient(d, connector.AdapterDeps{Throttle: crm.Unthrottled{}, Stdout: io.Discard})
		if err != nil {
			fmt.Fprintf(e.stdout, "  %s (%s): FAILED: %v\n", d.Name, d.Type, err)
			failed++
			continue
		}
		checker, ok := client.(crm.Checker)
		if !ok {
			fmt.Fprintf(e.stdout, "  %s (%s): nothing to check online\n", d.Name, d.Type)
			continue
		}
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		summary, err := checker.Check(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(e.stdout, "  %s (%s): FAILED: %v\n", d.Name, d.Type, err)
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "  %s (%s): OK: %s\n", d.Name, d.Type, summary)
	}
	if failed > 0 {
		return fmt.Errorf("%d destination(s) failed the online check", failed)
	}
	return nil
}
