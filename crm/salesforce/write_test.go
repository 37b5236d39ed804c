package salesforce_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

func TestLogActivitiesLeadNeverWhatID(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	e := newEnv(t, salesforcetest.Options{}, func(_ *salesforce.Config, o *salesforce.Options) { o.Location = paris })
	acc := e.srv.SeedAccount("Acme")
	owner := e.srv.SeedUser("rep@example.com", true)
	cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Contact", AccountID: acc})
	lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme"})
	late := time.Date(2026, 5, 20, 22, 30, 0, 0, time.UTC) // already May 21 in Paris
	acts := []crm.Activity{
		{SourceID: "1", ContactID: lid, ContactKind: crm.KindLead, CompanyID: acc, OwnerID: owner, Timestamp: late,
			Fields: map[string]string{"Subject": strings.Repeat("é", 300), "WhatId": acc, "Type": "SMS", "TaskSubtype": "Task"}},
		{SourceID: "2", ContactID: cid, ContactKind: crm.KindContact, CompanyID: acc, Timestamp: late,
			Fields: map[string]string{"Subject": "SMS", "Status": "Not Started", "Description": strings.Repeat("d", 40000)}},
		{SourceID: "3", Timestamp: late, Fields: map[string]string{"Subject": "no contact"}},
	}
	res, err := e.c.LogActivities(context.Background(), acts)
	if err != nil {
		t.Fatalf("LogActivities: %v", err)
	}
	for i, r := range res {
		if r.Err != nil || r.ID == "" {
			t.Fatalf("result %d = %+v, want an id (the fake refuses WhatId with a Lead)", i, r)
		}
	}
	get := func(id string) map[string]any { r, _ := e.srv.Get(id); return r.Fields }
	lead, contact, none := get(res[0].ID), get(res[1].ID), get(res[2].ID)
	if _, ok := lead["WhatId"]; ok {
		t.Errorf("lead task has WhatId %v", lead["WhatId"])
	}
	checks := []struct{ name, got, want string }{
		{"lead WhoId", str(lead["WhoId"]), lid},
		{"lead OwnerId", str(lead["OwnerId"]), owner},
		{"lead ActivityDate (Paris)", str(lead["ActivityDate"]), "2026-05-21"},
		{"lead Status", str(lead["Status"]), "Completed"},
		{"lead Subject", str(lead["Subject"]), strings.Repeat("é", 255)},
		{"lead Type", str(lead["Type"]), "SMS"},
		{"lead TaskSubtype", str(lead["TaskSubtype"]), "Task"},
		{"contact WhatId", str(contact["WhatId"]), acc},
		{"contact Status (mapping wins)", str(contact["Status"]), "Not Started"},
		{"contact Description length", strings.Repeat("d", len(str(contact["Description"]))), strings.Repeat("d", 32000)},
		{"no-contact WhoId", str(none["WhoId"]), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %.40q..., want %.40q...", c.name, c.got, c.want)
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

func TestLogActivitiesPerRecordErrors(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	ctx := context.Background()
	gone := e.srv.SeedContact(salesforcetest.Person{LastName: "Gone"})
	ok := e.srv.SeedContact(salesforcetest.Person{LastName: "Ok"})
	e.srv.Delete(gone)
	acts := []crm.Activity{
		{SourceID: "1", ContactID: gone, ContactKind: crm.KindContact, Timestamp: t0},
		{SourceID: "2", ContactID: "003000000000999AAA", ContactKind: crm.KindContact, Timestamp: t0},
		{SourceID: "3", ContactID: ok, ContactKind: crm.KindContact, Timestamp: t0, Fields: map[string]string{"Type": "Carrier pigeon"}},
		{SourceID: "4", ContactID: ok, ContactKind: crm.KindContact, Timestamp: t0},
	}
	res, err := e.c.LogActivities(ctx, acts)
	if err != nil {
		t.Fatalf("LogActivities: %v", err)
	}
	type outcome struct {
		Action crm.Action
		Code   string
	}
	var got []outcome
	for _, r := range res {
		if r.Err == nil {
			got = append(got, outcome{crm.Done, "ok"})
			continue
		}
		ce := asCRM(t, r.Err)
		got = append(got, outcome{ce.Action, ce.Code})
	}
	want := []outcome{{crm.Permanent, "CONTACT_GONE"}, {crm.Permanent, "CONTACT_GONE"},
		{crm.Permanent, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}, {crm.Done, "ok"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// UNABLE_TO_LOCK_ROW per record is retryable.
	e.srv.FailNext(salesforcetest.EndpointCollection, salesforcetest.Fault{Times: 1, Status: http.StatusOK,
		Body: `[{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]}]`})
	res, err = e.c.LogActivities(ctx, acts[3:])
	if err != nil {
		t.Fatal(err)
	}
	if ce := asCRM(t, res[0].Err); ce.Action != crm.Retry || ce.Code != "UNABLE_TO_LOCK_ROW" {
		t.Errorf("lock row: got %v, want retry UNABLE_TO_LOCK_ROW", ce)
	}
}

func TestCreateContactDuplicateRule(t *testing.T) {
	for _, key := range []string{"duplicateResut", "duplicateResult"} {
		t.Run(key, func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{DuplicateRules: true, DuplicateKey: key}, nil)
			existing := e.srv.SeedContact(salesforcetest.Person{LastName: "Lima", Phone: "+33 6 12 34 56 78"})
			c, err := e.c.CreateContact(context.Background(), crm.NewContact{Kind: crm.KindLead, LastName: "New",
				Phone: fr("+33612345678"), Company: "Acme"})
			if err != nil {
				t.Fatalf("CreateContact: %v", err)
			}
			if c.ID != existing || c.Kind != crm.KindContact {
				t.Errorf("got %s %s, want the matched contact %s", c.Kind, c.ID, existing)
			}
			if n := len(e.srv.Records("Lead")); n != 0 {
				t.Errorf("%d leads stored, want 0", n)
			}
		})
	}
}

func TestCreateContactKinds(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	ctx := context.Background()
	lead, err := e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindLead, FirstName: "Ana", Phone: fr("0612345678"),
		Fields: map[string]string{"LeadSource": "SMS"}})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := e.c.CreateContact(ctx, crm.NewContact{Kind: crm.KindContact, LastName: "Lima", Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := e.srv.Get(lead.ID)
	c, _ := e.srv.Get(contact.ID)
	if l.Type != "Lead" || l.Fields["Phone"] != "+33612345678" || l.Fields["Company"] != "[not provided]" ||
		l.Fields["LastName"] != "+33612345678" || l.Fields["LeadSource"] != "SMS" || lead.Kind != crm.KindLead {
		t.Errorf("lead = %+v %v", lead, l.Fields)
	}
	if c.Type != "Contact" || contact.Kind != crm.KindContact || c.Fields["Email"] != "a@example.com" {
		t.Errorf("contact = %+v %v", contact, c.Fields)
	}
}

func TestResolveOwner(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	ctx := context.Background()
	id := e.srv.SeedUser("rep@example.com", true)
	e.srv.SeedUser("gone@example.com", false)
	for range 2 {
		if got, err := e.c.ResolveOwner(ctx, "Rep@Example.com"); err != nil || got != id {
			t.Errorf("ResolveOwner(active) = %q, %v; want %q", got, err, id)
		}
	}
	if got, err := e.c.ResolveOwner(ctx, "gone@example.com"); err != nil || got != "" {
		t.Errorf("ResolveOwner(inactive) = %q, %v; want \"\"", got, err)
	}
	if n := e.srv.Calls(salesforcetest.EndpointQuery); n != 2 {
		t.Errorf("queries = %d, want 2 (one per email, cached)", n)
	}
}

// TestRetryAfterAmbiguousFailure: the connection drops after Salesforce applied the upsert. The loop asks
// FindActivity, and a resend anyway (with or without the create-only TaskSubtype) never makes a second Task.
func TestRetryAfterAmbiguousFailure(t *testing.T) {
	for _, fields := range []map[string]string{{"Subject": "SMS"}, {"Subject": "SMS", "TaskSubtype": "Task"}} {
		t.Run(fields["TaskSubtype"], func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{TaskIDField: "Onoff_Message_Id__c"}, nil)
			ctx := context.Background()
			cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Lima"})
			act := crm.Activity{SourceID: "sms-1", ContactID: cid, ContactKind: crm.KindContact, Timestamp: t0,
				IDField: "Onoff_Message_Id__c", Fields: fields}
			e.srv.DropNext(salesforcetest.EndpointCollectionUpsert, 1)
			_, err := e.c.LogActivities(ctx, []crm.Activity{act})
			if ce := crm.Classify(err); err == nil || !ce.Ambiguous() {
				t.Fatalf("dropped connection: got %v, want an ambiguous retryable error", err)
			}
			if lag := e.c.IndexLag(act); lag != 0 {
				t.Errorf("IndexLag = %v, want 0", lag)
			}
			found, err := e.c.FindActivity(ctx, act)
			if err != nil || found == "" {
				t.Fatalf("FindActivity = %q, %v; want the applied task", found, err)
			}
			res, err := e.c.LogActivities(ctx, []crm.Activity{act}) // resent anyway
			if err != nil || res[0].Err != nil || res[0].ID != found {
				t.Fatalf("resend = %+v, %v; want id %s", res, err, found)
			}
			if n := len(e.srv.Tasks()); n != 1 {
				t.Errorf("%d tasks stored, want 1", n)
			}
		})
	}
}

func TestFindActivityWithoutIDField(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	if id, err := e.c.FindActivity(context.Background(), crm.Activity{SourceID: "x"}); id != "" || err != nil {
		t.Errorf("FindActivity = %q, %v; want \"\", nil", id, err)
	}
	if n := e.srv.DataCalls(); n != 0 {
		t.Errorf("%d calls, want 0", n)
	}
}

func TestErrorClassification(t *testing.T) {
	hdr := http.Header{"Retry-After": {"7"}}
	tests := []struct {
		name       string
		fault      salesforcetest.Fault
		action     crm.Action
		code       string
		retryAfter time.Duration
	}{
		{"500", salesforcetest.Fault{Status: 500, Body: `[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]`}, crm.Retry, "UNKNOWN_EXCEPTION", 0},
		{"503 Retry-After", salesforcetest.Fault{Status: 503, Body: `[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]`, Header: hdr}, crm.Retry, "SERVER_UNAVAILABLE", 7 * time.Second},
		{"502 html", salesforcetest.Fault{Status: 502, Body: `<html>bad gateway</html>`}, crm.Retry, "", 0},
		{"lock row", salesforcetest.Fault{Status: 400, Body: `[{"message":"locked","errorCode":"UNABLE_TO_LOCK_ROW"}]`}, crm.Retry, "UNABLE_TO_LOCK_ROW", 0},
		{"400", salesforcetest.Fault{Status: 400, Body: `[{"message":"bad","errorCode":"INVALID_FIELD","fields":["X"]}]`}, crm.Permanent, "INVALID_FIELD", 0},
		{"404", salesforcetest.Fault{Status: 404, Body: `[{"message":"nope","errorCode":"NOT_FOUND"}]`}, crm.Permanent, "NOT_FOUND", 0},
		{"300", salesforcetest.Fault{Status: 300, Body: `["/a","/b"]`}, crm.Permanent, "MULTIPLE_CHOICES", 0},
		{"api disabled", salesforcetest.Fault{Status: 403, Body: `[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`}, crm.Pause, "API_DISABLED_FOR_ORG", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{}, nil)
			tt.fault.Times = 1
			e.srv.FailNext(salesforcetest.EndpointQuery, tt.fault)
			_, err := e.c.FindContacts(context.Background(), []crm.ContactQuery{{Email: "a@example.com"}})
			ce := asCRM(t, err)
			if ce.Action != tt.action || ce.Code != tt.code || ce.RetryAfter != tt.retryAfter {
				t.Errorf("got %v (retry after %v), want %v %s %v", ce, ce.RetryAfter, tt.action, tt.code, tt.retryAfter)
			}
		})
	}
}
