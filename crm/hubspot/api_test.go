package hubspot

import (
	"context"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestAPIVersionPaths drives every call the adapter makes (contact search and read, contact create, owners,
// batch create, activity look-up, the online check, an OAuth refresh) against a fake that serves only one API
// version's paths: no request may stray from the configured version, and the default is 2026-09.
func TestAPIVersionPaths(t *testing.T) {
	for _, version := range []string{"", Version202609, Version202603, VersionV3} {
		name := version
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			srvVersion := version
			if srvVersion == "" {
				srvVersion = hubspottest.Version202609 // the default destination speaks the date-versioned API
			}
			oauth := &OAuth{ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-1"}
			e := newEnv(t, hubspottest.Options{APIVersion: srvVersion, ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-1", Tokens: []string{}},
				Config{APIVersion: version, OAuth: oauth}, Options{})
			ctx := context.Background()
			cid := e.srv.SeedContact(map[string]string{"lastname": "V", "phone": "+33612345678", "email": "v@example.com"})
			e.srv.Settle()
			found, err := e.client.FindContacts(ctx, []crm.ContactQuery{{Phone: fr("0612345678")}, {Email: "v@example.com"}})
			if err != nil || len(found[0]) != 1 || len(found[1]) != 1 {
				t.Fatalf("FindContacts = %v, %v; want the contact by phone and by email", found, err)
			}
			if _, err := e.client.CreateContact(ctx, crm.NewContact{LastName: "New", Email: "new@example.com"}); err != nil {
				t.Fatalf("CreateContact: %v", err)
			}
			e.srv.SeedOwner(hubspottest.Owner{Email: "rep@example.com"})
			if id, err := e.client.ResolveOwner(ctx, "rep@example.com"); err != nil || id == "" {
				t.Fatalf("ResolveOwner = %q, %v", id, err)
			}
			acts := activities(cid, 2)
			for _, r := range mustLog(t, e.client, acts) {
				if r.Err != nil {
					t.Fatalf("LogActivities: %v", r.Err)
				}
			}
			e.srv.Settle()
			if ids, err := e.client.FindActivities(ctx, acts); err != nil || ids[0] == "" || ids[1] == "" {
				t.Fatalf("FindActivities = %v, %v", ids, err)
			}
			if _, err := e.client.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if e.srv.Refreshes() != 1 {
				t.Errorf("refreshes = %d, want 1", e.srv.Refreshes())
			}
			if u := e.srv.Unserved(); len(u) > 0 {
				t.Errorf("requests outside API version %s: %v", srvVersion, u)
			}
		})
	}
}

func TestConfigAPIVersion(t *testing.T) {
	c := Config{Token: "pat"}
	if err := c.Validate(); err != nil || c.APIVersion != "2026-09" {
		t.Errorf("default api_version = %q, %v; want 2026-09", c.APIVersion, err)
	}
	c = Config{Token: "pat", APIVersion: "v4"}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "api_version:") {
		t.Errorf("api_version v4: %v, want an api_version error", err)
	}
}

// TestOAuthRefreshDateVersioned: the refresh goes to the date-versioned token endpoint with the same form body,
// and a refusal is read from its RFC 6749 fields.
func TestOAuthRefreshDateVersioned(t *testing.T) {
	for _, tc := range []struct {
		version, path string
	}{{"", "/oauth/2026-09/token"}, {Version202603, "/oauth/2026-03/token"}, {VersionV3, "/oauth/2026-03/token"}} {
		if got := (api{cmpVersion(tc.version)}).oauthToken(); got != tc.path {
			t.Errorf("token path for %q = %s, want %s", tc.version, got, tc.path)
		}
	}
	e := newEnv(t, hubspottest.Options{ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-1", Tokens: []string{}},
		Config{OAuth: &OAuth{ClientID: "cid", ClientSecret: "secret", RefreshToken: "rt-revoked"}}, Options{})
	_, err := e.client.ResolveOwner(context.Background(), "a@x.y")
	ce := crm.Classify(err)
	if ce == nil || ce.Action != crm.Pause || ce.Code != "invalid_grant" || !strings.Contains(ce.Message, "missing or unknown refresh token") {
		t.Fatalf("got %+v, want Pause invalid_grant with HubSpot's error_description", ce)
	}
	if n := e.srv.Calls(hubspottest.OAuthToken); n != 1 {
		t.Errorf("token endpoint calls = %d, want 1 (unserved: %v)", n, e.srv.Unserved())
	}
}

func cmpVersion(v string) string {
	if v == "" {
		return Version202609
	}
	return v
}
