package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/mapping"
	"github.com/onoffsync/onoffsync/store"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const usage = `onoffsync puts every Onoff Business SMS on the right CRM contact's timeline.

Usage:
  onoffsync serve      [--config FILE]            run the receiver and the sync loops
  onoffsync check      [--config FILE] [--online] validate the config and mappings (--online: test CRM credentials)
  onoffsync status     [--config FILE] [--json]   per destination: jobs by state, oldest pending, pauses
  onoffsync dead       list|retry|drop [--config FILE] [--id ONOFF_ID] [--destination D] [--seq N] [--all]
  onoffsync quarantine list|show|requeue|drop [SEQ] [--config FILE]
  onoffsync forget     --number N | --email E [--config FILE]   erase one person's stored events (GDPR)
  onoffsync mapping    default hubspot|salesforce|log
  onoffsync mapping    preview [--config FILE] --destination NAME --payload event.json
  onoffsync version

The config file is --config, else $ONOFFSYNC_CONFIG, else ./config.yaml.
Commands that inspect or change state use the running server's admin API, or the data file when no server runs.
`

// exit codes
const (
	exitOK    = 0
	exitUser  = 1
	exitUsage = 2
)

// usageError is a malformed command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type env struct {
	ctx    context.Context
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// run is the whole program: it parses args, runs one command, and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmds := map[string]func(*env, []string) error{
		"serve": cmdServe, "check": cmdCheck, "status": cmdStatus, "dead": cmdDead, "quarantine": cmdQuarantine,
		"mapping": cmdMapping, "version": cmdVersion, "forget": cmdForget,
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
		var ce *connector.ConfigError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("invalid configuration:\n%s", ce.Error())
		}
		return nil, err
	}
	return cfg, nil
}

func cmdServe(e *env, args []string) error {
	fs, path := e.flags("serve")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"unexpected argument " + pos[0]}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	logger := connector.NewLogger(cfg.Log, e.stderr)
	tuneGC(e.getenv)
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	err = connector.Run(e.ctx, cfg, connector.Options{Logger: logger, Stdout: e.stdout, Reload: reload,
		Ready: func(r, a net.Addr) {
			fmt.Fprintf(e.stderr, "onoffsync %s: receiving webhooks on %s%s (admin on %s)\n", versionString(), r, cfg.Server.Path, a)
		}})
	if err != nil {
		return err
	}
	return nil
}

// tuneGC trades a little memory for CPU unless the operator set GOGC or GOMEMLIMIT: the live heap is small
// (about 10 MB under load), so collecting at 4x it instead of 2x removes most GC work, and a 48 MiB soft
// limit makes the collector work harder before the process nears 64 MB. Measured with the load bench: about
// a quarter more webhooks per second with delivery running.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
}

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

// admin returns the admin API of the running server, or of the data file when none answers.
func (e *env) admin(cfg *connector.Config, write bool) (connector.AdminAPI, func(), error) {
	client := connector.NewAdminClient(cfg.Admin.Listen, cfg.Admin.Token)
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
	if err != nil {
		return nil, nil, fmt.Errorf("no server answers on %s, and the data file cannot be opened (%v)", cfg.Admin.Listen, err)
	}
	return connector.NewAdmin(cfg, st, nil, nil), func() { st.Close() }, nil
}

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
	fmt.Fprintln(tw, "DESTINATION\tTYPE\tPENDING\tIN FLIGHT\tRETRYING\tDONE\tSKIPPED\tDEAD\tOLDEST PENDING\tRATE\tSTATE")
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
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", d.Name, d.Type, c[store.Pending], c[store.InFlight],
			c[store.Retrying], c[store.Done], c[store.Skipped], c[store.Dead], oldest, rate, state)
	}
	return tw.Flush()
}

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
			dl = slices.DeleteFunc(dl, func(d connector.DeadLetter) bool { return d.SourceID != *onoffID })
		}
		if *asJSON {
			return printJSON(e.stdout, dl)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "DESTINATION\tSEQ\tONOFF ID\tATTEMPTS\tRECEIVED\tLAST ERROR")
		for _, d := range dl {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", d.Destination, d.Seq, d.SourceID, d.Attempts, d.Received.Format(time.RFC3339), d.LastError)
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
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", ev.Seq, ev.Received.Format(time.RFC3339), ev.SourceID, problemList(ev.Problems))
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

func cmdForget(e *env, args []string) error {
	fs, path := e.flags("forget")
	number := fs.String("number", "", "the person's phone number (any format)")
	email := fs.String("email", "", "the person's email")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"unexpected argument " + pos[0]}
	}
	if (*number == "") == (*email == "") {
		return usageError{"give exactly one of --number or --email"}
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
	n, err := api.Forget(*number, *email)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d stored event(s) erased; what was already logged in a CRM or written to a log destination is not touched\n", n)
	return nil
}

func problemList(p map[string]string) string {
	var out []string
	for k, v := range p {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func cmdMapping(e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"want default TYPE or preview"}
	}
	switch args[0] {
	case "default":
		if len(args) != 2 {
			return usageError{"mapping default takes one type: hubspot, salesforce or log"}
		}
		data, err := mapping.Default(args[1])
		if err != nil {
			return usageError{err.Error()}
		}
		_, err = e.stdout.Write(data)
		return err
	case "preview":
		return cmdPreview(e, args[1:])
	}
	return usageError{"unknown mapping action " + args[0]}
}

func cmdPreview(e *env, args []string) error {
	fs, path := e.flags("mapping preview")
	dest := fs.String("destination", "", "destination name")
	payload := fs.String("payload", "", "a webhook body (JSON file)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *dest == "" || *payload == "" {
		return usageError{"--destination and --payload are required"}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	var d *connector.Destination
	for i := range cfg.Destinations {
		if cfg.Destinations[i].Name == *dest {
			d = &cfg.Destinations[i]
		}
	}
	if d == nil {
		return fmt.Errorf("%s: no destination named %q", *path, *dest)
	}
	body, err := os.ReadFile(*payload)
	if err != nil {
		return err
	}
	p, err := connector.Preview(*d, cfg.Phone.DefaultRegion, body)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(*payload), err)
	}
	return printJSON(e.stdout, p)
}

func cmdVersion(e *env, args []string) error {
	fmt.Fprintln(e.stdout, "onoffsync", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // show "<b>" as an admin wrote it, not "\u003cb\u003e"
	return enc.Encode(v)
}
