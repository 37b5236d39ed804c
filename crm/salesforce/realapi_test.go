package salesforce_test

// Tests for issue 11 (items 10-15): each one fails when the adapter or the fake makes an assumption the real
// Salesforce refuses.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// assertionRecorder is a RoundTripper that keeps the JWT assertions posted to the token endpoint.
type assertionRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *assertionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/services/oauth2/token") && req.Body != nil {
		if b, err := req.GetBody(); err == nil {
			raw, _ := io.ReadAll(b)
			if form, err := url.ParseQuery(string(raw)); err == nil && form.Get("assertion") != "" {
				r.mu.Lock()
				r.seen = append(r.seen, form.Get("assertion"))
				r.mu.Unlock()
			}
		}
	}
	return r.next.RoundTrip(req)
}

// Issue 11 item 10: Salesforce refuses an assertion whose aud is a JSON array; golang-jwt's
// RegisteredClaims.Audience marshals one. Source: ../shared/reference/salesforce.md ("JWT aud is one string").
func TestJWTAudienceIsOneString(t *testing.T) {
	keyPath, pub := writeKey(t)
	rec := &assertionRecorder{}
	e := newEnv(t, salesforcetest.Options{PublicKey: pub, Username: "int@example.com"},
		func(c *salesforce.Config, o *salesforce.Options) {
			c.Auth, c.ClientSecret, c.Username, c.PrivateKeyFile = salesforce.AuthJWT, "", "int@example.com", keyPath
			rec.next = o.HTTPClient.Transport
			o.HTTPClient = &http.Client{Transport: rec}
		})
	if _, err := e.c.Check(context.Background()); err != nil {
		t.Fatalf("Check with JWT bearer: %v", err)
	}
	rec.mu.Lock()
	seen := rec.seen
	rec.mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("saw %d assertions, want 1", len(seen))
	}
	parts := strings.Split(seen[0], ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if got := string(claims["aud"]); got != `"https://login.salesforce.com"` {
		t.Errorf("aud = %s, want one JSON string \"https://login.salesforce.com\"", got)
	}

	// The fake refuses what Salesforce refuses: the same claims with aud as a one-element array.
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	arr, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: testClientID, Subject: "int@example.com",
		Audience: jwt.ClaimStrings{"https://login.salesforce.com"}, ExpiresAt: jwt.NewNumericDate(t0.Add(time.Minute))}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {arr}}
	resp, err := e.srv.Client().PostForm(e.srv.URL()+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := decodeJSON(resp, &body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body.Error != "invalid_grant" || body.Description != "audience is invalid" {
		t.Errorf("array aud: got %d %+v, want 400 invalid_grant \"audience is invalid\"", resp.StatusCode, body)
	}
}
