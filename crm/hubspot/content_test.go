package hubspot

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestFindByContent logs SMS and a call without an id field, then looks them up by content once the index has
// caught up: only the record on the same contact, at the same hs_timestamp, of the same kind, with the body
// rendered now, created since the first attempt less a minute, counts; each record answers once; a bulk send
// (same text, same second, two people) is told apart.
func TestFindByContent(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchLag: 45 * time.Second}, Config{}, Options{})
	ctx := context.Background()
	ann := e.srv.SeedContact(map[string]string{"lastname": "Ann"})
	bob := e.srv.SeedContact(map[string]string{"lastname": "Bob"})
	at := time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC)
	sms := func(who, body string) crm.Activity {
		return crm.Activity{ContactID: who, ContactKind: crm.KindContact, Timestamp: at,
			Fields: map[string]string{"hs_communication_body": body}}
	}
	call := func(who, body string) crm.Activity {
		return crm.Activity{ContactID: who, ContactKind: crm.KindContact, Timestamp: at, Call: &crm.Call{Direction: "INBOUND"},
			Fields: map[string]string{"hs_call_body": body}}
	}
	hostile := `"}]},{"filters":[{"propertyName":"hs_timestamp","operator":"HAS_PROPERTY"` + "\\ <b>x</b>"
	first := e.clock.Now()
	res := mustLog(t, e.client, []crm.Activity{sms(ann, "hello"), sms(bob, "hello"), call(ann, "hello"), sms(ann, hostile)})

	a := func(act crm.Activity, since time.Time) crm.Attempt { return crm.Attempt{Activity: act, Since: since} }
	later := sms(ann, "hello")
	later.Timestamp = at.Add(time.Second)
	cases := []struct {
		name string
		att  crm.Attempt
		want string
	}{
		{"same SMS", a(sms(ann, "hello"), first), res[0].ID},
		{"same SMS again: that record answers once", a(sms(ann, "hello"), first), ""},
		{"other person, same text and second (bulk send)", a(sms(bob, "hello"), first), res[1].ID},
		{"body differs", a(sms(bob, "hello!"), first), ""},
		{"another second", a(later, first), ""},
		{"a call, in the calls object", a(call(ann, "hello"), first), res[2].ID},
		{"hostile body", a(sms(ann, hostile), first), res[3].ID},
		{"created before the first attempt less a minute", a(sms(bob, "hello"), first.Add(2*time.Minute)), ""},
		{"no contact: cannot tell", a(sms("", "hello"), first), ""},
		{"not a HubSpot id", a(sms(`1" OR "1`, "hello"), first), ""},
	}
	atts := make([]crm.Attempt, len(cases))
	want := make([]string, len(cases))
	for i, c := range cases {
		atts[i], want[i] = c.att, c.want
	}
	got, err := e.client.FindByContent(ctx, atts)
	if err != nil {
		t.Fatalf("FindByContent before the index caught up: %v", err)
	}
	if diff := cmp.Diff(make([]string, len(cases)), got); diff != "" {
		t.Errorf("FindByContent before the index caught up found records (the lag ContentLag covers):\n%s", diff)
	}
	if lag := e.client.ContentLag(sms(ann, "x")); lag != 60*time.Second {
		t.Errorf("ContentLag = %s, want the 60s default index_lag", lag)
	}
	e.clock.Advance(e.client.ContentLag(sms(ann, "x")))
	before := e.srv.Calls(hubspottest.CommsSearch) + e.srv.Calls(hubspottest.CallsSearch)
	got, err = e.client.FindByContent(ctx, atts)
	if err != nil {
		t.Fatalf("FindByContent: %v", err)
	}
	for i, c := range cases {
		if got[i] != want[i] {
			t.Errorf("%s: got %q, want %q", c.name, got[i], want[i])
		}
	}
	// SMS: ann@14:30:00, bob@14:30:00 (same second: another search), ann@14:30:01; calls: one.
	if n := e.srv.Calls(hubspottest.CommsSearch) + e.srv.Calls(hubspottest.CallsSearch) - before; n != 3 {
		t.Errorf("FindByContent made %d searches, want 3", n)
	}
}

// TestFindByContentBatches: 100 activities of 100 contacts at distinct seconds need 20 searches (5 filter
// groups each, the documented limit), and are all found.
func TestFindByContentBatches(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.client.throttle = newVirtualThrottle(e.clock, e.client.RateLimits()) // searches wait for the 5/s limit
	var acts []crm.Activity
	for i := range 100 {
		who := e.srv.SeedContact(map[string]string{"lastname": fmt.Sprint("P", i)})
		acts = append(acts, crm.Activity{ContactID: who, ContactKind: crm.KindContact,
			Timestamp: time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Fields:    map[string]string{"hs_communication_body": fmt.Sprint("hello ", i)}})
	}
	res := mustLog(t, e.client, acts)
	atts := make([]crm.Attempt, len(acts))
	for i, a := range acts {
		atts[i] = crm.Attempt{Activity: a, Since: e.clock.Now()}
	}
	got, err := e.client.FindByContent(context.Background(), atts)
	if err != nil {
		t.Fatalf("FindByContent: %v", err)
	}
	for i := range acts {
		if got[i] != res[i].ID {
			t.Fatalf("activity %d: got %q, want %q", i, got[i], res[i].ID)
		}
	}
	if n := e.srv.Calls(hubspottest.CommsSearch); n != 20 {
		t.Errorf("searches = %d, want 20 (5 activities each)", n)
	}
}
