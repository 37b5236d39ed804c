package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// noopServer is the hidden `noop-server` subcommand: the baseline gin server that only parses the JSON and
// answers {}, as connector's BenchmarkReceiver's noopHandler. It prints "noop listening on ADDR" and serves
// until ctx ends or --lifetime passes.
func noopServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("noop-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	lifetime := fs.Duration("lifetime", 30*time.Minute, "exit after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := mustLoopback(*listen); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/onoff/sms", func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusOK, gin.H{})
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "noop listening on %s\n", ln.Addr())
	select {
	case <-ctx.Done():
	case <-time.After(*lifetime):
	case err := <-served:
		return err
	}
	// Close, not Shutdown: requests the load generator cut at a phase's end may still be reading their body.
	return srv.Close()
}

var noopReady = regexp.MustCompile(`noop listening on (\S+?:\d+)`)

// startNoop re-executes this program as `noop-server` and returns the process with its receiver URL.
func (b *bench) startNoop(lifetime time.Duration) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	p, m, err := b.start(self, []string{"noop-server", "--listen", "127.0.0.1:0", "--lifetime", lifetime.String()},
		filepath.Join(b.dir, "noop.log"), noopReady)
	if err != nil {
		return nil, err
	}
	if err := mustLoopback(m[1]); err != nil {
		p.stop()
		return nil, err
	}
	p.recv = "http://" + m[1] + "/v1/onoff/sms"
	return p, nil
}

// sender posts SMS webhooks the way Onoff does.
type sender struct {
	b      *bench
	client *http.Client
	url    string
	prefix string         // id prefix, distinct per run and phase
	seq    *atomic.Uint64 // shared across phases so ids stay distinct
}

func (b *bench) newSender(url, prefix string, seq *atomic.Uint64, conns int) *sender {
	return &sender{b: b, url: url, prefix: prefix, seq: seq, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, DisableCompression: true,
			DialContext: (&net.Dialer{}).DialContext}}}
}

// post sends one SMS and returns its id once answered 200.
func (s *sender) post(ctx context.Context, buf []byte) (string, []byte, error) {
	i := s.seq.Add(1)
	id := s.prefix + strconv.FormatUint(i, 10)
	buf = s.b.smsBody(buf[:0], id, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(buf))
	if err != nil {
		return "", buf, err
	}
	req.Header.Set("Authorization", "x-api-key "+webhookKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", buf, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", buf, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return id, buf, nil
}

// phase is one load phase's outcome.
type phase struct {
	Name     string   `json:"-"`
	Requests int      `json:"requests"` // answered 200
	Errors   int      `json:"errors"`
	Seconds  float64  `json:"seconds"`
	RPS      float64  `json:"rps"`
	P50      float64  `json:"p50_ms,omitempty"`
	P99      float64  `json:"p99_ms,omitempty"`
	Max      float64  `json:"max_ms,omitempty"`
	SchedP99 float64  `json:"p99_from_schedule_ms,omitempty"` // paced: from when the request was due
	Target   int      `json:"target_rps,omitempty"`
	PeakRSS  float64  `json:"peak_rss_anon_mb,omitempty"`
	PeakHeap float64  `json:"peak_go_heap_inuse_mb,omitempty"`
	FirstErr string   `json:"first_error,omitempty"`
	ids      []string // acknowledged ids (kept when asked)
}

// maxRequests bounds every phase's request count whatever the machine's speed.
func maxRequests(d time.Duration) int64 { return int64(d.Seconds()*200_000) + 1000 }

// blast sends from `senders` goroutines as fast as they go for d (and at most maxRequests(d) requests).
func (s *sender) blast(name string, senders int, d time.Duration, keepIDs bool) phase {
	ctx, cancel := context.WithTimeout(s.b.ctx, d)
	defer cancel()
	var left atomic.Int64
	left.Store(maxRequests(d))
	res := make([]workerResult, senders)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range senders {
		wg.Go(func() {
			r := &res[w]
			buf := make([]byte, 0, 1024)
			for ctx.Err() == nil && left.Add(-1) >= 0 {
				t0 := time.Now()
				var id string
				var err error
				id, buf, err = s.post(ctx, buf)
				r.record(ctx, id, err, time.Since(t0), 0, keepIDs)
			}
		})
	}
	wg.Wait()
	return merge(name, res, time.Since(start), 0)
}

// paced sends at a steady rate for d from a pool of workers; latency is measured from the send and from when
// the request was due (so a receiver that falls behind shows in the second).
func (s *sender) paced(name string, rate, workers int, d time.Duration, keepIDs bool) phase {
	ctx, cancel := context.WithTimeout(s.b.ctx, d+30*time.Second)
	defer cancel()
	n := int(float64(rate) * d.Seconds())
	due := make(chan time.Time, workers)
	res := make([]workerResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := &res[w]
			buf := make([]byte, 0, 1024)
			for at := range due {
				t0 := time.Now()
				var id string
				var err error
				id, buf, err = s.post(ctx, buf)
				r.record(ctx, id, err, time.Since(t0), time.Since(at), keepIDs)
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	tick := time.NewTicker(max(interval, time.Millisecond))
	sent := 0
	for sent < n && ctx.Err() == nil {
		// every request due by now goes out; the ticker only bounds how often we look
		for sent < n && time.Since(start) >= time.Duration(sent)*interval {
			select {
			case due <- start.Add(time.Duration(sent) * interval):
				sent++
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	close(due)
	wg.Wait()
	return merge(name, res, time.Since(start), rate)
}

type workerResult struct {
	lat, sched []time.Duration
	ids        []string
	errors     int
	firstErr   error
}

func (r *workerResult) record(ctx context.Context, id string, err error, lat, sched time.Duration, keepIDs bool) {
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded) {
			return // cut by the end of the phase: neither a success nor an error
		}
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.lat = append(r.lat, lat)
	if sched > 0 {
		r.sched = append(r.sched, sched)
	}
	if keepIDs {
		r.ids = append(r.ids, id)
	}
}

func merge(name string, res []workerResult, elapsed time.Duration, target int) phase {
	p := phase{Name: name, Seconds: round1(elapsed.Seconds()), Target: target}
	var lat, sched []time.Duration
	for _, r := range res {
		lat = append(lat, r.lat...)
		sched = append(sched, r.sched...)
		p.ids = append(p.ids, r.ids...)
		p.Errors += r.errors
		if r.firstErr != nil && p.FirstErr == "" {
			p.FirstErr = r.firstErr.Error()
		}
	}
	p.Requests = len(lat)
	p.RPS = round1(float64(len(lat)) / elapsed.Seconds())
	slices.Sort(lat)
	slices.Sort(sched)
	p.P50, p.P99, p.Max = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1))
	p.SchedP99 = ms(percentile(sched, 0.99))
	return p
}

// percentile is the q-quantile of sorted (nearest rank); 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// load is scenario 1: the no-op baseline, onoffsync at full speed, onoffsync paced; then delivery.
func (b *bench) load() (*report, error) {
	o := b.opts
	third := o.duration / 3
	warm := 500
	if o.quick {
		warm = 50
	}
	var seq atomic.Uint64
	prefix := fmt.Sprintf("bench-%d-%d-", o.seed, time.Now().UnixNano())

	// (a) baseline
	b.progress("(a) no-op gin server, %d senders, %s", o.senders, third)
	noop, err := b.startNoop(o.duration + 5*time.Minute)
	if err != nil {
		return nil, err
	}
	ns := b.newSender(noop.recv, prefix+"noop-", &seq, o.senders)
	ns.blast("warm-up", o.senders, time.Duration(warm)*time.Millisecond, false)
	a := ns.blast("(a) no-op gin", o.senders, third, false)
	noop.stop()

	// (b) and (c): the real binary
	hs := b.newFake()
	cfgPath, dbPath, err := b.writeConfig("load", hs.URL, "")
	if err != nil {
		return nil, err
	}
	srv, err := b.startServer(cfgPath)
	if err != nil {
		return nil, err
	}
	ss := b.newSender(srv.recv, prefix, &seq, o.senders)
	w := ss.blast("warm-up", o.senders, time.Duration(warm)*time.Millisecond, true)
	smp := b.sample(srv)
	b.progress("(b) onoffsync, %d senders at full speed, %s", o.senders, third)
	prof := b.profile(srv, o.cpuprof, third)
	full := ss.blast("(b) onoffsync full speed", o.senders, third, true)
	if err := <-prof; err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	pk := smp.reset()
	full.PeakRSS, full.PeakHeap = mb(pk.RSS), mb(pk.Heap)
	b.progress("(c) onoffsync at %d req/s, %s", o.rate, third)
	paced := ss.paced(fmt.Sprintf("(c) onoffsync at %d req/s", o.rate), o.rate, max(o.senders, 64), third, true)
	pk = smp.stop()
	paced.PeakRSS, paced.PeakHeap = mb(pk.RSS), mb(pk.Heap)

	acked := int64(len(w.ids) + len(full.ids) + len(paced.ids))
	b.progress("waiting until the %d acknowledged SMS are delivered", acked)
	c, drain, derr := b.waitDelivered(srv, acked, o.deadline)
	srv.stop()
	d := checkDelivery(hs, func(yield func(string) bool) {
		for _, ids := range [][]string{w.ids, full.ids, paced.ids} {
			for _, id := range ids {
				if !yield(id) {
					return
				}
			}
		}
	})
	ratio := 0.0
	if a.RPS > 0 {
		ratio = full.RPS / a.RPS
	}
	calls := hs.TotalCalls()
	r := &report{title: fmt.Sprintf("load: %s (%s per phase), %d senders", o.duration, third, o.senders)}
	r.md = append(r.md,
		"| phase | requests (200) | errors | req/s | p50 ms | p99 ms | max ms | p99 from schedule ms | peak RssAnon MB | peak Go heap MB |",
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range []phase{a, full, paced} {
		r.md = append(r.md, fmt.Sprintf("| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s |", p.Name, p.Requests, p.Errors, p.RPS,
			dash(p.P50), dash(p.P99), dash(p.Max), dash(p.SchedP99), dash(p.PeakRSS), dash(p.PeakHeap)))
	}
	r.md = append(r.md, "",
		fmt.Sprintf("Ratio (b)/(a): **%.2f**. Latencies of (a) are client-side too; (c) ran %d workers, (b) %d.", ratio, max(o.senders, 64), o.senders),
		fmt.Sprintf("Delivery: %d acknowledged (incl. %d warm-up), %d delivered, %d missing, **%d duplicates**; %d communications in HubSpot (also counts requests cut at a phase's end: stored, answer not read); jobs done %d, dead %d; drained %s after the last request; %d HubSpot calls (%.3f per SMS); data file %.1f MB.",
			d.Acked, len(w.ids), d.Delivered, d.Missing, d.Duplicates, d.Comms, c["done"], c["dead"], drain.Round(100*time.Millisecond), calls,
			float64(calls)/float64(max(d.Acked, 1)), mb(fileSize(dbPath))))
	for _, p := range []phase{a, full, paced} {
		if p.FirstErr != "" {
			r.md = append(r.md, fmt.Sprintf("First error in %s: %s", p.Name, p.FirstErr))
		}
	}
	r.data = map[string]any{"duration_s": o.duration.Seconds(), "senders": o.senders, "quick": o.quick,
		"noop": a, "full": full, "paced": paced, "ratio": math.Round(ratio*1000) / 1000,
		"delivery": d, "dead": c["dead"], "drain_after_load_s": round1(drain.Seconds()), "hubspot_calls": calls,
		"data_file_mb": mb(fileSize(dbPath))}
	if derr != nil {
		return r, derr
	}
	if d.Missing > 0 || d.Duplicates > 0 {
		return r, fmt.Errorf("%d acknowledged SMS missing and %d duplicated in HubSpot", d.Missing, d.Duplicates)
	}
	return r, nil
}

// profile writes srv's CPU profile over the next d to path (from the admin listener's /debug/pprof), and
// sends its outcome; nothing when path is "".
func (b *bench) profile(srv *proc, path string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	if path == "" {
		done <- nil
		return done
	}
	go func() {
		// Not adminClient: its timeout is shorter than a profile.
		client := &http.Client{Timeout: d + time.Minute}
		data, err := srv.adminGetWith(b.ctx, client, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(int(d.Seconds()), 1)))
		if err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
		done <- err
	}()
	return done
}

func dash(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
