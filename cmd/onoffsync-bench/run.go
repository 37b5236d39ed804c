package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

const usage = `onoffsync-bench runs the real onoffsync binary against a fake HubSpot over loopback and prints a Markdown
table of results and one JSON line.

Usage:
  onoffsync-bench load    [--duration 30s] [--senders 32] [--rate 1000] [--quick] [--cpuprofile FILE]
      (a) a no-op gin server, (b) onoffsync at full speed, (c) onoffsync at a steady --rate, each for
      --duration/3, then waits until every acknowledged SMS is delivered. --cpuprofile writes the
      binary's CPU profile during (b) (go tool pprof FILE).
  onoffsync-bench backlog [--events 1000000]
      pre-fills the data file offline, then measures how fast onoffsync drains it into the fake HubSpot.
  onoffsync-bench growth  [--duration 5m] [--rate 500]
      steady load with store.retention: 1m; samples the data file size every 10 s.

Common flags:
  --bin PATH     the onoffsync binary (default: $ONOFFSYNC_BENCH_BIN, else go build ./cmd/onoffsync)
  --seed N       seed for the phone numbers and the event ids (default 1)
  --out FILE     append the JSON line to FILE
  --keep         keep the temp dir (config, data file, logs) and print its path
  --deadline D   how long to wait for delivery to finish (default 30m)
`

// exit codes
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// options are the parsed command line.
type options struct {
	scenario string
	duration time.Duration
	events   int
	rate     int
	senders  int
	seed     uint64
	out      string
	keep     bool
	bin      string
	quick    bool
	deadline time.Duration
	cpuprof  string
}

// run is the whole program: it parses args, runs one scenario, prints its report, and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[1] == "noop-server" {
		if err := noopServer(ctx, args[2:], stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "onoffsync-bench noop-server: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	opts, err := parseArgs(args, getenv, stderr)
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "onoffsync-bench: %s\n\n%s", ue.msg, usage)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "onoffsync-bench: %v\n", err)
		return exitUsage
	}
	b, err := newBench(ctx, opts, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "onoffsync-bench %s: %v\n", opts.scenario, err)
		return exitFail
	}
	defer b.close()
	scenarios := map[string]func() (*report, error){"load": b.load, "backlog": b.backlog, "growth": b.growth}
	rep, err := scenarios[opts.scenario]()
	if rep != nil {
		if werr := b.print(rep); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "onoffsync-bench %s: %v\n", opts.scenario, err)
		if b.log != "" {
			fmt.Fprintf(stderr, "onoffsync's log: %s\n", b.log)
		}
		return exitFail
	}
	return exitOK
}

func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	o := options{scenario: "load"}
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		o.scenario, rest = rest[0], rest[1:]
	}
	if o.scenario == "help" {
		return o, flag.ErrHelp
	}
	switch o.scenario {
	case "load", "backlog", "growth":
	default:
		return o, usageError{fmt.Sprintf("unknown scenario %q (want load, backlog or growth)", o.scenario)}
	}
	fs := flag.NewFlagSet("onoffsync-bench "+o.scenario, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.DurationVar(&o.duration, "duration", 0, "")
	fs.IntVar(&o.events, "events", 1_000_000, "")
	fs.IntVar(&o.rate, "rate", 0, "")
	fs.IntVar(&o.senders, "senders", 32, "")
	fs.Uint64Var(&o.seed, "seed", 1, "")
	fs.StringVar(&o.out, "out", "", "")
	fs.BoolVar(&o.keep, "keep", false, "")
	fs.StringVar(&o.bin, "bin", getenv("ONOFFSYNC_BENCH_BIN"), "")
	fs.BoolVar(&o.quick, "quick", false, "")
	fs.DurationVar(&o.deadline, "deadline", 30*time.Minute, "")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usageError{"unexpected argument " + fs.Arg(0)}
	}
	if o.duration == 0 {
		o.duration = map[string]time.Duration{"load": 30 * time.Second, "growth": 5 * time.Minute}[o.scenario]
	}
	if o.rate == 0 {
		o.rate = map[string]int{"load": 1000, "growth": 500}[o.scenario]
		if o.quick && o.scenario == "load" {
			o.rate = 200
		}
	}
	switch {
	case o.scenario != "backlog" && (o.duration < 300*time.Millisecond || o.duration > 24*time.Hour):
		return o, usageError{"--duration must be between 300ms and 24h"}
	case o.events < 1 || o.events > 50_000_000:
		return o, usageError{"--events must be between 1 and 50,000,000"}
	case o.scenario != "backlog" && (o.rate < 1 || o.rate > 100_000):
		return o, usageError{"--rate must be between 1 and 100,000"}
	case o.senders < 1 || o.senders > 1024:
		return o, usageError{"--senders must be between 1 and 1024"}
	case o.deadline < time.Second:
		return o, usageError{"--deadline must be at least 1s"}
	}
	return o, nil
}

// report is one scenario's results: a Markdown table for people and a JSON object for BENCHMARKS.md.
type report struct {
	title string
	md    []string // lines after the machine line
	data  map[string]any
}

// machine describes where the figures were measured.
type machine struct {
	NProc       int    `json:"nproc"`
	CPU         string `json:"cpu"`
	Go          string `json:"go"`
	Kernel      string `json:"kernel"`
	LoadStart   string `json:"loadavg_start"`
	LoadEnd     string `json:"loadavg_end"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	MeasuredUTC string `json:"measured_utc"`
}

func describeMachine() machine {
	m := machine{NProc: runtime.NumCPU(), Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Kernel: readTrim("/proc/sys/kernel/osrelease"), LoadStart: loadavg(),
		MeasuredUTC: time.Now().UTC().Format(time.RFC3339)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// loadavg is the first three fields of /proc/loadavg (1, 5 and 15 minutes).
func loadavg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// print writes the report: a heading, the machine, the table, then the JSON line (also appended to --out).
func (b *bench) print(r *report) error {
	b.machine.LoadEnd = loadavg()
	m := b.machine
	fmt.Fprintf(b.stdout, "\n### %s\n\n", r.title)
	fmt.Fprintf(b.stdout, "Machine: %d CPU (%s), %s, Linux %s, GOMAXPROCS %d; load average %s at the start, %s at the end.\n\n",
		m.NProc, m.CPU, m.Go, m.Kernel, m.GOMAXPROCS, m.LoadStart, m.LoadEnd)
	for _, l := range r.md {
		fmt.Fprintln(b.stdout, l)
	}
	r.data["machine"] = m
	r.data["scenario"] = b.opts.scenario
	r.data["seed"] = b.opts.seed
	line, err := json.Marshal(r.data)
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	fmt.Fprintf(b.stdout, "\n%s\n", line)
	if b.opts.out == "" {
		return nil
	}
	f, err := os.OpenFile(b.opts.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%s\n", line); err != nil {
		f.Close()
		return fmt.Errorf("--out: %w", err)
	}
	return f.Close()
}
