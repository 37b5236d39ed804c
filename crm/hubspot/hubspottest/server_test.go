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
		{"5 groups", "pat-test", "/crm/objects/2026-09/contacts/search", `{"limit":10,"properties":[],"filterGroups":[` + groups(5) + `]}`, 200, ""},
		{"6 groups", "pat-test", "/crm/objects/2026-09/contacts/search", `{"limit":10,"properties":[],"filterGroups":[` + groups(6) + `]}`, 400, "VALIDATION_ERROR"},
		{"limit 201", "pat-test", "/crm/objects/2026-09/contacts/search", `{"limit":201,"properties":[],"filterGroups":[]}`, 400, "VALIDATION_ERROR"},
		{"long query", "pat-test", "/crm/objects/2026-09/contacts/search", `{"limit":10,"properties":[],"filterGroups":[],"query":"` + strings.Repeat("a", 3000) + `"}`, 400, "VALIDATION_ERROR"},
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
		st, _, h := post(t, s, "pat-test", "/crm/objects/2026-09/contacts/batch/read", `{"inputs":[],"properties":[],"propertiesWithHistory":[]}`)
		if st != 200 || h.Get("X-HubSpot-RateLimit-Remaining") != want || h.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
			t.Errorf("call %d: %d remaining %q, want 200 %s", i, st, h.Get("X-HubSpot-RateLimit-Remaining"), want)
		}
	}
	for _, tc := range []struct{ path, policy string }{
		{"/crm/objects/2026-09/contacts/batch/read", "TEN_SECONDLY_ROLLING"},
		{"/crm/objects/2026-09/contacts/search", ""}, // first search passes: search has its own limit
		{"/crm/objects/2026-09/contacts/search", "SECONDLY"},
	} {
		st, body, _ := post(t, s, "pat-test", tc.path, `{"inputs":[],"properties":[],"propertiesWithHistory":[],"filterGroups":[],"limit":1}`)
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

// TestRequestBodiesFollowTheSpec: every body is checked against HubSpot's 2026-09 OpenAPI schemas (with the
// known quirks corrected) and a bad one answers HubSpot's 400 shape, naming the problem.
func TestRequestBodiesFollowTheSpec(t *testing.T) {
	s := New(Options{SearchPerSecond: -1})
	defer s.Close()
	search := "/crm/objects/2026-09/contacts/search"
	create := "/crm/objects/2026-09/communications/batch/create"
	for _, tc := range []struct {
		name, path, body string
		status           int
		problem          string // in the first error's message
	}{
		{"search, sorts as objects, no after", search, `{"filterGroups":[],"properties":["email"],"limit":1,"sorts":[{"propertyName":"lastmodifieddate","direction":"DESCENDING"}]}`, 200, ""},
		{"search without limit", search, `{"filterGroups":[],"properties":[]}`, 400, "Required property 'limit'"},
		{"search, sort as a string", search, `{"filterGroups":[],"properties":[],"limit":1,"sorts":["lastmodifieddate"]}`, 400, "body.sorts[0]: want an object"},
		{"search, unknown operator", search, `{"filterGroups":[{"filters":[{"propertyName":"phone","operator":"LIKE","value":"1"}]}],"properties":[],"limit":1}`, 400, "LIKE is not one of"},
		{"search, group without filters", search, `{"filterGroups":[{}],"properties":[],"limit":1}`, 400, "Required property 'filters'"},
		{"search, values not a list", search, `{"filterGroups":[{"filters":[{"propertyName":"phone","operator":"IN","values":"1"}]}],"properties":[],"limit":1}`, 400, "want an array"},
		{"contact create without associations", "/crm/objects/2026-09/contacts", `{"properties":{"email":"a@b.c"}}`, 201, ""},
		{"contact property not a string", "/crm/objects/2026-09/contacts", `{"properties":{"email":"x@y.z","age":3}}`, 400, "body.properties.age: want a string"},
		{"batch input without associations", create, `{"inputs":[{"properties":{"hs_timestamp":"2026-01-01T00:00:00Z"}}]}`, 400, "Required property 'associations'"},
		{"association type id as a string", create, `{"inputs":[{"properties":{"hs_timestamp":"2026-01-01T00:00:00Z"},"associations":[{"to":{"id":"1"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":"81"}]}]}]}`, 400, "want an integer"},
		{"unknown association category", create, `{"inputs":[{"properties":{"hs_timestamp":"2026-01-01T00:00:00Z"},"associations":[{"to":{"id":"1"},"types":[{"associationCategory":"DEFINED","associationTypeId":81}]}]}]}`, 400, "DEFINED is not one of"},
		{"batch read without propertiesWithHistory", "/crm/objects/2026-09/contacts/batch/read", `{"inputs":[],"properties":[]}`, 400, "propertiesWithHistory"},
		{"not JSON", search, `{"filterGroups":`, 400, "Invalid input JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := post(t, s, "pat-test", tc.path, tc.body)
			if st != tc.status {
				t.Fatalf("got %d %v, want %d", st, body, tc.status)
			}
			if tc.problem == "" {
				return
			}
			if body["status"] != "error" || body["category"] != "VALIDATION_ERROR" || body["correlationId"] == "" {
				t.Errorf("got %v, want HubSpot's error shape", body)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, tc.problem) {
				t.Errorf("message %q, want it to mention %q", msg, tc.problem)
			}
		})
	}
}

// TestCallInputsValidated: the fake refuses a call as HubSpot does: a body breaking the calls spec, an
// unknown property, a bad option, a non-integer duration, an http recording link, a communication's
// association type; it accepts a well-formed one.
func TestCallInputsValidated(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	cid := s.SeedContact(map[string]string{"lastname": "T"})
	in := func(props, assoc string) string {
		return `{"inputs":[{"properties":{"hs_timestamp":"2026-01-01T00:00:00.000Z"` + props + `},"associations":[` + assoc + `],"objectWriteTraceId":"t1"}]}`
	}
	to := func(typeID string) string {
		return `{"to":{"id":"` + cid + `"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":` + typeID + `}]}`
	}
	for _, tc := range []struct {
		name, body string
		status     int
		detail     string
	}{
		{"good", in(`,"hs_call_direction":"INBOUND","hs_call_status":"NO_ANSWER","hs_call_duration":"65000","hs_call_recording_url":"https://x.test/r.mp3"`, to("194")), 201, ""},
		{"schema: properties not strings", `{"inputs":[{"properties":{"hs_call_duration":65000},"associations":[]}]}`, 400, "want a string"},
		{"unknown property", in(`,"onoff_message_id":"call:1"`, ""), 400, "PROPERTY_DOESNT_EXIST"},
		{"bad direction", in(`,"hs_call_direction":"inbound"`, ""), 400, "INVALID_OPTION"},
		{"bad status", in(`,"hs_call_status":"ANSWERED"`, ""), 400, "INVALID_OPTION"},
		{"duration in seconds with a unit", in(`,"hs_call_duration":"65s"`, ""), 400, "INVALID_INTEGER"},
		{"http recording", in(`,"hs_call_recording_url":"http://x.test/r.mp3"`, ""), 400, "HTTPS"},
		{"communication association type", in(``, to("81")), 400, "invalid association type 81"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := post(t, s, "pat-test", "/crm/objects/2026-09/calls/batch/create", tc.body)
			raw, _ := json.Marshal(body)
			if st != tc.status || !strings.Contains(string(raw), tc.detail) {
				t.Errorf("got %d %s, want %d with %q", st, raw, tc.status, tc.detail)
			}
		})
	}
	if calls := s.CallEngagements(); len(calls) != 1 || calls[0].Associations[0].ToType != "contacts" {
		t.Errorf("stored calls %+v, want the good one, associated with the contact", calls)
	}
}

// TestCreatePropertyRefuses: the properties API refuses what HubSpot refuses: a body missing a field the
// spec requires, a type and fieldType that do not go together, a group the object lacks, a name taken (409),
// and a token without the schema write scope (403 MISSING_SCOPES).
func TestCreatePropertyRefuses(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const path = "/crm/properties/2026-09/calls"
	ok := `{"name":"onoff_message_id","label":"Onoff message id","type":"string","fieldType":"text","groupName":"callinformation"}`
	for _, tc := range []struct {
		name, body string
		status     int
		category   string
	}{
		{"no groupName", `{"name":"x_id","label":"X","type":"string","fieldType":"text"}`, 400, "VALIDATION_ERROR"},
		{"bad type", `{"name":"x_id","label":"X","type":"text","fieldType":"text","groupName":"callinformation"}`, 400, "VALIDATION_ERROR"},
		{"string as number", `{"name":"x_id","label":"X","type":"string","fieldType":"number","groupName":"callinformation"}`, 400, "VALIDATION_ERROR"},
		{"no such group", `{"name":"x_id","label":"X","type":"string","fieldType":"text","groupName":"nope"}`, 400, "VALIDATION_ERROR"},
		{"upper-case name", `{"name":"X_id","label":"X","type":"string","fieldType":"text","groupName":"callinformation"}`, 400, "VALIDATION_ERROR"},
		{"created", ok, 201, ""},
		{"taken", ok, 409, "OBJECT_ALREADY_EXISTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := post(t, s, "pat-test", path, tc.body)
			if st != tc.status || (tc.category != "" && body["category"] != tc.category) {
				t.Errorf("got %d %v, want %d %s", st, body, tc.status, tc.category)
			}
		})
	}
	if p, found := s.Property("calls", "onoff_message_id"); !found || p.Type != "string" || p.FieldType != "text" {
		t.Errorf("stored property %+v (found %v), want string/text", p, found)
	}

	scoped := New(Options{Scopes: []string{"crm.objects.contacts.read", "crm.objects.contacts.write"}})
	defer scoped.Close()
	st, body, _ := post(t, scoped, "pat-test", path, ok)
	if st != 403 || body["category"] != "MISSING_SCOPES" || !strings.Contains(toJSON(body), "crm.schemas.contacts.write") {
		t.Errorf("without the schema scope: got %d %v, want 403 MISSING_SCOPES naming crm.schemas.contacts.write", st, body)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
