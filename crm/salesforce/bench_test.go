package salesforce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// Salesforce's binding limit is the daily allocation: 100,000 calls per rolling 24 h for a typical org,
// of which the adapter uses 90% (daily_reserve_percent 10): 1.04 calls/s sustained. The benchmark runs
// that rate compressed 10,000x (10,417 calls/s) through a rate.Limiter throttle.
const (
	benchDaily    = 100000
	benchUsable   = benchDaily * 9 / 10
	benchCompress = 10000
	benchSMS      = 10000
	benchNumbers  = 2000
	benchExisting = 1000
)

type limiterThrottle struct{ l *rate.Limiter }

func (t limiterThrottle) Wait(ctx context.Context, _ string) error { return t.l.Wait(ctx) }

func benchRate() float64 { return float64(benchUsable) / (24 * time.Hour).Seconds() * benchCompress }

func benchEnv(b *testing.B) *env {
	e := newEnv(b, salesforcetest.Options{DailyLimit: 1 << 30, TaskIDField: "Onoff_Message_Id__c"},
		func(_ *salesforce.Config, o *salesforce.Options) {
			o.Throttle = limiterThrottle{rate.NewLimiter(rate.Limit(benchRate()), 1)}
		})
	for i := range benchExisting {
		e.srv.SeedContact(salesforcetest.Person{LastName: fmt.Sprint("C", i), Phone: benchNumber(i)})
	}
	return e
}

func benchNumber(i int) string { return fmt.Sprintf("+336%08d", 10000000+i) }

func benchActivity(i int, c crm.Contact) crm.Activity {
	return crm.Activity{SourceID: fmt.Sprint("sms-", i), ContactID: c.ID, ContactKind: c.Kind, CompanyID: c.CompanyID,
		Timestamp: t0, IDField: "Onoff_Message_Id__c", Fields: map[string]string{"Subject": "SMS", "Description": "hello"}}
}

// BenchmarkBacklog delivers 10,000 SMS from 2,000 numbers (1,000 already contacts) batched and one call
// per step, and reports SMS per API call and the achieved call rate as a fraction of the (compressed)
// daily-allocation rate.
func BenchmarkBacklog(b *testing.B) {
	ctx := context.Background()
	phones := make([]crm.Phone, benchNumbers) // parsed once, as the loop parses at ingestion
	for n := range phones {
		phones[n] = crm.ParsePhone(benchNumber(n), "FR")
	}
	run := func(b *testing.B, deliver func(e *env) error) {
		var calls int
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			e := benchEnv(b)
			b.StartTimer()
			start := time.Now()
			if err := deliver(e); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(start)
			calls += e.srv.DataCalls()
			if n := len(e.srv.Tasks()); n != benchSMS {
				b.Fatalf("%d tasks, want %d", n, benchSMS)
			}
		}
		smsPerCall := float64(benchSMS*b.N) / float64(calls)
		b.ReportMetric(smsPerCall, "sms/call")
		b.ReportMetric(float64(calls)/elapsed.Seconds()/benchRate(), "limit_fraction")
		b.ReportMetric(smsPerCall*benchUsable, "sms/day@100k")
	}
	b.Run("batched", func(b *testing.B) {
		run(b, func(e *env) error {
			contacts := map[string]crm.Contact{}
			var qs []crm.ContactQuery
			for n := range benchNumbers {
				qs = append(qs, crm.ContactQuery{Phone: phones[n]})
			}
			for start := 0; start < len(qs); start += salesforce.SearchBatch {
				group := qs[start:min(start+salesforce.SearchBatch, len(qs))]
				res, err := e.c.FindContacts(ctx, group)
				if err != nil {
					return err
				}
				for i, m := range res {
					if len(m) > 0 {
						contacts[group[i].Phone.E164] = m[0]
					}
				}
			}
			var acts []crm.Activity
			for i := range benchSMS {
				p := phones[i%benchNumbers]
				c, ok := contacts[p.E164]
				if !ok {
					var err error
					if c, err = e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindLead, Phone: p}); err != nil {
						return err
					}
					contacts[p.E164] = c
				}
				acts = append(acts, benchActivity(i, c))
				if len(acts) == salesforce.WriteBatch || i == benchSMS-1 {
					res, err := e.c.LogActivities(ctx, acts)
					if err != nil {
						return err
					}
					for _, r := range res {
						if r.Err != nil {
							return r.Err
						}
					}
					acts = acts[:0]
				}
			}
			return nil
		})
	})
	b.Run("per_sms", func(b *testing.B) {
		run(b, func(e *env) error {
			for i := range benchSMS {
				p := phones[i%benchNumbers]
				res, err := e.c.FindContacts(ctx, []crm.ContactQuery{{Phone: p}})
				if err != nil {
					return err
				}
				var c crm.Contact
				if len(res[0]) > 0 {
					c = res[0][0]
				} else if c, err = e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindLead, Phone: p}); err != nil {
					return err
				}
				r, err := e.c.LogActivities(ctx, []crm.Activity{benchActivity(i, c)})
				if err != nil {
					return err
				}
				if r[0].Err != nil {
					return r[0].Err
				}
			}
			return nil
		})
	})
}
