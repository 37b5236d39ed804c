package salesforce_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// TestFindByContent logs Tasks without an id field, then looks them up by content: only the Task that is
// exactly the activity (same WhoId, Subject, ActivityDate, Description, subtype, created since the first
// attempt less a minute, by the integration user) counts, each Task for one attempt, in one SOQL query.
func TestFindByContent(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{IndexLag: 3 * time.Minute}, nil)
	ctx := context.Background()
	ann := e.srv.SeedContact(salesforcetest.Person{LastName: "Ann"})
	bob := e.srv.SeedLead(salesforcetest.Person{LastName: "Bob", Company: "Acme"})
	hostile := `it's \ 'O'Brien' OR Subject != '` + "\n"
	sms := func(who, kind, body string) crm.Activity {
		return crm.Activity{ContactID: who, ContactKind: kind, Timestamp: t0,
			Fields: map[string]string{"Subject": "SMS received from +33612345678", "Description": body,
				"ActivityDate": "2026-05-20", "TaskSubtype": "Task"}}
	}
	call := func(who string) crm.Activity {
		a := sms(who, crm.KindContact, "hello")
		a.Fields = map[string]string{"Subject": "SMS received from +33612345678", "Description": "hello", "ActivityDate": "2026-05-20"}
		a.Call = &crm.Call{Direction: crm.Inbound, Duration: time.Minute}
		return a
	}
	first := t0
	logged := []crm.Activity{
		sms(ann, crm.KindContact, "hello"),
		sms(bob, crm.KindLead, "hello"), // a bulk send: same text, same second, another person
		call(ann),
		func() crm.Activity { a := sms(ann, crm.KindContact, hostile); a.Fields["Subject"] = hostile; return a }(),
	}
	res, err := e.c.LogActivities(ctx, logged)
	if err != nil {
		t.Fatalf("LogActivities: %v", err)
	}
	// A Task a person made by hand, identical to the first: not the integration user's, so never ours.
	e.srv.SeedTask(map[string]any{"WhoId": ann, "Subject": "SMS received from +33612345678", "Description": "hello",
		"ActivityDate": "2026-05-20", "TaskSubtype": "Task", "CreatedById": "005000000000777AAA"})
	e.clock.Advance(10 * time.Second)

	at := func(a crm.Activity, since time.Time) crm.Attempt { return crm.Attempt{Activity: a, Since: since} }
	edited := sms(ann, crm.KindContact, "hello!")
	noWho := sms("", crm.KindContact, "hello")
	cases := []struct {
		name string
		att  crm.Attempt
		want string
	}{
		{"same SMS", at(sms(ann, crm.KindContact, "hello"), first), res[0].ID},
		{"same SMS again in the batch: that Task answers once", at(sms(ann, crm.KindContact, "hello"), first), ""},
		{"other person, same text and second", at(sms(bob, crm.KindLead, "hello"), first), res[1].ID},
		{"body differs", at(edited, first), ""},
		{"created before the first attempt less a minute", at(sms(bob, crm.KindLead, "hello"), first.Add(2*time.Minute)), ""},
		{"a call is not an SMS Task", at(call(ann), first), res[2].ID},
		{"hostile subject and body, escaped", at(logged[3], first), res[3].ID},
		{"no WhoId: cannot tell", at(noWho, first), ""},
	}
	atts := make([]crm.Attempt, len(cases))
	want := make([]string, len(cases))
	for i, c := range cases {
		atts[i], want[i] = c.att, c.want
	}
	before := e.srv.Calls(salesforcetest.EndpointQuery)
	got, err := e.c.FindByContent(ctx, atts)
	if err != nil {
		t.Fatalf("FindByContent: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		for i, c := range cases {
			if got[i] != want[i] {
				t.Errorf("%s: got %q, want %q", c.name, got[i], want[i])
			}
		}
		t.Fatalf("FindByContent (-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(salesforcetest.EndpointQuery) - before; n != 1 {
		t.Errorf("FindByContent made %d queries for %d attempts, want 1", n, len(atts))
	}
}

// TestFindByContentSplitsLongQueries: subjects long enough to pass the URI bound split the look-up into
// several queries, and every Task is still found.
func TestFindByContentSplitsLongQueries(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	ctx := context.Background()
	ann := e.srv.SeedContact(salesforcetest.Person{LastName: "Ann"})
	var acts []crm.Activity
	for i := range 120 {
		subject := fmt.Sprintf("SMS %03d %s", i, strings.Repeat("é", 200)) // 1,200 characters URL-encoded
		acts = append(acts, crm.Activity{ContactID: ann, ContactKind: crm.KindContact, Timestamp: t0,
			Fields: map[string]string{"Subject": subject, "Description": "x", "ActivityDate": "2026-05-20"}})
	}
	res, err := e.c.LogActivities(ctx, acts)
	if err != nil {
		t.Fatalf("LogActivities: %v", err)
	}
	atts := make([]crm.Attempt, len(acts))
	for i, a := range acts {
		atts[i] = crm.Attempt{Activity: a, Since: t0}
	}
	before := e.srv.Calls(salesforcetest.EndpointQuery)
	got, err := e.c.FindByContent(ctx, atts)
	if err != nil {
		t.Fatalf("FindByContent: %v", err)
	}
	for i, r := range res {
		if got[i] != r.ID {
			t.Fatalf("attempt %d: got %q, want %q", i, got[i], r.ID)
		}
	}
	if n := e.srv.Calls(salesforcetest.EndpointQuery) - before; n < 2 || n > len(acts)/5 {
		t.Errorf("FindByContent made %d queries for %d attempts, want a few (the URI bound splits them)", n, len(acts))
	}
}
