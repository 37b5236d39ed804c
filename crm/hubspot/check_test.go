package hubspot

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestUniqueIDFieldConflictIsAlreadyLogged: HubSpot answers a clash on a unique-valued property with
// UNIQUE_VALUE_CONFLICT ("... already has that value"), not "Existing ID: N". On the id field it means the SMS
// is already in HubSpot: Done, with the holder's id.
func TestUniqueIDFieldConflictIsAlreadyLogged(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareUnique("onoff_sms_id")
	cid := e.srv.SeedContact(map[string]string{"lastname": "U"})
	acts := activities(cid, 3)
	first := mustLog(t, e.client, acts[:2])
	res := mustLog(t, e.client, acts) // a redelivery: two already there, one new
	for i, r := range res {
		ce := crm.Classify(r.Err)
		switch {
		case i < 2 && (ce == nil || ce.Action != crm.Done || ce.ID != first[i].ID):
			t.Errorf("result %d = %+v (%v), want Done with id %s", i, r, r.Err, first[i].ID)
		case i == 2 && (r.Err != nil || r.ID == ""):
			t.Errorf("result 2 = %+v, want logged", r)
		}
	}
	if n := len(e.srv.Communications()); n != 3 {
		t.Errorf("fake holds %d communications, want 3", n)
	}
}

// TestCheckMapping: every field the mapping names is read from the properties API; missing ones, and an
// id_field_unique that HubSpot contradicts, are findings naming the mapping key.
func TestCheckMapping(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("contacts", hubspottest.Property{Name: "whatsapp"})
	e.srv.DeclareProperty("communications", hubspottest.Property{Name: "onoff_sms_id"}) // not unique-valued
	e.srv.DeclareProperty("communications", hubspottest.Property{Name: "onoff_direction"})
	r, err := e.client.CheckMapping(context.Background(), MappingFields{
		PhoneFields:    []string{"phone", "whatsapp", "signal_phone"},
		CreateFields:   []string{"lifecyclestage", "firstname"},
		ActivityFields: []string{"hs_communication_body", "onoff_direction", "onoff_dir"},
		IDField:        "onoff_sms_id", IDFieldUnique: true, ResolveOwners: true,
	})
	if err != nil {
		t.Fatalf("CheckMapping: %v", err)
	}
	want := []Finding{
		{"match.phone_fields", "contacts", "signal_phone", `no property "signal_phone" on HubSpot contacts`},
		{"create.fields", "contacts", "lifecyclestage", `no property "lifecyclestage" on HubSpot contacts`},
		{"activity.fields", "communications", "onoff_dir", `no property "onoff_dir" on HubSpot communications`},
		{"activity.id_field_unique", "communications", "onoff_sms_id", `id_field_unique is true but HubSpot's "onoff_sms_id" does not require unique values (hasUniqueValue false): set it to false, or make the property unique`},
	}
	if diff := cmp.Diff(want, r.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if !r.IDFieldExists || r.IDFieldUnique {
		t.Errorf("id field exists %v unique %v, want true false", r.IDFieldExists, r.IDFieldUnique)
	}

	e.srv.DeclareUnique("onoff_sms_id")
	r, err = e.client.CheckMapping(context.Background(), MappingFields{IDField: "onoff_sms_id", IDFieldUnique: true})
	if err != nil || len(r.Findings) != 0 || !r.IDFieldUnique {
		t.Errorf("unique id field: %+v, %v; want no findings", r, err)
	}
}

// TestCheckScopes: with a private app token, reads that would answer 403 MISSING_SCOPES prove the read
// scopes and the write scope is reported as unverifiable; with OAuth, token introspection lists them.
func TestCheckScopes(t *testing.T) {
	m := MappingFields{ResolveOwners: true}
	t.Run("private app", func(t *testing.T) {
		e := newEnv(t, hubspottest.Options{Scopes: []string{ScopeContactsRead, ScopeContactsWrite}}, Config{}, Options{})
		r, err := e.client.CheckMapping(context.Background(), m)
		if err != nil {
			t.Fatalf("CheckMapping: %v", err)
		}
		if r.Scopes.How != "read probes" || !cmp.Equal(r.Scopes.Missing, []string{ScopeOwnersRead}) ||
			!cmp.Equal(r.Scopes.Unverified, []string{ScopeContactsWrite}) || r.Scopes.Note == "" {
			t.Errorf("scopes = %+v, want owners missing and the write scope unverified", r.Scopes)
		}
	})
	for _, version := range []string{Version202609, Version202603, VersionV3} {
		t.Run("oauth "+version, func(t *testing.T) {
			e := newEnv(t, hubspottest.Options{APIVersion: version, ClientID: "cid", ClientSecret: "s", RefreshToken: "rt", Tokens: []string{},
				Scopes: []string{"oauth", ScopeContactsRead, "crm.schemas.contacts.read"}},
				Config{APIVersion: version, OAuth: &OAuth{ClientID: "cid", ClientSecret: "s", RefreshToken: "rt"}}, Options{})
			r, err := e.client.CheckMapping(context.Background(), m)
			if err != nil {
				t.Fatalf("CheckMapping: %v", err)
			}
			if r.Scopes.How != "token introspection" || !cmp.Equal(r.Scopes.Missing, []string{ScopeContactsWrite, ScopeOwnersRead}) || len(r.Scopes.Unverified) != 0 {
				t.Errorf("scopes = %+v, want contacts write and owners missing", r.Scopes)
			}
			if u := e.srv.Unserved(); len(u) > 0 {
				t.Errorf("requests outside the version: %v", u)
			}
		})
	}
}
