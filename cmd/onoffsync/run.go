package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/connector/admin"
	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// run is the whole program: it parses args, runs one command, and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func(*env, []string) error{
		"serve": cmdServe, "check": cmdCheck, "status": cmdStatus, "dead": cmdDead, "parked": cmdParked, "quarantine": cmdQuarantine,
		"mapping": cmdMapping, "version": cmdVersion, "forget": cmdForget, "calls": cmdCalls, "setup": cmdSetup,
	}
	name := args[1]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "onoffsync: unknown command %q\n\n%s", name, usage)
		return exitUsage
	}
	err := cmd(e, args[2:])
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onoffsync %s: %s\n", name, ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "onoffsync %s: %s\n", name, err)
		return exitUser
	}
}

// flags returns a FlagSet for cmd with the common --config flag.
func (e *env) flags(cmd string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("onoffsync "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := e.getenv("ONOFFSYNC_CONFIG")
	if def == "" {
		def = "config.yaml"
	}
	cfg := fs.String("config", def, "config file")
	return fs, cfg
}

// parse parses flags allowing them after positional arguments, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) loadConfig(path string) (*connector.Config, error) {
	cfg, err := connector.LoadConfig(path, e.getenv)
	if err != nil {
		var ce *mapping.Error
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("invalid configuration:\n%s", ce.Error())
		}
		return nil, err
	}
	return cfg, nil
}

// admin returns the admin API of the running server, or of the data file when none answers.
func (e *env) admin(cfg *connector.Config, write bool) (admin.API, func(), error) {
	client, err := admin.NewClient(cfg.Admin)
	if err != nil {
		return nil, nil, err
	}
	if client.Reachable(e.ctx) {
		return client, func() {}, nil
	}
	if _, err := os.Stat(cfg.Store.Path); err != nil {
		return nil, nil, fmt.Errorf("no server answers on %s and there is no data file at %s yet", cfg.Admin.Listen, cfg.Store.Path)
	}
	st, err := store.Open(cfg.Store.Path, store.Options{ReadOnly: !write, Timeout: time.Second})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("%s is locked by a running onoffsync, but its admin API does not answer on %s: check admin.listen and admin.token", cfg.Store.Path, cfg.Admin.Listen)
	}
	if errors.Is(err, store.ErrCorrupt) {
		return nil, nil, err // already one line saying what to do
	}
	if err != nil {
		return nil, nil, fmt.Errorf("no server answers on %s, and the data file cannot be opened (%v)", cfg.Admin.Listen, err)
	}
	return admin.New(cfg, st, nil, nil), func() { st.Close() }, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // show "<b>" as an admin wrote it, not "\u003cb\u003e"
	return enc.Encode(v)
}
