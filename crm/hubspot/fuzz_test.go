package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// Longer run:
//
//	go test ./crm/hubspot -run '^$' -fuzz '^FuzzSearchValues$' -fuzztime 10m

// exchange is one request the adapter sent and the fake's answer.
type exchange struct {
	method, path string
	body         []byte
	status       int
	answer       []byte
}

// recorder is an http.RoundTripper that keeps every exchange.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchange{method: req.Method, path: req.URL.Path}
	if req.Body != nil {
		x.body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(x.body))
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x.status = resp.StatusCode
	x.answer, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(x.answer))
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) take() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

var fuzzRegions = []string{"FR", "US", "GB", "DE", ""}

// FuzzSearchValues sends an arbitrary email and phone (parsed in one of a few regions) through FindContacts
// against the fake, recording the requests: every body is JSON the fake accepts, the email is read with one
// batch/read input and the phone with one search of exactly the filter groups the adapter intends (one IN
// filter per property, one value each), and contacts stored with those values are found.
func FuzzSearchValues(f *testing.F) {
	for _, s := range [][2]string{
		{"ana@example.com", "06 12 34 56 78"},
		{" Ana.Lima@Example.COM ", "+33612345678"},
		{`x"}]},{"filters":[{"propertyName":"email","operator":"HAS_PROPERTY"}]}],"a":"`, `+1 415 555 2671" OR 1=1`},
		{`\u0022,"operator":"NEQ`, `\"+33612345678\"`},
		{"<script>@example.com", "0033 6 12 34 56 78"},
		{"\xff\xfe@example.com", "+33\xff612345678"},
		{"caf\u00e9@example.com", "\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"},
		{"", "+800 1234 5678"},
		{" ", "+44 7700 900123"},
		{"", ""},
		{strings.Repeat("a", 3000) + "@example.com", strings.Repeat("9", 3000)},
	} {
		for i := range fuzzRegions {
			f.Add(s[0], s[1], uint8(i))
		}
	}
	e := newEnv(f, hubspottest.Options{MaxPer10s: -1, SearchPerSecond: -1, DailyCap: -1}, Config{}, Options{})
	rec := &recorder{base: e.srv.Client().Transport}
	e.client.hc = &http.Client{Transport: rec}

	f.Fuzz(func(t *testing.T, email, phone string, r uint8) {
		region := fuzzRegions[int(r)%len(fuzzRegions)]
		p := crm.ParsePhone(phone, region)
		byEmail := e.srv.SeedContact(map[string]string{"lastname": "ByEmail", "email": strings.TrimSpace(email)})
		defer e.srv.DeleteContact(byEmail)
		byPhone := ""
		if p.Valid() {
			byPhone = e.srv.SeedContact(map[string]string{"lastname": "ByPhone", "phone": p.E164})
			defer e.srv.DeleteContact(byPhone)
		}
		rec.take()

		got, err := e.client.FindContacts(context.Background(), []crm.ContactQuery{{Email: email}, {Phone: p}})
		if err != nil {
			t.Fatalf("FindContacts(email %q, phone %q in %q): %v", email, phone, region, err)
		}

		var reads, searches []exchange
		for _, x := range rec.take() {
			if x.path == "/account-info/2026-09/details" { // the account's time zone, read once
				continue
			}
			if !json.Valid(x.body) || x.status == http.StatusBadRequest {
				t.Fatalf("%s %s with %s answered %d %s", x.method, x.path, x.body, x.status, x.answer)
			}
			switch x.path {
			case "/crm/objects/2026-09/contacts/batch/read":
				reads = append(reads, x)
			case "/crm/objects/2026-09/contacts/search":
				searches = append(searches, x)
			default:
				t.Errorf("unexpected request %s %s", x.method, x.path)
			}
		}

		// The email: one batch/read input, the email trimmed and lower-cased.
		if email == "" {
			if len(reads) != 0 {
				t.Errorf("no email, but %d batch/read requests", len(reads))
			}
		} else {
			var req batchReadRequest
			if len(reads) != 1 || json.Unmarshal(reads[0].body, &req) != nil {
				t.Fatalf("email %q: %d batch/read requests, want 1", email, len(reads))
			}
			want := strings.ToLower(strings.TrimSpace(email))
			if utf8.ValidString(want) && (req.IDProperty != "email" || !cmp.Equal(req.Inputs, []batchReadID{{ID: want}})) {
				t.Errorf("email %q: batch/read by %q of %v, want by email of [%q]", email, req.IDProperty, req.Inputs, want)
			}
			trimmed := strings.TrimSpace(email)
			if trimmed != "" && utf8.ValidString(trimmed) && strings.EqualFold(trimmed, want) && !hasID(got[0], byEmail) {
				t.Errorf("email %q: found %v, want contact %s (stored as %q)", email, got[0], byEmail, trimmed)
			}
		}

		// The phone: one search, four groups of one IN filter holding the number's forms, nothing else.
		if !p.Valid() {
			if len(searches) != 0 || len(got[1]) != 0 {
				t.Errorf("phone %q in %q does not parse, but %d searches found %v", phone, region, len(searches), got[1])
			}
			return
		}
		var req searchRequest
		if len(searches) != 1 || json.Unmarshal(searches[0].body, &req) != nil {
			t.Fatalf("phone %q in %q: %d searches, want 1", phone, region, len(searches))
		}
		forms := func(vs ...string) []string {
			var out []string
			for _, v := range vs {
				if v != "" && !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
			return out
		}
		calc, stored := forms(p.National, p.Trunk, p.E164[1:]), forms(p.E164, p.Trunk, p.E164[1:])
		wantGroups := []filterGroup{
			{Filters: []filter{{PropertyName: "hs_searchable_calculated_phone_number", Operator: "IN", Values: calc}}},
			{Filters: []filter{{PropertyName: "hs_searchable_calculated_mobile_number", Operator: "IN", Values: calc}}},
			{Filters: []filter{{PropertyName: "phone", Operator: "IN", Values: stored}}},
			{Filters: []filter{{PropertyName: "mobilephone", Operator: "IN", Values: stored}}},
		}
		if diff := cmp.Diff(wantGroups, req.FilterGroups); diff != "" {
			t.Errorf("phone %q in %q: filter groups (-want +got):\n%s", phone, region, diff)
		}
		if !hasID(got[1], byPhone) {
			t.Errorf("phone %q in %q (%s): found %v, want contact %s", phone, region, p.E164, got[1], byPhone)
		}
	})
}

func hasID(cs []crm.Contact, id string) bool {
	return slices.ContainsFunc(cs, func(c crm.Contact) bool { return c.ID == id })
}
