package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// writeKey generates an RSA key, writes it as PEM and returns its path and public half.
func writeKey(tb testing.TB) (string, *rsa.PublicKey) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "server.key")
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, &key.PublicKey
}

func TestAuthFlows(t *testing.T) {
	keyPath, pub := writeKey(t)
	otherPath, _ := writeKey(t)
	jwtCfg := func(path, user string) func(*salesforce.Config, *salesforce.Options) {
		return func(c *salesforce.Config, _ *salesforce.Options) {
			c.Auth, c.ClientSecret, c.Username, c.PrivateKeyFile = salesforce.AuthJWT, "", user, path
		}
	}
	refreshCfg := func(rt string) func(*salesforce.Config, *salesforce.Options) {
		return func(c *salesforce.Config, _ *salesforce.Options) {
			c.Auth, c.RefreshToken = salesforce.AuthRefreshToken, rt
		}
	}
	tests := []struct {
		name    string
		opts    salesforcetest.Options
		mut     func(*salesforce.Config, *salesforce.Options)
		wantErr string // substring of a Pause error; "" for success
	}{
		{"client credentials", salesforcetest.Options{}, nil, ""},
		{"client credentials on login.salesforce.com", salesforcetest.Options{LoginDomain: true}, nil, "request not supported on this domain"},
		{"client credentials wrong secret", salesforcetest.Options{ClientSecret: "other"}, nil, "invalid_client"},
		{"jwt", salesforcetest.Options{PublicKey: pub, Username: "int@example.com"}, jwtCfg(keyPath, "int@example.com"), ""},
		{"jwt wrong key", salesforcetest.Options{PublicKey: pub, Username: "int@example.com"}, jwtCfg(otherPath, "int@example.com"), "invalid assertion"},
		{"jwt wrong user", salesforcetest.Options{PublicKey: pub, Username: "int@example.com"}, jwtCfg(keyPath, "x@example.com"), "approved"},
		{"jwt sandbox audience", salesforcetest.Options{PublicKey: pub, Username: "int@example.com", Audience: "https://test.salesforce.com"},
			jwtCfg(keyPath, "int@example.com"), "audience is invalid"},
		{"refresh token", salesforcetest.Options{RefreshToken: "rt-1"}, refreshCfg("rt-1"), ""},
		{"refresh token revoked", salesforcetest.Options{RefreshToken: "rt-2"}, refreshCfg("rt-1"), "expired access/refresh token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts, tt.mut)
			e.srv.SeedUser("rep@example.com", true)
			summary, err := e.c.Check(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if !strings.Contains(summary, "auth ok") || strings.Contains(summary, testSecret) {
					t.Errorf("summary %q", summary)
				}
				if got, err := e.c.ResolveOwner(context.Background(), "rep@example.com"); err != nil || got == "" {
					t.Errorf("ResolveOwner after auth = %q, %v", got, err)
				}
				return
			}
			ce := asCRM(t, err)
			if ce.Action != crm.Pause || !ce.Until.IsZero() || !strings.Contains(ce.Error(), tt.wantErr) {
				t.Errorf("got %v, want a Pause until fixed mentioning %q", ce, tt.wantErr)
			}
			if strings.Contains(ce.Error(), testSecret) || strings.Contains(ce.Error(), "rt-1") {
				t.Errorf("error leaks a secret: %v", ce)
			}
			if n := e.srv.DataCalls(); n != 0 {
				t.Errorf("%d data calls without a token", n)
			}
		})
	}
}

func TestSessionExpiryReauthAndReplayOnce(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{SessionLife: 2 * time.Hour}, nil)
	ctx := context.Background()
	e.srv.SeedUser("rep@example.com", true)
	q := []crm.ContactQuery{{Email: "x@example.com"}}
	if _, err := e.c.FindContacts(ctx, q); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Hour) // idle past the session timeout
	if _, err := e.c.FindContacts(ctx, q); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := e.srv.Calls(salesforcetest.EndpointToken); n != 2 {
		t.Errorf("token calls = %d, want 2", n)
	}

	// A session refused again right after re-auth: re-auth once only, then Pause.
	expired := salesforcetest.Fault{Times: 2, Status: 401, Body: `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`}
	e.srv.FailNext(salesforcetest.EndpointQuery, expired)
	_, err := e.c.ResolveOwner(ctx, "rep@example.com")
	if ce := asCRM(t, err); ce.Action != crm.Pause || ce.Code != "INVALID_SESSION_ID" {
		t.Errorf("got %v, want pause INVALID_SESSION_ID", ce)
	}
	if n := e.srv.Calls(salesforcetest.EndpointToken); n != 3 {
		t.Errorf("token calls = %d, want 3 (one re-auth)", n)
	}
	// 2 (Contact+Lead) + 1 refused + 2 after re-auth, then 1 refused + 1 replay refused again.
	if n := e.srv.Calls(salesforcetest.EndpointQuery); n != 7 {
		t.Errorf("query calls = %d, want 7", n)
	}
}

func TestDefaultHTTPClientRetries(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{TaskIDField: "Onoff_Message_Id__c"},
		func(_ *salesforce.Config, o *salesforce.Options) { o.HTTPClient = nil })
	ctx := context.Background()
	cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Lima"})
	// A plain create is never resent by the transport: it could duplicate.
	e.srv.DropNext(salesforcetest.EndpointCollection, 1)
	_, err := e.c.LogActivities(ctx, []crm.Activity{{SourceID: "1", ContactID: cid, ContactKind: crm.KindContact, Timestamp: t0}})
	if err == nil || e.srv.Calls(salesforcetest.EndpointCollection) != 1 || len(e.srv.Tasks()) != 1 {
		t.Errorf("plain create: err %v, %d calls, %d tasks; want an error, 1 call, 1 task", err,
			e.srv.Calls(salesforcetest.EndpointCollection), len(e.srv.Tasks()))
	}
	// An upsert is idempotent: the transport resends it and the second answer says created:false.
	e.srv.DropNext(salesforcetest.EndpointCollectionUpsert, 1)
	res, err := e.c.LogActivities(ctx, []crm.Activity{{SourceID: "2", ContactID: cid, ContactKind: crm.KindContact, Timestamp: t0,
		IDField: "Onoff_Message_Id__c"}})
	if err != nil || res[0].Err != nil || len(e.srv.Tasks()) != 2 {
		t.Errorf("upsert: %+v, %v, %d tasks; want success and 2 tasks", res, err, len(e.srv.Tasks()))
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() salesforce.Config {
		return salesforce.Config{LoginURL: "https://acme.my.salesforce.com/", Auth: "client_credentials", ClientID: "id", ClientSecret: "s"}
	}
	neg := -1
	tests := []struct {
		name string
		mut  func(*salesforce.Config)
		want string
	}{
		{"ok", func(*salesforce.Config) {}, ""},
		{"no login_url", func(c *salesforce.Config) { c.LoginURL = "" }, "login_url:"},
		{"http login_url", func(c *salesforce.Config) { c.LoginURL = "http://acme.my.salesforce.com" }, "login_url:"},
		{"no auth", func(c *salesforce.Config) { c.Auth = "" }, "auth:"},
		{"bad auth", func(c *salesforce.Config) { c.Auth = "password" }, "auth:"},
		{"no secret", func(c *salesforce.Config) { c.ClientSecret = "" }, "client_secret:"},
		{"jwt no user", func(c *salesforce.Config) { c.Auth = "jwt"; c.PrivateKeyFile = "k" }, "username:"},
		{"jwt no key", func(c *salesforce.Config) { c.Auth = "jwt"; c.Username = "u" }, "private_key_file:"},
		{"refresh no token", func(c *salesforce.Config) { c.Auth = "refresh_token" }, "refresh_token:"},
		{"bad version", func(c *salesforce.Config) { c.APIVersion = "66" }, "api_version:"},
		{"bad reserve", func(c *salesforce.Config) { c.DailyReservePercent = &neg }, "daily_reserve_percent:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mut(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil || c.APIVersion != "v66.0" || *c.DailyReservePercent != 10 || c.RequestsPerSecond != 20 ||
					c.LoginURL != "https://acme.my.salesforce.com" {
					t.Errorf("Validate = %v, %+v", err, c)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error starting %q", err, tt.want)
			}
		})
	}
	c := good()
	c.Auth, c.Username, c.PrivateKeyFile = "jwt", "u", filepath.Join(t.TempDir(), "missing.key")
	if _, err := salesforce.New(c, salesforce.Options{}); err == nil || !strings.HasPrefix(err.Error(), "private_key_file:") {
		t.Errorf("New with a missing key = %v", err)
	}
}
