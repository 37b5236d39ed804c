package hubspot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

func storedContact(tb testing.TB, srv *hubspottest.Server, id string) map[string]string {
	tb.Helper()
	for _, c := range srv.Contacts() {
		if c.ID == id {
			return c.Properties
		}
	}
	tb.Fatalf("no contact %s", id)
	return nil
}

func TestUpdateContacts(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("contacts", hubspottest.Property{Name: "sms_opt_out", Type: "bool"})
	e.srv.DeclareProperty("contacts", hubspottest.Property{Name: "last_sms_date", Type: "datetime"})
	a := e.srv.SeedContact(map[string]string{"lastname": "A"})
	b := e.srv.SeedContact(map[string]string{"lastname": "B"})
	e.srv.DeleteContact(b) // merged away since it was matched
	c := e.srv.SeedContact(map[string]string{"lastname": "C"})
	res, err := e.client.UpdateContacts(context.Background(), []crm.ContactUpdate{
		{ContactID: a, Kind: crm.KindContact, Fields: map[string]string{"sms_opt_out": "true"}},
		{ContactID: b, Kind: crm.KindContact, Fields: map[string]string{"sms_opt_out": "true"}},
		{ContactID: c, Kind: crm.KindContact, Fields: map[string]string{"last_sms_date": "2026-05-20T14:00:00Z"}},
		{ContactID: "9", Kind: crm.KindLead, Fields: map[string]string{"sms_opt_out": "true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].ID != a || res[2].Err != nil || res[2].ID != c {
		t.Errorf("results %+v, want contacts %s and %s updated", res, a, c)
	}
	if ce := crm.Classify(res[1].Err); ce == nil || ce.Code != crm.CodeContactGone {
		t.Errorf("deleted contact: %v, want CONTACT_GONE", res[1].Err)
	}
	if ce := crm.Classify(res[3].Err); ce == nil || ce.Action != crm.Permanent {
		t.Errorf("a lead on HubSpot: %v, want a permanent error", res[3].Err)
	}
	if got := storedContact(t, e.srv, a)["sms_opt_out"]; got != "true" {
		t.Errorf("sms_opt_out = %q, want true", got)
	}
	if n := e.srv.Calls(hubspottest.ContactsBatchUpdate); n != 1 {
		t.Errorf("%d batch update calls, want 1", n)
	}
	if u := e.srv.Unserved(); len(u) != 0 {
		t.Errorf("requests outside the date-versioned API: %v", u)
	}
}

// TestUpdateContactsUnknownPropertyFailsAlone: HubSpot refuses the whole batch for one property that does not
// exist; the adapter splits it so the other updates go through, and the failed one names the property.
func TestUpdateContactsUnknownPropertyFailsAlone(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("contacts", hubspottest.Property{Name: "last_sms_date"})
	var ups []crm.ContactUpdate
	for i := range 5 {
		id := e.srv.SeedContact(map[string]string{"lastname": "x"})
		f := map[string]string{"last_sms_date": "2026-05-20"}
		if i == 3 {
			f["sms_opt_out"] = "true" // never created in HubSpot
		}
		ups = append(ups, crm.ContactUpdate{ContactID: id, Kind: crm.KindContact, Fields: f})
	}
	res, err := e.client.UpdateContacts(context.Background(), ups)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if i == 3 {
			ce := crm.Classify(r.Err)
			if ce == nil || ce.Action != crm.Permanent || !strings.Contains(ce.Message, `sms_opt_out`) || !strings.Contains(ce.Message, "PROPERTY_DOESNT_EXIST") {
				t.Errorf("update with an unknown property: %v, want permanent naming sms_opt_out", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("update %d: %v, want applied", i, r.Err)
		}
	}
}

func TestUpdateContactsWholeCallFailure(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	id := e.srv.SeedContact(map[string]string{"lastname": "x"})
	e.srv.Fail(hubspottest.ContactsBatchUpdate, 1, 503, `{"status":"error","message":"unavailable","correlationId":"x","category":"INTERNAL_ERROR"}`)
	_, err := e.client.UpdateContacts(context.Background(), []crm.ContactUpdate{{ContactID: id, Kind: crm.KindContact, Fields: map[string]string{"lastname": "y"}}})
	var ce *crm.Error
	if !errors.As(err, &ce) || ce.Action != crm.Retry {
		t.Errorf("503: %v, want a retryable error for the whole call", err)
	}
}
