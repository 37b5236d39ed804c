package hubspot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// virtualThrottle is a token bucket per kind on the fake clock: instead of sleeping it advances the clock, so
// a backlog runs at HubSpot's real limits in virtual time.
type virtualThrottle struct {
	clk     *fakeClock
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	rate, tokens, burst float64
	last                time.Time
}

func newVirtualThrottle(clk *fakeClock, limits []crm.RateLimit) *virtualThrottle {
	v := &virtualThrottle{clk: clk, buckets: map[string]*bucket{}}
	for _, l := range limits {
		v.buckets[l.Kind] = &bucket{rate: l.Rate, tokens: float64(l.Burst), burst: float64(l.Burst), last: clk.Now()}
	}
	return v
}

func (v *virtualThrottle) Wait(ctx context.Context, kind string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	b := v.buckets[kind]
	if b == nil {
		return ctx.Err()
	}
	now := v.clk.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		d := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		v.clk.Advance(d)
		b.last = b.last.Add(d)
		b.tokens = 1
	}
	b.tokens--
	return ctx.Err()
}

const (
	benchSMS     = 10000
	benchNumbers = 2000
	benchKnown   = 600 // numbers already contacts in the fake
)

type backlog struct {
	numbers []crm.Phone
	sms     []int // number index of each SMS
}

func newBacklog() backlog {
	r := rand.New(rand.NewPCG(1, 2))
	var bl backlog
	for i := range benchNumbers {
		bl.numbers = append(bl.numbers, crm.ParsePhone(fmt.Sprintf("+336%08d", 10000000+i*4099), "FR"))
	}
	for i := range benchSMS {
		bl.sms = append(bl.sms, i%benchNumbers)
	}
	r.Shuffle(len(bl.sms), func(i, j int) { bl.sms[i], bl.sms[j] = bl.sms[j], bl.sms[i] })
	return bl
}

// benchEnv is a fake with HubSpot's real limits (100/10s, search 5/s) on a virtual clock, and a client paced
// by a throttle seeded with its declared RateLimits.
func benchEnv(b *testing.B, bl backlog) *env {
	b.Helper()
	e := newEnv(b, hubspottest.Options{DailyCap: -1}, Config{}, Options{})
	e.client.throttle = newVirtualThrottle(e.clock, e.client.RateLimits())
	for i := range benchKnown {
		e.srv.SeedContact(map[string]string{"lastname": fmt.Sprint("Known", i), "phone": bl.numbers[i].E164})
	}
	return e
}

func smsActivity(i int, contactID string) crm.Activity {
	return crm.Activity{SourceID: fmt.Sprint("sms-", i), ContactID: contactID, Timestamp: time.Unix(int64(1_780_000_000+i), 0),
		Fields: map[string]string{"hs_communication_body": "hello"}}
}

func runBatched(b *testing.B, e *env, bl backlog) {
	ctx := context.Background()
	c := e.client
	known := map[int]string{} // number index -> contact id, the loop's cache
	lim := c.Limits()
	for start := 0; start < len(bl.sms); start += lim.WriteBatch {
		chunk := bl.sms[start:min(start+lim.WriteBatch, len(bl.sms))]
		var todo []int
		for _, n := range chunk {
			if _, ok := known[n]; !ok && !contains(todo, n) {
				todo = append(todo, n)
			}
		}
		for len(todo) > 0 {
			group := todo[:min(lim.SearchBatch, len(todo))]
			todo = todo[len(group):]
			var qs []crm.ContactQuery
			for _, n := range group {
				qs = append(qs, crm.ContactQuery{Phone: bl.numbers[n]})
			}
			found, err := c.FindContacts(ctx, qs)
			if err != nil {
				b.Fatalf("FindContacts: %v", err)
			}
			for k, n := range group {
				if len(found[k]) > 0 {
					known[n] = found[k][0].ID
					continue
				}
				ct, err := c.CreateContact(ctx, crm.NewContact{LastName: "New", Phone: bl.numbers[n]})
				if err != nil {
					b.Fatalf("CreateContact: %v", err)
				}
				known[n] = ct.ID
			}
		}
		var acts []crm.Activity
		for k, n := range chunk {
			acts = append(acts, smsActivity(start+k, known[n]))
		}
		res, err := c.LogActivities(ctx, acts)
		if err != nil {
			b.Fatalf("LogActivities: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatalf("LogActivities result: %v", r.Err)
			}
		}
	}
}

func runPerSMS(b *testing.B, e *env, bl backlog) {
	ctx := context.Background()
	c := e.client
	for i, n := range bl.sms {
		found, err := c.FindContacts(ctx, []crm.ContactQuery{{Phone: bl.numbers[n]}})
		if err != nil {
			b.Fatalf("FindContacts: %v", err)
		}
		var id string
		if len(found[0]) > 0 {
			id = found[0][0].ID
		} else {
			ct, err := c.CreateContact(ctx, crm.NewContact{LastName: "New", Phone: bl.numbers[n]})
			if err != nil {
				b.Fatalf("CreateContact: %v", err)
			}
			id = ct.ID
		}
		res, err := c.LogActivities(ctx, []crm.Activity{smsActivity(i, id)})
		if err != nil || res[0].Err != nil {
			b.Fatalf("LogActivities: %v %v", err, res)
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// BenchmarkBacklog delivers 10,000 SMS from 2,000 numbers (600 already contacts) against the fake at
// HubSpot's real limits in virtual time, batched and one call per step per SMS. Metrics: sms/call; vsec, the
// virtual seconds the backlog took; limit_fraction, the achieved call rate over what the binding HubSpot limit
// allows (100 per 10 s for non-search calls, 5/s for search), the larger of the two.
func BenchmarkBacklog(b *testing.B) {
	bl := newBacklog()
	for _, mode := range []struct {
		name string
		run  func(*testing.B, *env, backlog)
	}{{"batched", runBatched}, {"per-sms", runPerSMS}} {
		b.Run(mode.name, func(b *testing.B) {
			var calls, searches, contacts, comms int
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				e := benchEnv(b, bl)
				start := e.clock.Now()
				b.StartTimer()
				mode.run(b, e, bl)
				b.StopTimer()
				elapsed += e.clock.Now().Sub(start)
				calls += e.srv.TotalCalls()
				searches += e.srv.Calls(hubspottest.ContactsSearch)
				contacts += len(e.srv.Contacts())
				comms += len(e.srv.Communications())
				if got := len(e.srv.Contacts()); got != benchNumbers {
					b.Fatalf("%d contacts in the fake, want %d (one per number)", got, benchNumbers)
				}
				if got := len(e.srv.Communications()); got != benchSMS {
					b.Fatalf("%d communications, want %d", got, benchSMS)
				}
			}
			sec := elapsed.Seconds()
			b.ReportMetric(float64(benchSMS*b.N)/float64(calls), "sms/call")
			b.ReportMetric(sec/float64(b.N), "vsec")
			b.ReportMetric(max(float64(calls-searches)/(sec*10), float64(searches)/(sec*5)), "limit_fraction")
			b.ReportMetric(float64(calls)/float64(b.N), "calls")
		})
	}
}
