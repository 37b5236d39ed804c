package salesforce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

func TestFindContactsPhoneFormats(t *testing.T) {
	tests := []struct {
		name, stored, field, query string
	}{
		{"e164 spaced vs national", "+33 6 12 34 56 78", "Phone", "0612345678"},
		{"national dotted vs e164", "06.12.34.56.78", "Phone", "+33612345678"},
		{"national dashed parens vs 0033", "(06) 12-34-56-78", "MobilePhone", "0033612345678"},
		{"e164 compact vs dotted", "+33612345678", "MobilePhone", "06.12.34.56.78"},
		{"nsn only vs e164", "612345678", "Phone", "+33 6 12 34 56 78"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{}, nil)
			p := salesforcetest.Person{LastName: "Lima"}
			if tt.field == "Phone" {
				p.Phone = tt.stored
			} else {
				p.MobilePhone = tt.stored
			}
			id := e.srv.SeedContact(p)
			e.srv.SeedContact(salesforcetest.Person{LastName: "Other", Phone: "+33 6 12 34 56 79"})
			got, err := e.c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr(tt.query)}})
			if err != nil {
				t.Fatalf("FindContacts: %v", err)
			}
			if diff := cmp.Diff([]string{"contact:" + id}, ids(got[0])); diff != "" {
				t.Errorf("stored %q, query %q (-want +got):\n%s", tt.stored, tt.query, diff)
			}
		})
	}
}

func TestFindContactsEmailFallback(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Mail", Email: "Ana.Lima@Example.com"})
	lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme", Email: "ana.lima@example.com"})
	e.srv.SeedContact(salesforcetest.Person{LastName: "Other", Email: "other@example.com"})
	// An alphanumeric sender has no phone to search: the loop queries by email instead.
	if p := fr("ACME"); len(p.Digits()) != 0 {
		t.Fatalf("ACME has digits %v", p.Digits())
	}
	got, err := e.c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("ACME")}, {Email: "ana.lima@example.com"}})
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	if diff := cmp.Diff([][]string{{}, {"contact:" + cid, "lead:" + lid}}, [][]string{ids(got[0]), ids(got[1])}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(salesforcetest.EndpointSearch); n != 0 {
		t.Errorf("search calls = %d, want 0 (no phone to search)", n)
	}
}

func TestFindContactsContactBeforeLead(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	acc := e.srv.SeedAccount("Acme")
	// The Lead is more recent, but Contacts still come first.
	lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme", Phone: "0612345678", Modified: t0})
	cid := e.srv.SeedContact(salesforcetest.Person{FirstName: "Ana", LastName: "Lima", MobilePhone: "+33612345678",
		AccountID: acc, Modified: t0.Add(-48 * time.Hour)})
	got, err := e.c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("+33 6 12 34 56 78")}})
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	m := got[0]
	if diff := cmp.Diff([]string{"contact:" + cid, "lead:" + lid}, ids(m)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if m[0].CompanyID != acc || m[0].Name != "Ana Lima" || !m[0].LastModified.Equal(t0.Add(-48*time.Hour)) {
		t.Errorf("contact = %+v, want CompanyID %s, Name Ana Lima, LastModified %v", m[0], acc, t0.Add(-48*time.Hour))
	}
	if m[1].CompanyID != "" {
		t.Errorf("lead CompanyID = %q, want none", m[1].CompanyID)
	}
}

func TestFindContactsConvertedLeadIgnored(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	e.srv.SeedLead(salesforcetest.Person{LastName: "Old", Company: "Acme", Phone: "0612345678", Email: "old@example.com", Converted: true})
	got, err := e.c.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("0612345678")}, {Email: "old@example.com"}})
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	for i, m := range got {
		if len(m) != 0 {
			t.Errorf("query %d: got %v, want the converted lead ignored", i, ids(m))
		}
	}
}

func TestFindContactsBatchSharesOneSearch(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	var qs []crm.ContactQuery
	want := map[int]string{}
	for i := range salesforce.SearchBatch {
		num := fmt.Sprintf("+336123456%02d", i)
		if i%3 == 0 {
			want[i] = e.srv.SeedContact(salesforcetest.Person{LastName: fmt.Sprint("N", i), Phone: num})
		}
		qs = append(qs, crm.ContactQuery{Phone: fr(num)})
	}
	// A Fax hit is returned by IN PHONE FIELDS but is not one of the confirmed fields.
	e.srv.SeedContact(salesforcetest.Person{LastName: "Fax", Fields: map[string]any{"Fax": "+33612345601"}})
	got, err := e.c.FindContacts(context.Background(), qs)
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	for i, m := range got {
		var w []string
		if id, ok := want[i]; ok {
			w = []string{"contact:" + id}
		} else {
			w = []string{}
		}
		if diff := cmp.Diff(w, ids(m)); diff != "" {
			t.Errorf("query %d (-want +got):\n%s", i, diff)
		}
	}
	if n := e.srv.Calls(salesforcetest.EndpointSearch); n != 1 {
		t.Errorf("search calls = %d, want 1", n)
	}
}

func TestFindContactsIndexLag(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{IndexLag: 2 * time.Minute}, nil)
	ctx := context.Background()
	c, err := e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindLead, LastName: "New", Phone: fr("0611111111")})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	q := []crm.ContactQuery{{Phone: fr("0611111111")}}
	got, _ := e.c.FindContacts(ctx, q)
	if len(got[0]) != 0 {
		t.Errorf("before the index lag: got %v, want nothing (the loop's cache covers this)", ids(got[0]))
	}
	e.clock.Advance(2 * time.Minute)
	got, _ = e.c.FindContacts(ctx, q)
	if diff := cmp.Diff([]string{"lead:" + c.ID}, ids(got[0])); diff != "" {
		t.Errorf("after the lag (-want +got):\n%s", diff)
	}
}

// TestMetacharacters sends webhook-controlled values full of SOSL/SOQL metacharacters through every query
// the adapter builds: the fake answers 400 to any broken quoting, so passing means they were escaped.
func TestMetacharacters(t *testing.T) {
	const evil = `x' OR Email != 'y\ {a} OR * ? " -- ) ( : & | ! [ ] ^ ~ +`
	e := newEnv(t, salesforcetest.Options{TaskIDField: "Onoff_Message_Id__c"}, nil)
	ctx := context.Background()
	email := `o'brien\{x}*?"--)(:@example.com`
	id := e.srv.SeedContact(salesforcetest.Person{LastName: "OBrien", Email: email})
	e.srv.SeedContact(salesforcetest.Person{LastName: "Victim", Email: "y@example.com"})
	e.srv.SeedUser("victim@example.com", true)

	got, err := e.c.FindContacts(ctx, []crm.ContactQuery{{Email: email}, {Email: evil}, {Phone: fr("+33 6 12 34 56 78 " + evil)},
		{Phone: crm.Phone{Raw: `06'12{34}56*78" OR x`}}})
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	if diff := cmp.Diff([][]string{{"contact:" + id}, {}, {}, {}}, [][]string{ids(got[0]), ids(got[1]), ids(got[2]), ids(got[3])}); diff != "" {
		t.Errorf("FindContacts (-want +got):\n%s", diff)
	}
	if owner, err := e.c.ResolveOwner(ctx, evil); err != nil || owner != "" {
		t.Errorf("ResolveOwner(evil) = %q, %v; want \"\", nil", owner, err)
	}
	c, err := e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindLead, LastName: evil, Company: evil, Email: "e@example.com"})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	act := crm.Activity{SourceID: evil, ContactID: c.ID, ContactKind: crm.KindLead, Timestamp: t0, IDField: "Onoff_Message_Id__c",
		Fields: map[string]string{"Subject": evil, "Description": evil}}
	res, err := e.c.LogActivities(ctx, []crm.Activity{act})
	if err != nil || res[0].Err != nil {
		t.Fatalf("LogActivities: %v %+v", err, res)
	}
	found, err := e.c.FindActivity(ctx, act)
	if err != nil || found != res[0].ID {
		t.Errorf("FindActivity = %q, %v; want %q", found, err, res[0].ID)
	}
	task, _ := e.srv.Get(res[0].ID)
	if task.Fields["Subject"] != evil || task.Fields["Onoff_Message_Id__c"] != evil {
		t.Errorf("stored task %v, want the values verbatim", task.Fields)
	}
}

func TestEscape(t *testing.T) {
	if got, want := salesforce.EscapeSOSL(`a&b|c!(d){e}[f]^"~*?:\'+-g`), `a\&b\|c\!\(d\)\{e\}\[f\]\^\"\~\*\?\:\\\'\+\-g`; got != want {
		t.Errorf("EscapeSOSL = %s, want %s", got, want)
	}
	if got, want := salesforce.EscapeSOQL(`it's a \ test`), `it\'s a \\ test`; got != want {
		t.Errorf("EscapeSOQL = %s, want %s", got, want)
	}
}

// TestFakeRejectsBrokenQueries checks the fake itself: unescaped reserved characters and broken quoting
// are refused as Salesforce would.
func TestFakeRejectsBrokenQueries(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	if _, err := e.c.Check(context.Background()); err != nil { // gets a session
		t.Fatal(err)
	}
	tok := sessionToken(t, e)
	tests := []struct {
		path, q, code string
	}{
		{"search", `FIND {061234-5678} IN PHONE FIELDS RETURNING Contact(Id)`, "MALFORMED_SEARCH"},
		{"search", `FIND {0612} OR x} IN PHONE FIELDS RETURNING Contact(Id)`, "MALFORMED_SEARCH"},
		{"search", `FIND {0612 OR 0613*} IN PHONE FIELDS RETURNING Contact(Id)`, "MALFORMED_SEARCH"},
		{"query", `SELECT Id FROM Contact WHERE Email = 'a'b'`, "MALFORMED_QUERY"},
		{"query", `SELECT Id FROM Contact WHERE Email = 'a\'`, "MALFORMED_QUERY"},
		{"query", `SELECT Id FROM Contact WHERE Email IN ('a', 'b'`, "MALFORMED_QUERY"},
		{"query", `SELECT Nope FROM Contact`, "INVALID_FIELD"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+"/services/data/v66.0/"+tt.path+"?q="+url.QueryEscape(tt.q), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body [1]struct{ ErrorCode string }
		_ = decodeJSON(resp, &body)
		if resp.StatusCode != http.StatusBadRequest || body[0].ErrorCode != tt.code {
			t.Errorf("%s: got %d %s, want 400 %s", tt.q, resp.StatusCode, body[0].ErrorCode, tt.code)
		}
	}
}
