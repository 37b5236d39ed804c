package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Generous deadlines: the suite must pass on a loaded 2-core CI machine.
const (
	startTimeout    = 30 * time.Second
	deliveryTimeout = 90 * time.Second
	pollEvery       = 25 * time.Millisecond
)

// readyLine is what `onoffsync serve` prints on stderr once both listeners are bound.
var readyLine = regexp.MustCompile(`receiving webhooks on (\S+?:\d+)(/\S*) \(admin on (\S+?:\d+)\)`)

// adminPlaceholder stands for admin.listen in a config template: 127.0.0.1:0 for the server, the bound address
// for CLI commands that must reach it.
const adminPlaceholder = "{{ADMIN}}"

// node is one onoffsync installation: a config and a data file in a temp dir, and at most one running
// `onoffsync serve` process at a time (restarts reuse the data file; the ports change).
type node struct {
	tb      testing.TB
	dir     string
	cfgPath string // listens on 127.0.0.1:0
	tmpl    string

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when the current process has exited
	recv  string        // http://host:port/path of the current process
	admin string        // http://host:port
	runs  int
	logs  []string // stderr file of each run
}

// newNode writes the config template (with adminPlaceholder for admin.listen) into a temp dir. The process
// is not started. Cleanup kills it whatever happens, and dumps its logs when the test failed.
func newNode(tb testing.TB, tmpl string) *node {
	tb.Helper()
	n := &node{tb: tb, dir: tb.TempDir(), tmpl: tmpl}
	n.cfgPath = filepath.Join(n.dir, "config.yaml")
	n.writeConfig(n.cfgPath, "127.0.0.1:0")
	tb.Cleanup(func() {
		if tb.Failed() && n.receiverURL() != "" {
			if code, body, err := n.adminGet("/admin/status"); err == nil {
				tb.Logf("admin status at the failure: %d %s", code, body)
			}
		}
		n.kill()
		if tb.Failed() {
			n.dumpLogs()
		}
	})
	return n
}

func (n *node) writeConfig(path, admin string) {
	n.tb.Helper()
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(n.tmpl, adminPlaceholder, admin)), 0o600); err != nil {
		n.tb.Fatal(err)
	}
}

// setConfig replaces the config template; the next start uses it.
func (n *node) setConfig(tmpl string) {
	n.tb.Helper()
	n.tmpl = tmpl
	n.writeConfig(n.cfgPath, "127.0.0.1:0")
}

// start runs `onoffsync serve` and waits until it prints its addresses.
func (n *node) start() {
	n.tb.Helper()
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		n.tb.Fatal("start: a process is already running")
	}
	n.runs++
	logPath := filepath.Join(n.dir, fmt.Sprintf("stderr-%d.log", n.runs))
	f, err := os.Create(logPath)
	if err != nil {
		n.mu.Unlock()
		n.tb.Fatal(err)
	}
	n.logs = append(n.logs, logPath)
	cmd := exec.Command(binPath, "serve", "--config", n.cfgPath)
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), "ONOFFSYNC_CONFIG=")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		n.mu.Unlock()
		n.tb.Fatalf("start onoffsync: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		f.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		data, _ := os.ReadFile(logPath)
		if m := readyLine.FindSubmatch(data); m != nil {
			n.mu.Lock()
			n.recv = "http://" + string(m[1]) + string(m[2])
			n.admin = "http://" + string(m[3])
			n.mu.Unlock()
			return
		}
		select {
		case <-done:
			n.tb.Fatalf("onoffsync exited before it was ready (%v):\n%s", cmd.ProcessState, data)
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("onoffsync not ready after %s:\n%s", startTimeout, data)
		}
	}
}

// kill SIGKILLs the running process (if any) and waits for it to be gone.
func (n *node) kill() { n.signal(syscall.SIGKILL) }

// stop asks the process to shut down (SIGTERM) and waits for it.
func (n *node) stop() { n.signal(syscall.SIGTERM) }

func (n *node) signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		n.tb.Errorf("onoffsync did not exit within 30s of %v", sig)
	}
}

// restart kills the process and starts a new one on the same data file.
func (n *node) restart() {
	n.tb.Helper()
	n.kill()
	n.start()
}

// receiverURL is the current SMS webhook URL ("" while no process runs).
func (n *node) receiverURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return ""
	}
	return n.recv
}

// receiverBase is the current receiver's http://host:port.
func (n *node) receiverBase() string {
	u := n.receiverURL()
	if i := strings.Index(strings.TrimPrefix(u, "http://"), "/"); i >= 0 {
		return u[:len("http://")+i]
	}
	return u
}

func (n *node) adminURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.admin
}

// logText is the stderr of every run so far.
func (n *node) logText() string {
	n.mu.Lock()
	logs := append([]string(nil), n.logs...)
	n.mu.Unlock()
	var b strings.Builder
	for _, p := range logs {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

func (n *node) dumpLogs() {
	text := n.logText()
	if len(text) > 20000 {
		text = "...\n" + text[len(text)-20000:]
	}
	n.tb.Logf("onoffsync stderr (%d runs, %s):\n%s", n.runs, n.dir, text)
}

// cli runs an onoffsync command with --config pointing at the running server's admin listener (or at
// 127.0.0.1:0, which nothing answers, when none runs). It returns stdout, stderr and the exit code.
func (n *node) cli(args ...string) (stdout, stderr string, code int) {
	n.tb.Helper()
	path := filepath.Join(n.dir, "cli.yaml")
	admin := "127.0.0.1:0"
	if u := n.adminURL(); u != "" && n.receiverURL() != "" {
		admin = strings.TrimPrefix(u, "http://")
	}
	n.writeConfig(path, admin)
	return runCLI(n.tb, append(args, "--config", path)...)
}

// runCLI runs the binary with args and returns stdout, stderr and the exit code.
func runCLI(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), "ONOFFSYNC_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		tb.Fatalf("onoffsync %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// status is the subset of `onoffsync status --json` (and GET /admin/status) the tests read.
type status struct {
	Server       string `json:"server"`
	Quarantine   int64  `json:"quarantine"`
	Destinations []struct {
		Name   string           `json:"name"`
		Counts map[string]int64 `json:"counts"`
		Live   *struct {
			Paused    bool   `json:"paused"`
			LastError string `json:"last_error"`
		} `json:"live"`
	} `json:"destinations"`
}

// counts returns a destination's job counts.
func (s status) counts(dest string) map[string]int64 {
	for _, d := range s.Destinations {
		if d.Name == dest {
			return d.Counts
		}
	}
	return nil
}

// settled reports whether no job of any destination is still to be delivered.
func (s status) settled() bool {
	for _, d := range s.Destinations {
		if d.Counts["pending"]+d.Counts["in_flight"]+d.Counts["retrying"] > 0 {
			return false
		}
	}
	return true
}

// adminGet GETs an admin path of the running process and returns the status and body.
func (n *node) adminGet(path string) (int, []byte, error) {
	resp, err := httpClient.Get(n.adminURL() + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// status reads GET /admin/status.
func (n *node) status() status {
	n.tb.Helper()
	code, body, err := n.adminGet("/admin/status")
	if err != nil || code != http.StatusOK {
		n.tb.Fatalf("GET /admin/status: %d %v %s", code, err, body)
	}
	var s status
	if err := json.Unmarshal(body, &s); err != nil {
		n.tb.Fatalf("GET /admin/status: %v in %s", err, body)
	}
	return s
}

// waitSettled polls the admin status until every job is finished (done, skipped or dead).
func (n *node) waitSettled(timeout time.Duration) status {
	n.tb.Helper()
	var s status
	waitFor(n.tb, timeout, "every job finished", func() bool {
		s = n.status()
		return s.settled()
	})
	return s
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		<-time.After(pollEvery)
	}
}

// httpClient is the tests' client: short timeouts, enough idle connections for the concurrent senders.
var httpClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
	ResponseHeaderTimeout: 15 * time.Second}}

// onoff posts webhooks as Onoff does: Authorization: x-api-key <key>, JSON body, and on any error or
// non-200 answer up to 4 more deliveries, with a small backoff, then gives the event up.
type onoff struct {
	key        string
	url        func() string // the current webhook URL ("" while the receiver is down)
	deliveries int           // per event; Onoff: 5
	backoff    time.Duration // before the second delivery; doubles after each
}

func newOnoff(key string, url func() string) *onoff {
	return &onoff{key: key, url: url, deliveries: 5, backoff: 100 * time.Millisecond}
}

// post makes one delivery and returns the status (0 on a transport error).
func (o *onoff) post(body []byte) (int, error) {
	u := o.url()
	if u == "" {
		return 0, errors.New("receiver down")
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "x-api-key "+o.key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// send delivers body until it is answered 200 or the deliveries are spent; it reports whether it got a 200
// and how many deliveries it made.
func (o *onoff) send(ctx context.Context, body []byte) (acked bool, tries int) {
	wait := o.backoff
	for tries = 1; ; tries++ {
		if code, _ := o.post(body); code == http.StatusOK {
			return true, tries
		}
		if tries == o.deliveries {
			return false, tries
		}
		select { // Onoff's pause between deliveries (pacing, not waiting for a condition)
		case <-ctx.Done():
			return false, tries
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait *= 2
	}
}

// sms is an Onoff SMS webhook body. The body text carries a marker with the id, so a destination without an
// id field can still be checked.
type sms struct {
	ID         string `json:"id"`
	EventName  string `json:"eventName"`
	UserName   string `json:"onoffUserName"`
	UserEmail  string `json:"onoffUserEmail"`
	UserNumber string `json:"onoffUserNumber"`
	External   string `json:"externalNumber"`
	Date       string `json:"date"`
	Direction  string `json:"smsDirection"`
	Body       string `json:"body"`
}

// agentEmail is the Onoff user of every test SMS; seeded as a CRM owner.
const agentEmail = "agent.e2e@example.com"

// contactPhones is how many distinct external numbers the SMS use; each is seeded as a CRM contact.
const contactPhones = 20

// contactPhone is the i-th contact's number, E.164.
func contactPhone(i int) string { return fmt.Sprintf("+336120000%02d", i%contactPhones) }

// newSMS returns the webhook body of SMS id, to the (i mod contactPhones)-th contact, with text appended to
// the body.
func newSMS(id string, i int, text string) []byte {
	ext := contactPhone(i)
	if i%2 == 1 { // national format, as Onoff may send it
		ext = fmt.Sprintf("06 12 00 00 %02d", i%contactPhones)
	}
	dir := "SENT"
	if i%3 == 0 {
		dir = "RECEIVED"
	}
	b, _ := json.Marshal(sms{ID: id, EventName: "SMS", UserName: "Agent E2E", UserEmail: agentEmail, UserNumber: "+33756000001",
		External: ext, Date: time.Now().UTC().Format(time.RFC3339), Direction: dir, Body: marker(id) + " " + text})
	return b
}

// marker tags an SMS body with its id in a form that survives HTML escaping.
func marker(id string) string { return "msgid-" + id + "-end" }

var markerRE = regexp.MustCompile(`msgid-([A-Za-z0-9_.-]+?)-end`)

// markedIDs counts the marked ids in texts.
func markedIDs(texts []string) map[string]int {
	out := map[string]int{}
	for _, t := range texts {
		if m := markerRE.FindStringSubmatch(t); m != nil {
			out[m[1]]++
		}
	}
	return out
}

// missing returns the ids of want absent from got, at most 10.
func missing(want []string, got map[string]int) []string {
	var out []string
	for _, id := range want {
		if got[id] == 0 {
			out = append(out, id)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

// duplicates counts the extra copies in got.
func duplicates(got map[string]int) int {
	d := 0
	for _, c := range got {
		if c > 1 {
			d += c - 1
		}
	}
	return d
}

// testSeed is the run's seed for random choices: -e2e.seed, else the clock. It is logged so a failure can be
// replayed.
func testSeed(tb testing.TB) uint64 {
	tb.Helper()
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	tb.Logf("seed %d (replay with -e2e.seed=%d)", s, s)
	return s
}

// writeReport appends one JSON line of figures to the file named by $E2E_REPORT, if set.
func writeReport(tb testing.TB, figures map[string]any) {
	tb.Helper()
	line, err := json.Marshal(figures)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("figures: %s", line)
	path := os.Getenv("E2E_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Errorf("E2E_REPORT: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		tb.Errorf("E2E_REPORT: %v", err)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
