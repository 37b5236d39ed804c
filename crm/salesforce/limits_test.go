package salesforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

func TestDailyReserve(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{DailyLimit: 1000}, nil) // reserve 10%: stop at 900, pace from 800
	ctx := context.Background()
	q := []crm.ContactQuery{{Email: "x@example.com"}} // 2 calls per FindContacts
	find := func() error { _, err := e.c.FindContacts(ctx, q); return err }

	e.srv.SetUsage(850)
	if err := find(); err != nil { // learns 852/1000
		t.Fatal(err)
	}
	if err := find(); err != nil { // inside the band: one call per 24h/1000 = 86.4s
		t.Fatal(err)
	}
	err := find()
	ce := asCRM(t, err)
	if ce.Action != crm.RateLimited || ce.Daily || ce.RetryAfter <= 0 || ce.RetryAfter > 87*time.Second {
		t.Fatalf("paced call: got %v (RetryAfter %v), want RateLimited, not daily, RetryAfter <= 86.4s", ce, ce.RetryAfter)
	}
	e.clock.Advance(ce.RetryAfter)
	if err := find(); err != nil {
		t.Fatalf("after the pace interval: %v", err)
	}

	e.srv.SetUsage(899)
	e.clock.Advance(time.Minute * 2)
	if err := find(); err == nil { // 900/1000 after the first query: the second is refused
		t.Fatal("reaching the reserve: got nil error")
	}
	calls := e.srv.DataCalls()
	err = find()
	ce = asCRM(t, err)
	if ce.Action != crm.RateLimited || !ce.Daily || !ce.Until.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("at the reserve: got %v (Until %v), want RateLimited daily until now+1h", ce, ce.Until)
	}
	if n := e.srv.DataCalls(); n != calls {
		t.Errorf("%d calls sent while in the reserve", n-calls)
	}

	// An hour later one probe goes out; usage has aged out of the rolling window, so work resumes.
	e.clock.Advance(time.Hour)
	e.srv.SetUsage(100)
	if err := find(); err != nil {
		t.Fatalf("after the window rolled: %v", err)
	}
}

func TestRequestLimitExceeded(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{DailyLimit: 1000}, nil)
	ctx := context.Background()
	e.srv.SetUsage(1000)
	_, err := e.c.ResolveOwner(ctx, "a@example.com")
	ce := asCRM(t, err)
	if ce.Action != crm.RateLimited || !ce.Daily || ce.Code != "REQUEST_LIMIT_EXCEEDED" || !ce.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("got %v (Until %v), want RateLimited daily REQUEST_LIMIT_EXCEEDED until %v", ce, ce.Until, t0.Add(time.Hour))
	}
	calls := e.srv.DataCalls()
	if _, err := e.c.ResolveOwner(ctx, "b@example.com"); asCRM(t, err).Action != crm.RateLimited {
		t.Errorf("second call: %v", err)
	}
	if n := e.srv.DataCalls(); n != calls {
		t.Errorf("%d calls sent after REQUEST_LIMIT_EXCEEDED, want 0 (no hammering)", n-calls)
	}
	rl := e.c.RateLimits()
	if len(rl) != 1 || rl[0].Kind != "requests" || rl[0].Rate != 20 {
		t.Errorf("RateLimits = %+v", rl)
	}
}
