package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// Credentials and names shared by the binary's config and the fakes.
const (
	webhookKey = "bench-webhook-key"
	adminToken = "bench-admin-token"
	hubToken   = "pat-bench"
	destName   = "hubspot"
	idField    = "onoff_message_id"
	agentEmail = "agent@example.com"
	agentPhone = "+33612345678"
	numbers    = 300 // distinct external numbers; half of them are known contacts
)

// Bounds on waiting for things, so every loop stops by itself.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	pollEvery    = 20 * time.Millisecond
	sampleEvery  = 500 * time.Millisecond
)

// readyLine is what `onoffsync serve` prints on stderr once both listeners are bound.
var readyLine = regexp.MustCompile(`receiving webhooks on (\S+?:\d+)(/\S*) \(admin on (\S+?:\d+)\)`)

// bench holds what one scenario run shares: options, the temp dir, the binary, the fake and the processes.
type bench struct {
	ctx     context.Context
	opts    options
	stdout  io.Writer
	stderr  io.Writer
	machine machine
	dir     string
	bin     string
	numbers []string // national format, 06xxxxxxxx
	log     string   // stderr file of the last onoffsync process

	mu    sync.Mutex
	procs []*proc
	fakes []*hubspottest.Server
}

func newBench(ctx context.Context, opts options, stdout, stderr io.Writer) (*bench, error) {
	b := &bench{ctx: ctx, opts: opts, stdout: stdout, stderr: stderr, machine: describeMachine()}
	dir, err := os.MkdirTemp("", "onoffsync-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b.dir = dir
	b.numbers = frenchNumbers(opts.seed, numbers)
	b.bin = opts.bin
	if b.bin == "" {
		b.bin = filepath.Join(dir, "onoffsync")
		b.progress("building onoffsync into %s", b.bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/onoffsync/onoffsync/cmd/onoffsync")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.close()
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	} else if _, err := os.Stat(b.bin); err != nil {
		b.close()
		return nil, fmt.Errorf("--bin: %w", err)
	}
	return b, nil
}

// close stops every process and fake still running and removes the temp dir unless --keep.
func (b *bench) close() {
	b.mu.Lock()
	procs, fakes := b.procs, b.fakes
	b.procs, b.fakes = nil, nil
	b.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	for _, f := range fakes {
		f.Close()
	}
	if b.opts.keep {
		fmt.Fprintf(b.stderr, "onoffsync-bench: kept %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// frenchNumbers returns n distinct French mobile numbers in national format, chosen by seed.
func frenchNumbers(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 0x6f6e6f6666))
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for len(out) < n {
		num := fmt.Sprintf("0%d%08d", 6+rng.IntN(2), rng.IntN(100_000_000))
		if !seen[num] {
			seen[num] = true
			out = append(out, num)
		}
	}
	return out
}

func e164(national string) string { return "+33" + strings.TrimPrefix(national, "0") }

// newFake starts a fake HubSpot with no rate limit, the Onoff user as owner and every other number as a known
// contact (the rest get created on their first SMS).
func (b *bench) newFake() *hubspottest.Server {
	hs := hubspottest.New(hubspottest.Options{Tokens: []string{hubToken}, MaxPer10s: -1, SearchPerSecond: -1, DailyCap: -1})
	hs.SeedOwner(hubspottest.Owner{Email: agentEmail, FirstName: "Agent", LastName: "Bench"})
	for i, n := range b.numbers {
		if i%2 == 0 {
			hs.SeedContact(map[string]string{"phone": e164(n), "firstname": "Client", "lastname": strconv.Itoa(i)})
		}
	}
	hs.Settle()
	b.mu.Lock()
	b.fakes = append(b.fakes, hs)
	b.mu.Unlock()
	return hs
}

// smsBody is an Onoff SMS webhook shaped like the docs' example, for the i-th SMS of the run.
func (b *bench) smsBody(dst []byte, id string, i uint64) []byte {
	k := int(i*7919) % len(b.numbers)
	dir := "SENT"
	if i%2 == 1 {
		dir = "RECEIVED"
	}
	return fmt.Appendf(dst, `{"id":"%s","eventName":"SMS","onoffUserName":"Agent Bench","onoffUserEmail":"%s","onoffUserNumber":"%s","externalNumber":"%s","externalName":"Client %d","externalEmail":"client%d@example.com","date":"%s","smsDirection":"%s","body":"Bench SMS %d: see you tomorrow at 10, thanks"}`,
		id, agentEmail, agentPhone, b.numbers[k], k, k, time.Now().UTC().Format(time.RFC3339), dir, i)
}

// writeConfig writes the binary's config into the temp dir and returns its path and the data file's.
func (b *bench) writeConfig(name, fakeURL, extraStore string) (cfgPath, dbPath string, err error) {
	dir := filepath.Join(b.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	dbPath = filepath.Join(dir, "onoffsync.db")
	cfg := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  api_keys: [%q]
admin:
  listen: 127.0.0.1:0
  token: %q
store:
  path: %q
%slog:
  level: info
destinations:
  - name: %s
    type: hubspot
    base_url: %s
    token: %s
    requests_per_10s: 1000000
    search_per_second: 10000
    index_lag: 2s
    mapping: {activity: {id_field: %s}}
`, webhookKey, adminToken, dbPath, extraStore, destName, fakeURL, hubToken, idField)
	cfgPath = filepath.Join(dir, "config.yaml")
	return cfgPath, dbPath, os.WriteFile(cfgPath, []byte(cfg), 0o600)
}

// proc is one child process (onoffsync serve, or the no-op server).
type proc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	pid     int
	recv    string // http://host:port/path of the webhook receiver
	admin   string // http://host:port of the admin listener ("" for the no-op server)
}

// start runs bin with args, its output in logPath, and waits until the output matches ready (within
// startTimeout). The process is SIGKILLed if the bench dies.
func (b *bench) start(bin string, args []string, logPath string, ready *regexp.Regexp) (*proc, []string, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(logPath)
	cmd.Env = append(os.Environ(), "ONOFFSYNC_CONFIG=", "GIN_MODE=release")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), logPath: logPath, pid: cmd.Process.Pid}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		data, _ := os.ReadFile(logPath)
		if m := ready.FindStringSubmatch(string(data)); m != nil {
			return p, m, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, nil, fmt.Errorf("%s not ready after %s:\n%s", filepath.Base(bin), startTimeout, tail(data))
		}
		select {
		case <-p.done:
			return nil, nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", filepath.Base(bin), cmd.ProcessState, tail(data))
		case <-b.ctx.Done():
			p.stop()
			return nil, nil, b.ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// startServer starts `onoffsync serve` with cfgPath and returns it once both listeners are bound.
func (b *bench) startServer(cfgPath string) (*proc, error) {
	logPath := filepath.Join(filepath.Dir(cfgPath), fmt.Sprintf("onoffsync-%d.log", time.Now().UnixNano()))
	b.log = logPath
	p, m, err := b.start(b.bin, []string{"serve", "--config", cfgPath}, logPath, readyLine)
	if err != nil {
		return nil, err
	}
	for _, hp := range []string{m[1], m[3]} {
		if err := mustLoopback(hp); err != nil {
			p.stop()
			return nil, err
		}
	}
	p.recv, p.admin = "http://"+m[1]+m[2], "http://"+m[3]
	return p, nil
}

func mustLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", hostport)
	}
	return nil
}

// stop asks the process to exit (SIGTERM) and waits; after stopTimeout it is killed.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

var adminClient = &http.Client{Timeout: 10 * time.Second}

// adminGet reads path from the admin listener with the admin token.
func (p *proc) adminGet(ctx context.Context, path string) ([]byte, error) {
	return p.adminGetWith(ctx, adminClient, path)
}

func (p *proc) adminGetWith(ctx context.Context, client *http.Client, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.admin+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	return body, nil
}

// counts are one destination's job counts from /admin/status.
type counts map[string]int64

func (c counts) unfinished() int64 { return c["pending"] + c["in_flight"] + c["retrying"] }
func (c counts) finished() int64   { return c["done"] + c["skipped"] + c["dead"] }

func (p *proc) status(ctx context.Context) (counts, error) {
	body, err := p.adminGet(ctx, "/admin/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Destinations []struct {
			Name   string `json:"name"`
			Counts counts `json:"counts"`
		} `json:"destinations"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decode /admin/status: %w", err)
	}
	for _, d := range st.Destinations {
		if d.Name == destName {
			if d.Counts == nil {
				d.Counts = counts{}
			}
			return d.Counts, nil
		}
	}
	return nil, fmt.Errorf("/admin/status has no destination %q", destName)
}

// heapInuse scrapes go_memstats_heap_inuse_bytes from /metrics.
func (p *proc) heapInuse(ctx context.Context) (int64, error) {
	body, err := p.adminGet(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(body) {
		if v, ok := bytes.CutPrefix(line, []byte("go_memstats_heap_inuse_bytes ")); ok {
			f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			return int64(f), err
		}
	}
	return 0, errors.New("/metrics has no go_memstats_heap_inuse_bytes")
}

// rssAnon reads RssAnon (bytes) from /proc/PID/status.
func rssAnon(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no RssAnon in /proc/PID/status")
}

// peaks are the largest memory figures seen by a sampler.
type peaks struct {
	RSS, Heap int64
	Samples   int
	Errors    int
}

// sampler samples a process's RssAnon and Go heap every sampleEvery until stopped.
type sampler struct {
	mu     sync.Mutex
	p      peaks
	last   peaks // the latest sample (RSS, Heap)
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *bench) sample(p *proc) *sampler {
	ctx, cancel := context.WithCancel(b.ctx)
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s.once(ctx, p)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) once(ctx context.Context, p *proc) {
	rss, rerr := rssAnon(p.pid)
	heap, herr := p.heapInuse(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rerr != nil || herr != nil {
		if ctx.Err() == nil {
			s.p.Errors++
		}
		return
	}
	s.p.Samples++
	s.p.RSS, s.p.Heap = max(s.p.RSS, rss), max(s.p.Heap, heap)
	s.last = peaks{RSS: rss, Heap: heap}
}

// reset starts a new peak (for the next phase) and returns the previous one.
func (s *sampler) reset() peaks {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.p
	s.p = peaks{}
	return p
}

func (s *sampler) latest() peaks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// stop ends the sampling and returns the peaks since the last reset.
func (s *sampler) stop() peaks {
	s.cancel()
	<-s.done
	return s.reset()
}

// waitDelivered polls /admin/status every 500 ms until no job is pending, in flight or retrying and at least
// want jobs are finished, or until deadline; every 10 s it prints progress.
func (b *bench) waitDelivered(p *proc, want int64, deadline time.Duration) (counts, time.Duration, error) {
	start := time.Now()
	lastPrint := start
	var last counts
	var prevDone int64
	for {
		c, err := p.status(b.ctx)
		if err == nil {
			last = c
			if c.unfinished() == 0 && c.finished() >= want {
				return c, time.Since(start), nil
			}
		}
		if time.Since(lastPrint) >= 10*time.Second {
			rate := float64(c.finished()-prevDone) / time.Since(lastPrint).Seconds()
			b.progress("  %s: %d finished of %d, %d pending, %d in flight, %d retrying (%.0f/s)", time.Since(start).Round(time.Second),
				c.finished(), want, c["pending"], c["in_flight"], c["retrying"], rate)
			lastPrint, prevDone = time.Now(), c.finished()
		}
		if time.Since(start) > deadline {
			return last, time.Since(start), fmt.Errorf("delivery not finished after %s: %v (last error: %v)", deadline, last, err)
		}
		select {
		case <-b.ctx.Done():
			return last, time.Since(start), b.ctx.Err()
		case <-p.done:
			return last, time.Since(start), errors.New("onoffsync exited while delivering")
		case <-time.After(sampleEvery):
		}
	}
}

// delivery compares what the fake HubSpot holds with the acknowledged ids.
type delivery struct {
	Acked      int `json:"acked"`
	Delivered  int `json:"delivered"`  // acknowledged ids found in HubSpot
	Missing    int `json:"missing"`    // acknowledged ids not in HubSpot
	Duplicates int `json:"duplicates"` // communications beyond the first per onoff id
	Comms      int `json:"communications"`
}

func checkDelivery(hs *hubspottest.Server, acked func(yield func(string) bool)) delivery {
	seen := map[string]int{}
	var d delivery
	for _, c := range hs.Communications() {
		d.Comms++
		id := c.Properties[idField]
		seen[id]++
		if seen[id] > 1 {
			d.Duplicates++
		}
	}
	for id := range acked {
		d.Acked++
		if seen[id] > 0 {
			d.Delivered++
		} else {
			d.Missing++
		}
	}
	return d
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

func mb(n int64) float64 { return round1(float64(n) / (1 << 20)) }

func round1(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*10) / 10
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }
