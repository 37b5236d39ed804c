package salesforce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// Longer runs, one target at a time:
//
//	go test ./crm/salesforce -run '^$' -fuzz '^FuzzEscapeSOSL$' -fuzztime 10m
//	go test ./crm/salesforce -run '^$' -fuzz '^FuzzEscapeSOQL$' -fuzztime 10m

// escapeSeeds are values full of SOSL/SOQL metacharacters, escapes, quotes, operators and odd text.
var escapeSeeds = []string{
	"0612345678", "33612345678", "ana@example.com", `x' OR Email != 'y`, `a\`, `\`, `\\`, `\'`, `''`, `"`, `\n`,
	"a\nb\r\tc\b\f", `{a}`, `}`, `{`, `a} OR x`, `*?`, `"phrase"`, `06-12+34`, `a&b|c!(d){e}[f]^"~*?:\'+-g`,
	`o'brien\{x}*?"--)(:@example.com`, `%_`, `\%\_`, "caf\u00e9", "\u00c9COLE@example.com", "İ@example.com",
	"\x00", "a\x00b", "\xff\xfe", "\u2028", "OR", "or", "AND", "NOT", "x", "",
}

// fakeOrg is one fake Salesforce for a fuzz worker, replaced every fakeOrgLife inputs so its record list and
// daily usage stay small.
type fakeOrg struct {
	e    *env
	tok  string
	used int
}

const fakeOrgLife = 500

func newFakeOrg(tb testing.TB) *fakeOrg {
	o := &fakeOrg{}
	tb.Cleanup(func() {
		if o.e != nil {
			o.e.srv.Close()
		}
	})
	return o
}

// env returns the current fake, a fresh one every fakeOrgLife calls (tb is the input's).
func (o *fakeOrg) env(tb testing.TB) *env {
	tb.Helper()
	if o.e == nil || o.used >= fakeOrgLife {
		if o.e != nil {
			o.e.srv.Close()
		}
		o.e = newEnvNoCleanup(tb)
		o.tok = sessionToken(tb, o.e)
		o.used = 0
	}
	o.used++
	return o.e
}

// newEnvNoCleanup is newEnv without tb.Cleanup: fakeOrg closes the fakes it replaces.
func newEnvNoCleanup(tb testing.TB) *env {
	tb.Helper()
	clock := salesforcetest.NewClock(t0)
	srv := salesforcetest.New(salesforcetest.Options{Now: clock.Now, ClientID: testClientID, ClientSecret: testSecret})
	return &env{srv: srv, clock: clock, c: newClient(tb, srv, clock)}
}

// newClient is a fresh adapter (empty owner cache) for srv.
func newClient(tb testing.TB, srv *salesforcetest.Server, clock *salesforcetest.Clock) *salesforce.Client {
	tb.Helper()
	c, err := salesforce.New(salesforce.Config{LoginURL: srv.URL(), Auth: salesforce.AuthClientCredentials,
		ClientID: testClientID, ClientSecret: testSecret}, salesforce.Options{HTTPClient: srv.Client(), Now: clock.Now})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// raw sends one query to the fake's query or search endpoint and returns the status, the error code of a
// failure and the ids of the records found.
func (o *fakeOrg) raw(tb testing.TB, endpoint, q string) (status int, code string, ids []string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, o.e.srv.URL()+"/services/data/v66.0/"+endpoint+"?q="+url.QueryEscape(q), nil)
	req.Header.Set("Authorization", "Bearer "+o.tok)
	resp, err := o.e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e [1]struct{ ErrorCode, Message string }
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e[0].ErrorCode + ": " + e[0].Message, nil
	}
	var body struct {
		Records, SearchRecords []struct{ ID string }
	}
	if err := json.Unmarshal(data, &body); err != nil {
		tb.Fatalf("%s answered 200 with %q: %v", endpoint, data, err)
	}
	for _, r := range append(body.Records, body.SearchRecords...) {
		ids = append(ids, r.ID)
	}
	return resp.StatusCode, "", ids
}

func isASCIIDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// soslLiteral reports whether EscapeSOSL promises v is one literal search word: reserved characters are
// escaped, but whitespace still separates words and a bare OR/AND/NOT is still an operator (the fake
// accepts only `term OR term`, and terms of two characters or more). Text from a webhook is valid UTF-8.
func soslLiteral(v string) bool {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) < 2 || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return false
	}
	for _, op := range []string{"OR", "AND", "NOT"} {
		if strings.EqualFold(v, op) {
			return false
		}
	}
	return true
}

// FuzzEscapeSOSL embeds EscapeSOSL(v) in the phone search the adapter builds, between two other terms, and
// checks the fake parses it and sees exactly v: a record whose phone digits are v matches only when v is
// digits (the fake matches terms against phone digits), and the neighbouring term still matches. It also
// sends v through FindContacts as a phone, which must never make a malformed search.
func FuzzEscapeSOSL(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
	}
	org := newFakeOrg(f)
	const marker = "0611223344"
	f.Fuzz(func(t *testing.T, v string) {
		e := org.env(t)
		c := newClient(t, e.srv, e.clock)
		got, err := c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: crm.ParsePhone(v, "FR")}, {Phone: crm.Phone{Raw: v}}})
		if err != nil || len(got) != 2 {
			t.Fatalf("FindContacts(phone %q) = %d answers, %v", v, len(got), err)
		}
		if !soslLiteral(v) {
			return
		}
		a := e.srv.SeedContact(salesforcetest.Person{LastName: "A", Phone: v})
		b := e.srv.SeedContact(salesforcetest.Person{LastName: "B", Phone: marker})
		defer e.srv.Delete(a)
		defer e.srv.Delete(b)
		ev := salesforce.EscapeSOSL(v)
		sosl := "FIND {" + ev + " OR " + marker + " OR " + ev + "} IN PHONE FIELDS RETURNING " +
			"Contact(Id,Name,FirstName,LastName,Email,Phone,MobilePhone,AccountId,OwnerId,LastModifiedDate), " +
			"Lead(Id,Name,FirstName,LastName,Email,Phone,MobilePhone,OwnerId,LastModifiedDate WHERE IsConverted = false)"
		status, code, ids := org.raw(t, "search", sosl)
		if status != http.StatusOK {
			t.Fatalf("EscapeSOSL(%q) = %q: search answered %d %s\nq=%s", v, ev, status, code, sosl)
		}
		d := asciiDigits(v)
		wantA := isASCIIDigits(v) || d == marker
		if fmt.Sprint(ids) != fmt.Sprint(want(a, wantA, b)) {
			t.Fatalf("EscapeSOSL(%q) = %q: search found %v, want %v (A has phone %q, B %q)", v, ev, ids, want(a, wantA, b), v, marker)
		}
	})
}

func want(a string, withA bool, b string) []string {
	if withA {
		return []string{a, b}
	}
	return []string{b}
}

// FuzzEscapeSOQL embeds EscapeSOQL(v) in a SOQL string literal and checks the fake parses it and reads back
// exactly v (a Contact whose Email is v matches, a decoy does not), then sends v as an email through
// FindContacts and ResolveOwner, which must find the records stored with it.
func FuzzEscapeSOQL(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
	}
	org := newFakeOrg(f)
	const decoy = "decoy@example.com"
	f.Fuzz(func(t *testing.T, v string) {
		e := org.env(t)
		id := e.srv.SeedContact(salesforcetest.Person{LastName: "Target", Email: v})
		other := e.srv.SeedContact(salesforcetest.Person{LastName: "Decoy", Email: decoy})
		defer e.srv.Delete(id)
		defer e.srv.Delete(other)

		q := "SELECT Id FROM Contact WHERE Email = '" + salesforce.EscapeSOQL(v) + "' AND LastName IN ('Target', 'Decoy')"
		status, code, ids := org.raw(t, "query", q)
		if status != http.StatusOK {
			t.Fatalf("EscapeSOQL(%q) = %q: query answered %d %s", v, salesforce.EscapeSOQL(v), status, code)
		}
		if utf8.ValidString(v) && v != "" { // webhook text is valid UTF-8; the fake reads the query as runes
			wantIDs := []string{id}
			if strings.EqualFold(v, decoy) {
				wantIDs = []string{id, other}
			}
			if fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
				t.Fatalf("EscapeSOQL(%q) = %q: query found %v, want %v", v, salesforce.EscapeSOQL(v), ids, wantIDs)
			}
		}

		c := newClient(t, e.srv, e.clock)
		got, err := c.FindContacts(context.Background(), []crm.ContactQuery{{Email: v}})
		if err != nil {
			t.Fatalf("FindContacts(email %q): %v", v, err)
		}
		if v != "" && utf8.ValidString(v) && strings.EqualFold(v, strings.ToLower(v)) {
			if len(got[0]) == 0 || got[0][0].ID != id {
				t.Errorf("FindContacts(email %q) = %v, want %s first", v, ids0(got[0]), id)
			}
		}
		norm := strings.ToLower(strings.TrimSpace(v))
		user := e.srv.SeedUser(strings.TrimSpace(v), true)
		defer e.srv.Delete(user)
		owner, err := c.ResolveOwner(context.Background(), v)
		if err != nil {
			t.Fatalf("ResolveOwner(%q): %v", v, err)
		}
		if norm != "" && utf8.ValidString(v) && strings.EqualFold(strings.TrimSpace(v), norm) && owner != user {
			t.Errorf("ResolveOwner(%q) = %q, want %q", v, owner, user)
		}
	})
}

func ids0(cs []crm.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
