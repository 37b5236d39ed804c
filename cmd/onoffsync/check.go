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
	mappings := map[string]*mapping.Mapping{}
	for _, d := range cfg.Destinations {
		m, err := connector.LoadMapping(d)
		if err != nil {
			probs = append(probs, err.Error())
		}
		mappings[d.Name] = m
	}
	if len(probs) > 0 {
		return fmt.Errorf("invalid mapping:\n%s", strings.Join(probs, "\n"))
	}
	if err := store.Check(cfg.Store.Path); err != nil {
		return err // serve would refuse the file: say so before an operator relies on it
	}
	for _, n := range cfg.Notes {
		fmt.Fprintln(e.stdout, n)
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
		var fieldProbs []string
		if err == nil {
			fieldProbs, err = checkUpdateFields(ctx, client, mappings[d.Name])
		}
		cancel()
		if err != nil {
			fmt.Fprintf(e.stdout, "  %s (%s): FAILED: %v\n", d.Name, d.Type, err)
			failed++
			continue
		}
		if len(fieldProbs) > 0 {
			fmt.Fprintf(e.stdout, "  %s (%s): FAILED: %s\n", d.Name, d.Type, summary)
			for _, p := range fieldProbs {
				fmt.Fprintf(e.stdout, "    %s\n", p)
			}
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "  %s (%s): OK: %s\n", d.Name, d.Type, summary)
		if d.Type != "log" {
			ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
			fmt.Fprintf(e.stdout, "    never twice: %s\n", idPaths(ctx, client, mappings[d.Name]))
			cancel()
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d destination(s) failed the online check", failed)
	}
	return nil
}

// checkUpdateFields asks the CRM whether the fields the mapping's contact_updates set exist and can be
// written, and returns each problem as "file:line: field: problem".
func checkUpdateFields(ctx context.Context, client crm.Client, m *mapping.Mapping) ([]string, error) {
	fc, ok := client.(crm.ContactFieldChecker)
	if !ok || m == nil || !m.HasContactUpdates() {
		return nil, nil
	}
	fields := m.UpdateFields()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	found, err := fc.CheckContactFields(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, f := range fields {
		for _, p := range found[i] {
			out = append(out, mapping.Problem{File: f.File, Line: f.Line, Field: f.Field, Msg: p}.String())
		}
	}
	return out, nil
}
