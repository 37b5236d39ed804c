package salesforce_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// optOutFields is an org with an opt-out flag on Contact and Lead (a custom checkbox) and a last-SMS date on
// Contact only.
func optOutFields() map[string][]salesforcetest.Field {
	return map[string][]salesforcetest.Field{
		"Contact": {{Name: "SMS_Opt_Out__c", Type: "boolean"}, {Name: "Last_SMS__c", Type: "datetime"}},
		"Lead":    {{Name: "SMS_Opt_Out__c", Type: "boolean"}},
	}
}

func TestUpdateContacts(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{Fields: optOutFields()}, nil)
	contact := e.srv.SeedContact(salesforcetest.Person{LastName: "C"})
	lead := e.srv.SeedLead(salesforcetest.Person{LastName: "L", Company: "Acme"})
	deleted := e.srv.SeedContact(salesforcetest.Person{LastName: "D"})
	e.srv.Delete(deleted)
	res, err := e.c.UpdateContacts(context.Background(), []crm.ContactUpdate{
		{ContactID: lead, Kind: crm.KindLead, Fields: map[string]string{"SMS_Opt_Out__c": "true"}},
		{ContactID: contact, Kind: crm.KindContact, Fields: map[string]string{"SMS_Opt_Out__c": "true", "Last_SMS__c": "2026-05-20T14:00:00Z"}},
		{ContactID: deleted, Kind: crm.KindContact, Fields: map[string]string{"SMS_Opt_Out__c": "true"}},
		{ContactID: contact, Kind: crm.KindContact, Fields: map[string]string{"Id": "x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].ID != lead || res[1].Err != nil || res[1].ID != contact {
		t.Fatalf("results %+v, want the lead and the contact updated", res)
	}
	if ce := asCRM(t, res[2].Err); ce.Code != crm.CodeContactGone {
		t.Errorf("deleted contact: %v, want CONTACT_GONE", ce)
	}
	if ce := asCRM(t, res[3].Err); ce.Action != crm.Permanent {
		t.Errorf("named twice: %v, want permanent", ce)
	}
	for _, id := range []string{lead, contact} {
		r, _ := e.srv.Get(id)
		if v := r.Fields["SMS_Opt_Out__c"]; v != "true" && v != true {
			t.Errorf("%s: SMS_Opt_Out__c = %v, want true", id, v)
		}
	}
	if n := e.srv.Calls(salesforcetest.EndpointCollectionUpdate); n != 1 {
		t.Errorf("%d collection updates, want 1 for a contact and a lead", n)
	}
}

// TestUpdateContactsFieldMissingOnLead: the whole call is refused for a field one object lacks; the adapter
// splits it, so only the Lead's update fails, naming the field.
func TestUpdateContactsFieldMissingOnLead(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{Fields: optOutFields()}, nil)
	var ups []crm.ContactUpdate
	for range 3 {
		ups = append(ups, crm.ContactUpdate{ContactID: e.srv.SeedContact(salesforcetest.Person{LastName: "C"}),
			Kind: crm.KindContact, Fields: map[string]string{"Last_SMS__c": "2026-05-20T14:00:00Z"}})
	}
	lead := e.srv.SeedLead(salesforcetest.Person{LastName: "L", Company: "Acme"})
	ups = append(ups, crm.ContactUpdate{ContactID: lead, Kind: crm.KindLead, Fields: map[string]string{"Last_SMS__c": "2026-05-20T14:00:00Z"}})
	res, err := e.c.UpdateContacts(context.Background(), ups)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:3] {
		if r.Err != nil {
			t.Errorf("contact %d: %v, want updated", i, r.Err)
		}
	}
	if ce := asCRM(t, res[3].Err); ce.Action != crm.Permanent || ce.Code != "INVALID_FIELD" || !strings.Contains(ce.Message, "Last_SMS__c") {
		t.Errorf("lead: %v, want permanent INVALID_FIELD naming Last_SMS__c", ce)
	}
}

func TestCheckContactFields(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{Fields: optOutFields()}, nil)
	got, err := e.c.CheckContactFields(context.Background(), []string{"SMS_Opt_Out__c", "Last_SMS__c", "Nope__c", "Name"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 0 {
		t.Errorf("SMS_Opt_Out__c (on both): %v, want no problem", got[0])
	}
	if len(got[1]) != 1 || !strings.Contains(got[1][0], "no field Last_SMS__c on Lead") {
		t.Errorf("Last_SMS__c (Contact only): %v, want the Lead named", got[1])
	}
	if len(got[2]) != 2 {
		t.Errorf("Nope__c: %v, want missing on Contact and Lead", got[2])
	}
	if len(got[3]) != 2 || !strings.Contains(got[3][0], "not updateable") {
		t.Errorf("Name: %v, want not updateable on both", got[3])
	}
}
