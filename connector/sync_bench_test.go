package connector

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// benchSyncer is a Syncer over a fresh store whose one destination ("crm", HubSpot mapping) is a fake adapter
// with HubSpot's batch sizes, pacing its calls with the loop's throttle at the given limits.
func benchSyncer(b *testing.B, limits []crm.RateLimit) (*Syncer, *store.Store, *crmtest.Fake) {
	b.Helper()
	dir := b.TempDir()
	cfg := testConfig(b, dir, "destinations:\n"+destYAML("crm", ""))
	st, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	f := crmtest.NewFake(crm.Limits{SearchBatch: 40, WriteBatch: 100})
	s, err := NewSyncer(cfg, st, Options{Adapters: map[string]func(AdapterDeps) (crm.Client, error){
		"crm": func(d AdapterDeps) (crm.Client, error) { f.Throttle(d.Throttle, limits); return f, nil },
	}})
	if err != nil {
		b.Fatal(err)
	}
	return s, st, f
}

// BenchmarkDrain drains a backlog of 10,000 SMS from 2,000 numbers (500 of them known contacts) through the
// sync loop and the fake adapter, under a limit of 500 calls/s shared by searches and writes. It reports API
// calls per SMS (below 1 thanks to batching and the contact cache) and the share of the rate limit used.
func BenchmarkDrain(b *testing.B) {
	const events, numbers, known, perSecond = 10000, 2000, 500, 500.0
	limits := []crm.RateLimit{{Kind: "search", Rate: perSecond, Burst: 1}, {Kind: "write", Rate: perSecond, Burst: 1}}
	var calls, secs float64
	for b.Loop() {
		b.StopTimer()
		s, st, f := benchSyncer(b, limits)
		for i := range known {
			f.AddContact(crm.Contact{LastName: "Known", Phones: []string{fmt.Sprintf("+3361%07d", i)}})
		}
		for i := range events {
			raw := smsBody(fmt.Sprint("d", i), "+33699999999", fmt.Sprintf("+3361%07d", i%numbers))
			if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: fmt.Sprint("d", i),
				Raw: raw, Received: time.Now()}, []string{"crm"}); err != nil {
				b.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.StartTimer()
		start := time.Now()
		go func() { s.Run(ctx, nil); close(done) }()
		for {
			stats, _, _ := st.Stats()
			if stats["crm"].Counts[store.Done] == events {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		s.Close()
		if n := len(f.Logged()); n != events {
			b.Fatalf("logged %d, want %d", n, events)
		}
		n := 0
		for _, m := range []string{crmtest.MethodFind, crmtest.MethodCreate, crmtest.MethodOwner, crmtest.MethodLog} {
			n += f.Calls(m)
		}
		calls += float64(n)
		secs += elapsed.Seconds()
		b.StartTimer()
	}
	perSMS := calls / float64(b.N) / events
	callRate := calls / secs
	b.ReportMetric(perSMS, "calls/sms")
	b.ReportMetric(float64(events)*float64(b.N)/secs, "sms/s")
	b.ReportMetric(callRate/perSecond, "limit_fraction")
}

// BenchmarkIdleLatency measures, on an idle loop, the time from the durable commit of one SMS to the adapter's
// write call for it (the receiver's commit wakes the loop; no polling delay).
func BenchmarkIdleLatency(b *testing.B) {
	s, st, f := benchSyncer(b, nil)
	f.AddContact(crm.Contact{LastName: "Known", Phones: []string{"+33612345678"}})
	called := make(chan time.Time, 1)
	f.OnCall(func(method string) {
		if method == crmtest.MethodLog {
			called <- time.Now()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done; s.Close() }()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: fmt.Sprint("idle", i),
			Raw: smsBody(fmt.Sprint("idle", i), "+33699999999", "0612345678"), Received: start}, []string{"crm"}); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-called:
			lat = append(lat, at.Sub(start))
		case <-time.After(5 * time.Second):
			b.Fatal("the loop did not call the adapter within 5s")
		}
		// wait for the outcome to be recorded and the loop's linger to pass, so the next SMS finds it idle
		b.StopTimer()
		for {
			stats, _, _ := st.Stats()
			if stats["crm"].Counts[store.Done] == int64(i) {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(lingerFor + 5*time.Millisecond)
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
