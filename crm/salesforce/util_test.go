package salesforce_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// sessionToken gets a token straight from the fake's token endpoint.
func sessionToken(tb testing.TB, e *env) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}}
	resp, err := e.srv.Client().Post(e.srv.URL()+"/services/oauth2/token", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := decodeJSON(resp, &tok); err != nil || tok.AccessToken == "" {
		tb.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}
