package hubspot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

func rateBody(policy string) string {
	return `{"status":"error","message":"You have reached your limit.","errorType":"RATE_LIMIT","correlationId":"x","policyName":"` + policy + `"}`
}

func TestRateLimitPoliciesClassified(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	for _, tc := range []struct {
		policy, endpoint string
		run              func(*Client) error
		want             crm.Error // Action, Limit, Daily, RetryAfter>0 checked; Until checked when set
	}{
		{"TEN_SECONDLY_ROLLING", hubspottest.Owners, func(c *Client) error { _, err := c.ResolveOwner(context.Background(), "a@b.c"); return err },
			crm.Error{Action: crm.RateLimited, Limit: "requests"}},
		{"SECONDLY", hubspottest.ContactsSearch, func(c *Client) error {
			_, err := c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("0612345678")}})
			return err
		}, crm.Error{Action: crm.RateLimited, Limit: "search", RetryAfter: time.Second}},
		{"DAILY", hubspottest.CommsBatchCreate, func(c *Client) error { _, err := c.LogActivities(context.Background(), activities("", 2)); return err },
			// 12:00 UTC on 2026-05-20 is 14:00 in Paris: the cap resets at the next midnight in the HubSpot
			// account's time zone (Paris), not in the destination's (Tokyo, where it is already 21:00).
			crm.Error{Action: crm.RateLimited, Limit: "requests", Daily: true, Until: time.Date(2026, 5, 21, 0, 0, 0, 0, paris)}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e := newEnv(t, hubspottest.Options{Location: paris}, Config{}, Options{Location: tokyo})
			e.srv.Fail(tc.endpoint, 1, 429, rateBody(tc.policy))
			ce := crm.Classify(tc.run(e.client))
			if ce == nil {
				t.Fatal("got nil error")
			}
			if ce.Action != tc.want.Action || ce.Limit != tc.want.Limit || ce.Daily != tc.want.Daily || ce.Status != 429 || ce.RetryAfter <= 0 {
				t.Errorf("got %+v, want %+v", ce, tc.want)
			}
			if tc.want.RetryAfter != 0 && ce.RetryAfter != tc.want.RetryAfter {
				t.Errorf("RetryAfter = %s, want %s", ce.RetryAfter, tc.want.RetryAfter)
			}
			if !tc.want.Until.IsZero() && !ce.Until.Equal(tc.want.Until) {
				t.Errorf("Until = %s, want %s", ce.Until, tc.want.Until)
			}
		})
	}
}

func TestTenSecondWindowRetryAfterIsRestOfWindow(t *testing.T) {
	e := newEnv(t, hubspottest.Options{MaxPer10s: 3}, Config{}, Options{})
	ctx := context.Background()
	e.client.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() } // do not pace: hit the wall
	e.client.zone = time.UTC                                                               // already read: every call below counts
	for i := range 3 {
		if _, err := e.client.ResolveOwner(ctx, strings.Repeat("a", i+1)+"@x.y"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		e.clock.Advance(time.Second)
	}
	_, err := e.client.ResolveOwner(ctx, "z@x.y")
	ce := crm.Classify(err)
	// The first call was 3s ago: its slot frees in 7s.
	if ce == nil || ce.Action != crm.RateLimited || ce.Code != "TEN_SECONDLY_ROLLING" || ce.RetryAfter != 7*time.Second {
		t.Fatalf("got %+v, want RateLimited TEN_SECONDLY_ROLLING RetryAfter 7s", ce)
	}
	e.clock.Advance(ce.RetryAfter)
	if _, err := e.client.ResolveOwner(ctx, "z@x.y"); err != nil {
		t.Errorf("after RetryAfter: %v", err)
	}
}

func TestPacesWhenRemainingIsZero(t *testing.T) {
	e := newEnv(t, hubspottest.Options{MaxPer10s: 3}, Config{}, Options{})
	ctx := context.Background()
	start := e.clock.Now()
	for i := range 7 {
		if _, err := e.client.ResolveOwner(ctx, strings.Repeat("a", i+1)+"@x.y"); err != nil {
			t.Fatalf("call %d: %v (the adapter should have waited for the window)", i, err)
		}
	}
	if waited := e.clock.Now().Sub(start); waited != 20*time.Second {
		t.Errorf("waited %s of fake time for 7 calls at 3/10s, want 20s", waited)
	}
}

func TestSearchPerSecondEnforcedByFake(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	var last error
	for range 6 {
		_, last = e.client.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("0612345678")}})
	}
	if ce := crm.Classify(last); ce == nil || ce.Code != "SECONDLY" || ce.Limit != "search" {
		t.Errorf("6th search in one second: %v, want RateLimited SECONDLY", last)
	}
}

func TestDailyCapRateLimitedUntilMidnight(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	// The account is in New York; the destination's (mapping's) zone is UTC: the cap resets at midnight in
	// New York, read once from the account info API while requests still succeed.
	e := newEnv(t, hubspottest.Options{DailyCap: 3, Location: ny}, Config{}, Options{})
	ctx := context.Background()
	var ce *crm.Error
	for i := range 3 {
		_, err := e.client.ResolveOwner(ctx, strings.Repeat("b", i+1)+"@x.y")
		ce = crm.Classify(err)
	}
	want := time.Date(2026, 5, 21, 0, 0, 0, 0, ny) // 12:00 UTC is 08:00 in New York
	if ce == nil || ce.Action != crm.RateLimited || !ce.Daily || !ce.Until.Equal(want) {
		t.Fatalf("third call over a cap of 2: %+v, want RateLimited Daily until %s", ce, want)
	}
	if n := e.srv.Calls(hubspottest.AccountDetails); n != 1 {
		t.Errorf("account info read %d times, want once", n)
	}
	e.clock.Advance(ce.Until.Sub(e.clock.Now()))
	if _, err := e.client.ResolveOwner(ctx, "new@x.y"); err != nil {
		t.Errorf("after midnight: %v", err)
	}
}

func TestErrorStatusesClassified(t *testing.T) {
	for _, tc := range []struct {
		status   int
		body     string
		action   crm.Action
		code     string
		minAfter time.Duration
	}{
		{400, `{"status":"error","message":"Property values were not valid","correlationId":"x","category":"VALIDATION_ERROR"}`, crm.Permanent, "VALIDATION_ERROR", 0},
		{403, `{"status":"error","message":"This app hasn't been granted all required scopes","correlationId":"x","category":"MISSING_SCOPES"}`, crm.Pause, "MISSING_SCOPES", 0},
		{404, "", crm.Permanent, "OBJECT_NOT_FOUND", 0},
		{423, "", crm.Retry, "LOCKED", 2 * time.Second},
		{502, "", crm.Retry, "", 0},
		{503, "", crm.Retry, "", 0},
		{504, "", crm.Retry, "", 0},
	} {
		t.Run(fmt.Sprint("HTTP", tc.status), func(t *testing.T) {
			e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
			e.srv.Fail(hubspottest.ContactsCreate, 1, tc.status, tc.body)
			_, err := e.client.CreateContact(context.Background(), crm.NewContact{LastName: "X"})
			ce := crm.Classify(err)
			if ce == nil || ce.Action != tc.action || ce.Status != tc.status || (tc.code != "" && ce.Code != tc.code) || ce.RetryAfter < tc.minAfter {
				t.Errorf("got %+v, want %s %s RetryAfter >= %s", ce, tc.action, tc.code, tc.minAfter)
			}
		})
	}
}

func TestExpiredTokenRefreshAndReplay(t *testing.T) {
	oauth := &OAuth{ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-1"}
	e := newEnv(t, hubspottest.Options{ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-1", Tokens: []string{}},
		Config{OAuth: oauth}, Options{})
	ctx := context.Background()
	if _, err := e.client.ResolveOwner(ctx, "a@x.y"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if n := e.srv.Refreshes(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
	e.srv.ExpireAllTokens() // HubSpot says EXPIRED_AUTHENTICATION before our expiry
	if _, err := e.client.ResolveOwner(ctx, "b@x.y"); err != nil {
		t.Fatalf("call with an expired token: %v, want a refresh and a replay", err)
	}
	if n, calls := e.srv.Refreshes(), e.srv.Calls(hubspottest.Owners); n != 2 || calls != 3 {
		t.Errorf("refreshes = %d, owner calls = %d; want 2 and 3 (one replay)", n, calls)
	}
	// Ahead of expiry (1800s tokens): refreshed before HubSpot would refuse it, no 401 round trip.
	e.clock.Advance(25*time.Minute + time.Second)
	if _, err := e.client.ResolveOwner(ctx, "c@x.y"); err != nil {
		t.Fatalf("call near expiry: %v", err)
	}
	if n, calls := e.srv.Refreshes(), e.srv.Calls(hubspottest.Owners); n != 3 || calls != 4 {
		t.Errorf("refreshes = %d, owner calls = %d; want 3 and 4", n, calls)
	}
}

func TestInvalidCredentialsPause(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		srv  hubspottest.Options
		code string
	}{
		{"bad private app token", Config{Token: "pat-wrong"}, hubspottest.Options{}, "INVALID_AUTHENTICATION"},
		{"expired private app token", Config{Token: "pat-old"}, hubspottest.Options{Tokens: []string{}}, "EXPIRED_AUTHENTICATION"},
		{"bad refresh token", Config{OAuth: &OAuth{ClientID: "cid", ClientSecret: "s3cr3t-value", RefreshToken: "rt-wrong"}},
			hubspottest.Options{ClientID: "cid", ClientSecret: "s3cr3t-value", RefreshToken: "rt-1"}, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The default HTTP client (retryablehttp): a 401 must not be retried.
			e := newEnv(t, tc.srv, tc.cfg, Options{HTTPClient: crm.NewHTTPClient()})
			if tc.cfg.Token == "pat-old" {
				e.srv.AddToken("pat-old", e.clock.Now().Add(-time.Minute))
			}
			_, err := e.client.ResolveOwner(context.Background(), "a@x.y")
			ce := crm.Classify(err)
			if ce == nil || ce.Action != crm.Pause || ce.Code != tc.code || !ce.Until.IsZero() || ce.Message == "" {
				t.Fatalf("got %+v, want Pause %s until fixed, with a message", ce, tc.code)
			}
			if strings.Contains(ce.Error(), "s3cr3t") || strings.Contains(ce.Error(), "pat-wrong") || strings.Contains(ce.Error(), "rt-wrong") {
				t.Errorf("error leaks a secret: %v", ce)
			}
			if n := e.srv.TotalCalls(); n != 1 {
				t.Errorf("%d requests, want 1 (no retry storm)", n)
			}
		})
	}
}

func TestRateLimitsAndLimits(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{RequestsPer10s: 190}, Options{})
	want := []crm.RateLimit{{Kind: "requests", Rate: 19, Burst: 190}, {Kind: "search", Rate: 4, Burst: 1}}
	if diff := cmp.Diff(want, e.client.RateLimits()); diff != "" {
		t.Errorf("RateLimits (-want +got):\n%s", diff)
	}
	if l := e.client.Limits(); l.WriteBatch != 100 || l.SearchBatch < 1 {
		t.Errorf("Limits = %+v", l)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // prefix; "" for valid
	}{
		{"token", Config{Token: "pat"}, ""},
		{"oauth", Config{OAuth: &OAuth{ClientID: "a", ClientSecret: "b", RefreshToken: "c"}}, ""},
		{"none", Config{}, "token: required unless oauth is set"},
		{"both", Config{Token: "pat", OAuth: &OAuth{}}, "token:"},
		{"oauth without secret", Config{OAuth: &OAuth{ClientID: "a", RefreshToken: "c"}}, "oauth: client_secret"},
		{"bad url", Config{Token: "pat", BaseURL: "ftp://x"}, "base_url:"},
		{"negative rate", Config{Token: "pat", RequestsPer10s: -1}, "requests_per_10s:"},
		{"negative search", Config{Token: "pat", SearchPerSecond: -1}, "search_per_second:"},
		{"negative lag", Config{Token: "pat", IndexLag: -time.Second}, "index_lag:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Errorf("Validate: %v, want %q...", err, tc.err)
			}
			if tc.err == "" && (tc.cfg.BaseURL != "https://api.hubapi.com" || tc.cfg.RequestsPer10s != 100 ||
				tc.cfg.SearchPerSecond != 4 || tc.cfg.IndexLag != time.Minute) {
				t.Errorf("defaults not filled: %+v", tc.cfg)
			}
		})
	}
}
