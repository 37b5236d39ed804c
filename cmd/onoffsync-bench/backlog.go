package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/store"
)

// fillers is how many goroutines enqueue concurrently, so the store's group commit batches their writes.
const fillers = 64

// fill enqueues n accepted SMS into the data file at path, offline, the way the receiver stores them; it
// returns how long it took. It stops at the deadline or when ctx ends.
func (b *bench) fill(path string, n int, idPrefix string, deadline time.Duration) (time.Duration, error) {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, deadline)
	defer cancel()
	var next, stored atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range fillers {
		wg.Go(func() {
			buf := make([]byte, 0, 1024)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				id := idPrefix + strconv.FormatInt(i, 10)
				buf = b.smsBody(buf[:0], id, uint64(i))
				raw := append([]byte(nil), buf...)
				_, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
					Received: time.Now(), Raw: raw}, []string{destName})
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				stored.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-t.C:
			s := stored.Load()
			b.progress("  fill: %d of %d (%.0f/s)", s, n, float64(s)/time.Since(start).Seconds())
		}
	}
	elapsed := time.Since(start)
	commits, writes := st.CommitStats()
	b.progress("  fill: %d events in %s, %d commits (%.1f writes per commit)", stored.Load(), elapsed.Round(time.Millisecond),
		commits, float64(writes)/float64(max(commits, 1)))
	if err := st.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return elapsed, fmt.Errorf("fill: %w", firstErr)
	}
	if s := stored.Load(); s != int64(n) {
		return elapsed, fmt.Errorf("fill: stored %d of %d before the deadline (%s)", s, n, deadline)
	}
	return elapsed, nil
}

// apiEndpoints are the fake HubSpot endpoints reported per SMS.
var apiEndpoints = []struct{ key, name string }{
	{hubspottest.CommsBatchCreate, "comms batch create"},
	{hubspottest.CommsCreate, "comms create"},
	{hubspottest.ContactsSearch, "contacts search"},
	{hubspottest.ContactsBatchRead, "contacts batch read"},
	{hubspottest.ContactsCreate, "contacts create"},
	{hubspottest.Owners, "owners"},
	{hubspottest.AssociationsDefault, "associations"},
	{hubspottest.CommsSearch, "comms search"},
	{hubspottest.CommsBatchRead, "comms batch read"},
}

// backlog is scenario 2: pre-fill the data file offline, then measure how fast onoffsync drains it.
func (b *bench) backlog() (*report, error) {
	o := b.opts
	hs := b.newFake()
	cfgPath, dbPath, err := b.writeConfig("backlog", hs.URL, "")
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("backlog-%d-%d-", o.seed, time.Now().UnixNano())
	b.progress("filling %s with %d SMS offline (%d goroutines)", dbPath, o.events, fillers)
	fillTime, err := b.fill(dbPath, o.events, prefix, o.deadline)
	if err != nil {
		return nil, err
	}
	before := fileSize(dbPath)

	b.progress("starting onoffsync on the backlog")
	launched := time.Now()
	srv, err := b.startServer(cfgPath)
	if err != nil {
		return nil, err
	}
	startup := time.Since(launched)
	smp := b.sample(srv)
	c, drain, derr := b.waitDelivered(srv, int64(o.events), o.deadline)
	pk := smp.stop()
	srv.stop()
	after := fileSize(dbPath)

	calls := hs.TotalCalls()
	d := checkDelivery(hs, func(yield func(string) bool) {
		for i := range o.events {
			if !yield(prefix + strconv.Itoa(i)) {
				return
			}
		}
	})
	perSMS := func(n int) float64 { return float64(n) / float64(o.events) }
	r := &report{title: fmt.Sprintf("backlog: %d SMS pre-filled, then drained into the fake HubSpot", o.events)}
	r.md = append(r.md,
		"| events | fill s | fill events/s | file before MB | startup s | drain s | SMS/s | API calls/SMS | peak RssAnon MB | peak Go heap MB | file after MB | delivered | duplicates | dead |",
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
		fmt.Sprintf("| %d | %.1f | %.0f | %.1f | %.2f | %.1f | %.0f | %.4f | %.1f | %.1f | %.1f | %d | %d | %d |", o.events,
			fillTime.Seconds(), float64(o.events)/fillTime.Seconds(), mb(before), startup.Seconds(), drain.Seconds(),
			float64(c.finished())/drain.Seconds(), perSMS(calls), mb(pk.RSS), mb(pk.Heap), mb(after), d.Delivered, d.Duplicates, c["dead"]),
		"")
	breakdown := map[string]any{}
	line := "API calls by endpoint:"
	for _, e := range apiEndpoints {
		if n := hs.Calls(e.key); n > 0 {
			line += fmt.Sprintf(" %s %d (%.4f/SMS);", e.name, n, perSMS(n))
			breakdown[e.name] = n
		}
	}
	r.md = append(r.md, line, fmt.Sprintf("Drain measured from the ready line to pending+in_flight+retrying = 0 (polled every %s); %d memory samples.",
		sampleEvery, pk.Samples))
	r.data = map[string]any{"events": o.events, "fill_s": round1(fillTime.Seconds()),
		"fill_events_per_s": round1(float64(o.events) / fillTime.Seconds()), "file_before_mb": mb(before),
		"startup_s": round1(startup.Seconds()), "drain_s": round1(drain.Seconds()),
		"sms_per_s": round1(float64(c.finished()) / drain.Seconds()), "api_calls": calls,
		"api_calls_per_sms": round1(perSMS(calls)*10000) / 10000, "api_calls_by_endpoint": breakdown,
		"peak_rss_anon_mb": mb(pk.RSS), "peak_go_heap_inuse_mb": mb(pk.Heap), "file_after_mb": mb(after),
		"delivery": d, "dead": c["dead"]}
	if derr != nil {
		return r, derr
	}
	if d.Missing > 0 || d.Duplicates > 0 {
		return r, fmt.Errorf("%d SMS missing and %d duplicated in HubSpot", d.Missing, d.Duplicates)
	}
	return r, nil
}
