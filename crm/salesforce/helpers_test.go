package salesforce_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

const (
	testClientID = "3MVG9-consumer-key"
	testSecret   = "s3cr3t-never-logged"
)

var t0 = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)

type env struct {
	srv   *salesforcetest.Server
	clock *salesforcetest.Clock
	c     *salesforce.Client
}

// newEnv starts a fake (client credentials accepted) and a client for it; mut edits the config and options.
func newEnv(tb testing.TB, o salesforcetest.Options, mut func(*salesforce.Config, *salesforce.Options)) *env {
	tb.Helper()
	clock := salesforcetest.NewClock(t0)
	o.Now = clock.Now
	if o.ClientID == "" {
		o.ClientID = testClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = testSecret
	}
	srv := salesforcetest.New(o)
	tb.Cleanup(srv.Close)
	cfg := salesforce.Config{LoginURL: srv.URL(), Auth: salesforce.AuthClientCredentials, ClientID: testClientID,
		ClientSecret: testSecret}
	opts := salesforce.Options{HTTPClient: srv.Client(), Now: clock.Now}
	if mut != nil {
		mut(&cfg, &opts)
	}
	c, err := salesforce.New(cfg, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return &env{srv: srv, clock: clock, c: c}
}

func fr(s string) crm.Phone { return crm.ParsePhone(s, "FR") }

// asCRM returns err's *crm.Error or fails.
func asCRM(tb testing.TB, err error) *crm.Error {
	tb.Helper()
	var ce *crm.Error
	if !errors.As(err, &ce) {
		tb.Fatalf("error %v (%T) is not a *crm.Error", err, err)
	}
	return ce
}

func ids(cs []crm.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Kind+":"+c.ID)
	}
	return out
}

func newHarness(t *testing.T) *crmtest.Harness {
	e := newEnv(t, salesforcetest.Options{IndexLag: 2 * time.Minute}, nil)
	return &crmtest.Harness{
		Client: e.c,
		SeedContact: func(tb testing.TB, s crmtest.Seed) string {
			return e.srv.SeedContact(salesforcetest.Person{FirstName: s.FirstName, LastName: s.LastName, Email: s.Email,
				Phone: s.Phone, MobilePhone: s.MobilePhone, Modified: s.Modified})
		},
		SeedOwner: func(tb testing.TB, email string) string { return e.srv.SeedUser(email, true) },
		Logged: func(tb testing.TB) []crmtest.Logged {
			var out []crmtest.Logged
			for _, r := range e.srv.Tasks() {
				f := map[string]string{}
				for k, v := range r.Fields {
					f[k] = fmt.Sprint(v)
				}
				who, _ := r.Fields["WhoId"].(string)
				out = append(out, crmtest.Logged{ID: r.ID, ContactID: who, Fields: f})
			}
			return out
		},
		Settle:         e.srv.Settle,
		NewContactKind: crm.KindLead,
		UpdateField:    "FirstName",
	}
}

func TestConformance(t *testing.T) { crmtest.Run(t, newHarness) }
