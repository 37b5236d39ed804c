package hubspot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// fakeClock is a clock tests advance by hand; the fake server and the client share it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a client wired to a fake HubSpot on a fake clock.
type env struct {
	clock  *fakeClock
	srv    *hubspottest.Server
	client *Client
}

// newEnv starts a fake with srvOpts (its clock set to the env's) and a client for it; cfg gets the fake's URL
// and, unless it has OAuth, the fake's token.
func newEnv(tb testing.TB, srvOpts hubspottest.Options, cfg Config, opts Options) *env {
	tb.Helper()
	clk := newClock()
	srvOpts.Now = clk.Now
	srv := hubspottest.New(srvOpts)
	tb.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	if cfg.Token == "" && cfg.OAuth == nil {
		cfg.Token = "pat-test"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = srv.Client()
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	c, err := New(cfg, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error { clk.Advance(d); return ctx.Err() }
	return &env{clock: clk, srv: srv, client: c}
}

func newHarness(t *testing.T) *crmtest.Harness {
	e := newEnv(t, hubspottest.Options{SearchLag: 30 * time.Second}, Config{}, Options{})
	return &crmtest.Harness{
		Client: e.client,
		SeedContact: func(tb testing.TB, s crmtest.Seed) string {
			tb.Helper()
			p := map[string]string{"firstname": s.FirstName, "lastname": s.LastName, "email": s.Email,
				"phone": s.Phone, "mobilephone": s.MobilePhone}
			if !s.Modified.IsZero() {
				p["lastmodifieddate"] = s.Modified.UTC().Format(time.RFC3339Nano)
			}
			return e.srv.SeedContact(p)
		},
		SeedOwner: func(tb testing.TB, email string) string {
			tb.Helper()
			return e.srv.SeedOwner(hubspottest.Owner{Email: email})
		},
		Logged: func(tb testing.TB) []crmtest.Logged {
			tb.Helper()
			var out []crmtest.Logged
			for _, o := range e.srv.Communications() {
				l := crmtest.Logged{ID: o.ID, Fields: o.Properties}
				for _, a := range o.Associations {
					if a.ToType == "contacts" {
						l.ContactID = a.ToID
					}
				}
				out = append(out, l)
			}
			return out
		},
		Settle:         e.srv.Settle,
		NewContactKind: crm.KindContact,
		UpdateField:    "firstname",
	}
}

func TestConformance(t *testing.T) { crmtest.Run(t, newHarness) }
