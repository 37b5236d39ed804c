package hubspottest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func post(tb testing.TB, s *Server, token, path, body string) (int, map[string]any, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func TestShapesAndLimits(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	group := `{"filters":[{"propertyName":"phone","operator":"EQ","value":"1"}]}`
	groups := func(n int) string { return strings.TrimSuffix(strings.Repeat(group+",", n), ",") }
	var inputs []string
	for range 101 {
		inputs = append(inputs, `{"properties":{"hs_timestamp":"2026-01-01T00:00:00Z"},"associations":[]}`)
	}
	for _, tc := range []struct {
		name, token, path, body string
		status                  int
		category                string
	}{
		{"no token", "nope", "/crm/objects/2026-09/contacts/search", `{}`, 401, "INVALID_AUTHENTICATION"},
		{"5 groups", "pat-test", "/crm/objects/2026-09/contacts/search", `{"filterGroups":[` + groups(5) + `]}`, 200, ""},
		{"6 groups", "pat-test", "/crm/objects/2026-09/contacts/search", `{"filterGroups":[` + groups(6) + `]}`, 400, "VALIDATION_ERROR"},
		{"limit 201", "pat-test", "/crm/objects/2026-09/contacts/search", `{"limit":201}`, 400, "VALIDATION_ERROR"},
		{"long query", "pat-test", "/crm/objects/2026-09/contacts/search", `{"query":"` + strings.Repeat("a", 3000) + `"}`, 400, "VALIDATION_ERROR"},
		{"101 inputs", "pat-test", "/crm/objects/2026-09/communications/batch/create", `{"inputs":[` + strings.Join(inputs, ",") + `]}`, 400, "VALIDATION_ERROR"},
		{"1 input", "pat-test", "/crm/objects/2026-09/communications/batch/create", `{"inputs":[` + inputs[0] + `]}`, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := post(t, s, tc.token, tc.path, tc.body)
			if st != tc.status || (tc.category != "" && body["category"] != tc.category) {
				t.Errorf("got %d %v, want %d %s", st, body, tc.status, tc.category)
			}
		})
	}
}

func TestRateLimitHeadersAndPolicies(t *testing.T) {
	s := New(Options{MaxPer10s: 2, SearchPerSecond: 1})
	defer s.Close()
	for i, want := range []string{"1", "0"} {
		st, _, h := post(t, s, "pat-test", "/crm/objects/2026-09/contacts/batch/read", `{"inputs":[]}`)
		if st != 200 || h.Get("X-HubSpot-RateLimit-Remaining") != want || h.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
			t.Errorf("call %d: %d remaining %q, want 200 %s", i, st, h.Get("X-HubSpot-RateLimit-Remaining"), want)
		}
	}
	for _, tc := range []struct{ path, policy string }{
		{"/crm/objects/2026-09/contacts/batch/read", "TEN_SECONDLY_ROLLING"},
		{"/crm/objects/2026-09/contacts/search", ""}, // first search passes: search has its own limit
		{"/crm/objects/2026-09/contacts/search", "SECONDLY"},
	} {
		st, body, _ := post(t, s, "pat-test", tc.path, `{}`)
		if tc.policy == "" {
			if st != 200 {
				t.Errorf("%s: %d, want 200", tc.path, st)
			}
			continue
		}
		if st != 429 || body["policyName"] != tc.policy || body["errorType"] != "RATE_LIMIT" {
			t.Errorf("%s: %d %v, want 429 %s", tc.path, st, body, tc.policy)
		}
	}
	if n := s.Calls(ContactsSearch); n != 2 {
		t.Errorf("Calls(search) = %d, want 2", n)
	}
}
