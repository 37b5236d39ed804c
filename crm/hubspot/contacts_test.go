package hubspot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

func fr(s string) crm.Phone { return crm.ParsePhone(s, "FR") }

func ids(tb testing.TB, cs []crm.Contact) []string {
	tb.Helper()
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	slices.Sort(out)
	return out
}

func mustFind(tb testing.TB, c *Client, qs ...crm.ContactQuery) [][]crm.Contact {
	tb.Helper()
	got, err := c.FindContacts(context.Background(), qs)
	if err != nil {
		tb.Fatalf("FindContacts: %v", err)
	}
	if len(got) != len(qs) {
		tb.Fatalf("FindContacts: %d results for %d queries", len(got), len(qs))
	}
	return got
}

func TestFindContactsNationalAndInternationalFormats(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchPerSecond: -1}, Config{}, Options{})
	stored := map[string]string{
		"national, spaced": "06 12 34 56 78",
		"e164":             "+33612345678",
		"00 prefix, dots":  "0033.6.12.34.56.78",
	}
	for name, phone := range stored {
		t.Run(name, func(t *testing.T) {
			id := e.srv.SeedContact(map[string]string{"lastname": name, "phone": phone})
			defer e.srv.DeleteContact(id)
			for _, raw := range []string{"0612345678", "+33 6 12 34 56 78", "0033612345678"} {
				got := mustFind(t, e.client, crm.ContactQuery{Phone: fr(raw)})
				if diff := cmp.Diff([]string{id}, ids(t, got[0])); diff != "" {
					t.Errorf("stored %q, query %q: ids (-want +got):\n%s", phone, raw, diff)
				}
			}
		})
	}
}

func TestFindContactsReturnsContactFields(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	id := e.srv.SeedContact(map[string]string{"firstname": "Ana", "lastname": "Lima", "email": "ana@example.com",
		"mobilephone": "+33612345678", "hubspot_owner_id": "77", "associatedcompanyid": "555",
		"lastmodifieddate": "2026-05-01T10:00:00.000Z"})
	got := mustFind(t, e.client, crm.ContactQuery{Phone: fr("0612345678")})[0]
	want := []crm.Contact{{ID: id, Kind: crm.KindContact, Name: "Ana Lima", FirstName: "Ana", LastName: "Lima",
		Email: "ana@example.com", Phones: []string{"+33612345678"}, OwnerID: "77", CompanyID: "555",
		LastModified: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contact (-want +got):\n%s", diff)
	}
}

func TestFindContactsEmailFallback(t *testing.T) {
	// A long search lag: the email path must not depend on the search index.
	e := newEnv(t, hubspottest.Options{SearchLag: time.Hour}, Config{}, Options{})
	id := e.srv.SeedContact(map[string]string{"lastname": "Mail", "email": "Mail@Example.com"})
	got := mustFind(t, e.client,
		crm.ContactQuery{Phone: crm.ParsePhone("ACME", "FR")}, // alphanumeric sender: no phone match possible
		crm.ContactQuery{Email: "mail@example.com"},
		crm.ContactQuery{Email: "nobody@example.com"})
	if len(got[0]) != 0 || len(got[2]) != 0 {
		t.Errorf("unexpected matches: %v, %v", ids(t, got[0]), ids(t, got[2]))
	}
	if diff := cmp.Diff([]string{id}, ids(t, got[1])); diff != "" {
		t.Errorf("email match (-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(hubspottest.ContactsSearch); n != 0 {
		t.Errorf("search calls = %d, want 0 (email uses batch/read)", n)
	}
	if n := e.srv.Calls(hubspottest.ContactsBatchRead); n != 1 {
		t.Errorf("batch/read calls = %d, want 1", n)
	}
}

func TestFindContactsSeveralMatches(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	a := e.srv.SeedContact(map[string]string{"lastname": "A", "phone": "+33612345678"})
	b := e.srv.SeedContact(map[string]string{"lastname": "B", "mobilephone": "06 12 34 56 78"})
	// Same national digits in another country: a search hit that code must reject.
	e.srv.SeedContact(map[string]string{"lastname": "UK", "phone": "+44 612345678"})
	got := mustFind(t, e.client, crm.ContactQuery{Phone: fr("0612345678")})
	if diff := cmp.Diff([]string{a, b}, ids(t, got[0])); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
}

func TestFindContactsFollowsPaging(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	var want []string
	for i := range 205 {
		want = append(want, e.srv.SeedContact(map[string]string{"lastname": fmt.Sprint("Dup", i), "phone": "+33612345678"}))
	}
	slices.Sort(want)
	got := mustFind(t, e.client, crm.ContactQuery{Phone: fr("0612345678")})
	if diff := cmp.Diff(want, ids(t, got[0])); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(hubspottest.ContactsSearch); n != 2 {
		t.Errorf("search calls = %d, want 2 pages", n)
	}
}

func TestFindContactsBatchesManyNumbersInOneSearch(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchPerSecond: -1}, Config{}, Options{})
	n := e.client.Limits().SearchBatch
	var qs []crm.ContactQuery
	want := map[int]string{}
	for i := range n {
		num := fmt.Sprintf("+336%08d", 10000000+i*7919)
		if i%2 == 0 {
			want[i] = e.srv.SeedContact(map[string]string{"lastname": fmt.Sprint("C", i), "phone": num})
		}
		qs = append(qs, crm.ContactQuery{Phone: fr(num)})
	}
	got := mustFind(t, e.client, qs...)
	for i := range qs {
		w := []string{}
		if id, ok := want[i]; ok {
			w = []string{id}
		}
		if diff := cmp.Diff(w, ids(t, got[i])); diff != "" {
			t.Errorf("query %d (-want +got):\n%s", i, diff)
		}
	}
	if c := e.srv.Calls(hubspottest.ContactsSearch); c != 1 {
		t.Errorf("%d queries took %d searches, want 1", n, c)
	}

	// Long numbers and custom phone fields: still within the fake's (HubSpot's lower) limits, split as needed.
	qs = qs[:0]
	for i := range 100 {
		p := crm.ParsePhone(fmt.Sprintf("+49151%08d", i), "DE")
		qs = append(qs, crm.ContactQuery{Phone: p, PhoneFields: []string{"phone", "mobilephone", "other_phone", "work_phone"}})
	}
	mustFind(t, e.client, qs...)
}

func TestFindContactsMetacharactersCannotChangeSearch(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.SeedContact(map[string]string{"lastname": "Victim", "email": "victim@example.com", "phone": "+33612345678"})
	nasty := []string{
		`x"}]},{"filters":[{"propertyName":"email","operator":"HAS_PROPERTY"}]}],"a":"`,
		`" OR 1=1 --`, `<script>alert(1)</script>@example.com`, `\u0022,"operator":"NEQ`, `*`, `%`, `'; DROP`,
	}
	var qs []crm.ContactQuery
	for _, s := range nasty {
		qs = append(qs, crm.ContactQuery{Email: s}, crm.ContactQuery{Phone: crm.ParsePhone(s, "FR")},
			crm.ContactQuery{Phone: crm.ParsePhone("+33 6 00 00 00 0"+s, "FR")})
	}
	for i, m := range mustFind(t, e.client, qs...) {
		if len(m) != 0 {
			t.Errorf("query %d %+v matched %v, want nothing", i, qs[i], ids(t, m))
		}
	}
	if _, err := e.client.FindContacts(context.Background(), []crm.ContactQuery{{Phone: fr("0612345678"),
		PhoneFields: []string{`phone","operator":"HAS_PROPERTY`}}}); crm.Classify(err).Action != crm.Permanent {
		t.Errorf("bad phone field: err %v, want Permanent", err)
	}
	id, err := findActivity(context.Background(), e.client, crm.Activity{SourceID: `x" OR "1"="1`, IDField: "onoff_id"})
	if err != nil || id != "" {
		t.Errorf("FindActivity(nasty) = %q, %v; want \"\", nil", id, err)
	}
}

func TestCreateContact(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	c, err := e.client.CreateContact(context.Background(), crm.NewContact{FirstName: "New", LastName: "Person",
		Email: "new@example.com", Phone: fr("06 33 33 33 33"), Company: "Acme", OwnerID: "42",
		Fields: map[string]string{"lifecyclestage": "lead", "company": "Acme SA"}})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	stored := e.srv.Contacts()
	if len(stored) != 1 || stored[0].ID != c.ID {
		t.Fatalf("stored %+v, want one contact %s", stored, c.ID)
	}
	p := stored[0].Properties
	want := map[string]string{"firstname": "New", "lastname": "Person", "email": "new@example.com", "phone": "+33633333333",
		"company": "Acme SA", "hubspot_owner_id": "42", "lifecyclestage": "lead"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("property %s = %q, want %q", k, p[k], v)
		}
	}
}

func TestCreateContactConflictReturnsExisting(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	id := e.srv.SeedContact(map[string]string{"lastname": "Old", "email": "dup@example.com"})
	c, err := e.client.CreateContact(context.Background(), crm.NewContact{LastName: "New", Email: "DUP@example.com"})
	if err != nil || c.ID != id {
		t.Errorf("CreateContact(existing email) = %+v, %v; want id %s, nil", c, err, id)
	}
	if n := len(e.srv.Contacts()); n != 1 {
		t.Errorf("fake holds %d contacts, want 1", n)
	}
}

func TestResolveOwnerByEmail(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.SeedOwner(hubspottest.Owner{Email: "other@example.com"})
	id := e.srv.SeedOwner(hubspottest.Owner{Email: "Rep@Example.com", UserID: "123456"})
	ctx := context.Background()
	for range 3 {
		got, err := e.client.ResolveOwner(ctx, "rep@example.com")
		if err != nil || got != id {
			t.Fatalf("ResolveOwner = %q, %v; want owner id %q (not the userId), nil", got, err, id)
		}
	}
	if n := e.srv.Calls(hubspottest.Owners); n != 1 {
		t.Errorf("owner lookups = %d, want 1 (cached)", n)
	}
	if got, err := e.client.ResolveOwner(ctx, "ghost@example.com"); err != nil || got != "" {
		t.Errorf("ResolveOwner(unknown) = %q, %v; want \"\", nil", got, err)
	}
	// A miss is remembered for a while, then asked again.
	e.client.ResolveOwner(ctx, "ghost@example.com")
	if n := e.srv.Calls(hubspottest.Owners); n != 2 {
		t.Errorf("owner lookups = %d, want 2", n)
	}
	ghost := e.srv.SeedOwner(hubspottest.Owner{Email: "ghost@example.com"})
	e.clock.Advance(ownerMissTTL + time.Second)
	if got, _ := e.client.ResolveOwner(ctx, "ghost@example.com"); got != ghost {
		t.Errorf("ResolveOwner after the miss expired = %q, want %q", got, ghost)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	s, err := e.client.Check(context.Background())
	if err != nil || !strings.Contains(s, "accepted") || strings.Contains(s, "pat-test") {
		t.Errorf("Check = %q, %v; want a summary without the token", s, err)
	}
	bad := newEnv(t, hubspottest.Options{}, Config{Token: "pat-wrong"}, Options{})
	if _, err := bad.client.Check(context.Background()); crm.Classify(err).Action != crm.Pause {
		t.Errorf("Check with a bad token: %v, want Pause", err)
	}
}

// TestSearchSizeMeasuredOnWholeBody: HubSpot's 3,000-character limit applies to the search request, not only
// its filterGroups. Long custom phone field names lengthen the properties list; the adapter must pack numbers
// so that the whole marshalled body fits, and the fake refuses any body over the limit.
func TestSearchSizeMeasuredOnWholeBody(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchPerSecond: -1}, Config{}, Options{})
	long1, long2 := "onoff_"+strings.Repeat("whatsapp_phone_", 5)+"a", "onoff_"+strings.Repeat("secondary_phone_", 5)+"b"
	fields := []string{"phone", "mobilephone", long1, long2}
	var qs []crm.ContactQuery
	want := map[int]string{}
	for i := range e.client.Limits().SearchBatch {
		num := fmt.Sprintf("+336%08d", 20000000+i*7919)
		if i%3 == 0 {
			want[i] = e.srv.SeedContact(map[string]string{"lastname": fmt.Sprint("C", i), "phone": num})
		}
		qs = append(qs, crm.ContactQuery{Phone: fr(num), PhoneFields: fields})
	}
	got, err := e.client.FindContacts(context.Background(), qs)
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	for i, id := range want {
		if diff := cmp.Diff([]string{id}, ids(t, got[i])); diff != "" {
			t.Errorf("query %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestFindContactsPhoneHedge: one search finds a number in every form it may be stored in: typed without "+"
// (HubSpot's calculated property then keeps the international digits, 33612345678), typed in national form in
// a custom phone field (which has no calculated copy: matched as stored, 0612345678), and the usual forms.
func TestFindContactsPhoneHedge(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("contacts", hubspottest.Property{Name: "whatsapp"})
	intl := e.srv.SeedContact(map[string]string{"lastname": "NoPlus", "phone": "33612345678"})
	trunk := e.srv.SeedContact(map[string]string{"lastname": "Custom", "whatsapp": "0612345678"})
	e164 := e.srv.SeedContact(map[string]string{"lastname": "E164", "mobilephone": "+33 6 12 34 56 78"})
	e.srv.SeedContact(map[string]string{"lastname": "Other", "phone": "+33612345679"})
	got := mustFind(t, e.client, crm.ContactQuery{Phone: fr("06 12 34 56 78"), PhoneFields: []string{"phone", "mobilephone", "whatsapp"}})
	want := []string{intl, trunk, e164}
	slices.Sort(want)
	gotIDs := ids(t, got[0])
	slices.Sort(gotIDs)
	if diff := cmp.Diff(want, gotIDs); diff != "" {
		t.Errorf("contacts (-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(hubspottest.ContactsSearch); n != 1 {
		t.Errorf("%d searches, want 1", n)
	}
}
