package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
	"github.com/onoffsync/onoffsync/store"
)

// TestContactUpdatesReachBothCRMs drives the real adapters against both fakes: an opt-out keyword in any case,
// with spaces or accents, flags the contact once even when Onoff delivers the SMS twice and the CRM's first
// update answers 503; a body that is not a keyword sets nothing; every SMS is logged once.
func TestContactUpdatesReachBothCRMs(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{MaxPer10s: -1, SearchPerSecond: -1})
	defer hs.Close()
	hs.DeclareProperty("contacts", hubspottest.Property{Name: "sms_opt_out", Type: "bool"})
	sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret", TaskIDField: "Onoff_Message_Id__c",
		Fields: map[string][]salesforcetest.Field{"Contact": {{Name: "SMS_Opt_Out__c", Type: "boolean"}}, "Lead": {{Name: "SMS_Opt_Out__c", Type: "boolean"}}}})
	defer sf.Close()

	dir := t.TempDir()
	writeMapping := func(name, idField, flag string) string {
		path := filepath.Join(dir, name)
		doc := fmt.Sprintf(`match: {on_no_match: skip}
activity: {id_field: %s}
contact_updates:
  - name: opt-out
    when: {keywords: [STOP, STOP SMS, ARRET, UNSUBSCRIBE], direction: RECEIVED}
    set: {%s: "true"}
`, idField, flag)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := testConfig(t, dir, fmt.Sprintf(`sync: {backoff_base: 10ms, backoff_cap: 50ms}
destinations:
  - {name: hubspot, type: hubspot, token: pat-test, base_url: %q, mapping: %q}
  - {name: salesforce, type: salesforce, login_url: %q, auth: client_credentials, client_id: id, client_secret: secret, mapping: %q}
`, hs.URL, writeMapping("hs.yaml", `""`, "sms_opt_out"), sf.URL(), writeMapping("sf.yaml", "Onoff_Message_Id__c", "SMS_Opt_Out__c")))

	bodies := map[string]string{"+33611111111": "STOP", "+33622222222": "Stop ", "+33633333333": "arrêt", "+33644444444": "stop please"}
	hsIDs, sfIDs := map[string]string{}, map[string]string{}
	for number := range bodies {
		hsIDs[number] = hs.SeedContact(map[string]string{"lastname": "P", "phone": number})
		sfIDs[number] = sf.SeedContact(salesforcetest.Person{LastName: "P", Phone: number})
	}
	hs.Fail(hubspottest.ContactsBatchUpdate, 1, 503, `{"status":"error","message":"unavailable","correlationId":"x","category":"INTERNAL_ERROR"}`)
	sf.FailNext(salesforcetest.EndpointCollectionUpdate, salesforcetest.Fault{Times: 1, Status: 503,
		Body: `[{"message":"Service Unavailable","errorCode":"SERVER_UNAVAILABLE"}]`})

	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	enqueue := func() {
		t.Helper()
		i := 0
		for number, body := range bodies {
			i++
			if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: "u" + number,
				Raw: smsWithBody("u"+number, number, "RECEIVED", body, time.Date(2026, 5, 20, 14, i, 0, 0, time.UTC))},
				[]string{"hubspot", "salesforce"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue()
	enqueue() // Onoff delivers every SMS again
	s, err := NewSyncer(cfg, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "4 SMS done in both CRMs", func() bool {
		stats, _, _ := st.Stats()
		return stats["hubspot"].Counts[store.Done] == 4 && stats["salesforce"].Counts[store.Done] == 4
	}, nil)

	for number, body := range bodies {
		flagged := number != "+33644444444"
		hsContact := hubspotContact(t, hs, hsIDs[number])
		if got := hsContact.Properties["sms_opt_out"] == "true"; got != flagged {
			t.Errorf("HubSpot, body %q: sms_opt_out %q, want flagged %v", body, hsContact.Properties["sms_opt_out"], flagged)
		}
		rec, _ := sf.Get(sfIDs[number])
		if got := rec.Fields["SMS_Opt_Out__c"] == "true" || rec.Fields["SMS_Opt_Out__c"] == true; got != flagged {
			t.Errorf("Salesforce, body %q: SMS_Opt_Out__c %v, want flagged %v", body, rec.Fields["SMS_Opt_Out__c"], flagged)
		}
		want := 0
		if flagged {
			want = 1
		}
		if n := hs.ContactWrites(hsIDs[number]); n != want {
			t.Errorf("HubSpot, body %q: contact updated %d times, want %d", body, n, want)
		}
		if n := sf.Writes(sfIDs[number]); n != want {
			t.Errorf("Salesforce, body %q: contact updated %d times, want %d", body, n, want)
		}
	}
	if n := hs.Calls(hubspottest.ContactsBatchUpdate); n < 2 {
		t.Errorf("HubSpot got %d batch updates, want the 503 and more", n)
	}
	if n := sf.Calls(salesforcetest.EndpointCollectionUpdate); n < 2 {
		t.Errorf("Salesforce got %d collection updates, want the 503 and more", n)
	}
	if n := len(hs.Communications()); n != 4 {
		t.Errorf("HubSpot holds %d communications, want 4", n)
	}
	if n := len(sf.Tasks()); n != 4 {
		t.Errorf("Salesforce holds %d Tasks, want 4", n)
	}
}

func hubspotContact(tb testing.TB, hs *hubspottest.Server, id string) hubspottest.Object {
	tb.Helper()
	for _, c := range hs.Contacts() {
		if c.ID == id {
			return c
		}
	}
	tb.Fatalf("HubSpot has no contact %s", id)
	return hubspottest.Object{}
}

// TestContactUpdateAfterACrashInBothCRMs: the process logged an SMS through the real adapter and died, either
// after recording it as logged with its pending update or before recording anything. The restarted loop
// updates the contact once and never logs the SMS again, in HubSpot and in Salesforce.
func TestContactUpdateAfterACrashInBothCRMs(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		t.Run(fmt.Sprintf("logged recorded %v", recorded), func(t *testing.T) {
			hs := hubspottest.New(hubspottest.Options{MaxPer10s: -1, SearchPerSecond: -1})
			defer hs.Close()
			hs.DeclareProperty("contacts", hubspottest.Property{Name: "sms_opt_out", Type: "bool"})
			hs.DeclareProperty("communications", hubspottest.Property{Name: "onoff_message_id", HasUniqueValue: true})
			sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret", TaskIDField: "Onoff_Message_Id__c",
				Fields: map[string][]salesforcetest.Field{"Contact": {{Name: "SMS_Opt_Out__c", Type: "boolean"}}, "Lead": {{Name: "SMS_Opt_Out__c", Type: "boolean"}}}})
			defer sf.Close()
			dir := t.TempDir()
			writeMapping := func(name, activity, flag string) string {
				path := filepath.Join(dir, name)
				doc := fmt.Sprintf("activity: {%s}\ncontact_updates:\n  - when: {keywords: [STOP]}\n    set: {%s: \"true\"}\n", activity, flag)
				if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
			cfg := testConfig(t, dir, fmt.Sprintf(`destinations:
  - {name: hubspot, type: hubspot, token: pat-test, base_url: %q, mapping: %q}
  - {name: salesforce, type: salesforce, login_url: %q, auth: client_credentials, client_id: id, client_secret: secret, mapping: %q}
`, hs.URL, writeMapping("hs.yaml", "id_field: onoff_message_id, id_field_unique: true", "sms_opt_out"),
				sf.URL(), writeMapping("sf.yaml", "id_field: Onoff_Message_Id__c", "SMS_Opt_Out__c")))
			contacts := map[string]string{
				"hubspot":    hs.SeedContact(map[string]string{"lastname": "P", "phone": "+33611111111"}),
				"salesforce": sf.SeedContact(salesforcetest.Person{LastName: "P", Phone: "+33611111111"}),
			}
			st, err := store.Open(cfg.Store.Path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			raw := smsWithBody("crash1", "+33611111111", "RECEIVED", "stop", time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC))
			if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: "crash1", Raw: raw},
				[]string{"hubspot", "salesforce"}); err != nil {
				t.Fatal(err)
			}
			// The dead process: it claimed the job, logged the SMS, and maybe recorded it as logged.
			for _, d := range cfg.Destinations {
				claimed, _, err := st.Claim(d.Name, time.Now(), 10)
				if err != nil || len(claimed) != 1 {
					t.Fatalf("%s: claim %v %v", d.Name, claimed, err)
				}
				m, err := LoadMapping(d)
				if err != nil {
					t.Fatal(err)
				}
				sms, _, _, err := ParseSMS(raw, "FR")
				if err != nil {
					t.Fatal(err)
				}
				contact := &crm.Contact{ID: contacts[d.Name], Kind: crm.KindContact}
				act, err := m.Apply(sms, contact, "")
				if err != nil {
					t.Fatal(err)
				}
				client, err := NewClient(d, AdapterDeps{Throttle: crm.Unthrottled{}})
				if err != nil {
					t.Fatal(err)
				}
				res, err := client.LogActivities(context.Background(), []crm.Activity{act})
				if err != nil || res[0].Err != nil {
					t.Fatalf("%s: log: %v %v", d.Name, res, err)
				}
				if recorded {
					fields, _, _ := m.ContactUpdates(sms, contact, "")
					up, _ := json.Marshal(crm.ContactUpdate{ContactID: contact.ID, Kind: contact.Kind, Fields: fields})
					j := claimed[0].Job
					if err := st.Complete([]store.Outcome{{Dest: j.Dest, Seq: j.Seq, State: store.InFlight, RecordID: res[0].ID,
						ContactID: contact.ID, Sent: true, ContactUpdate: up}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			st.Close()

			st, err = store.Open(cfg.Store.Path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s, err := NewSyncer(cfg, st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Run(ctx, nil); close(done) }()
			defer func() { cancel(); <-done }()
			waitFor(t, "the SMS done in both CRMs", func() bool {
				stats, _, _ := st.Stats()
				return stats["hubspot"].Counts[store.Done] == 1 && stats["salesforce"].Counts[store.Done] == 1
			}, nil)

			if got := hubspotContact(t, hs, contacts["hubspot"]).Properties["sms_opt_out"]; got != "true" || hs.ContactWrites(contacts["hubspot"]) != 1 {
				t.Errorf("HubSpot: sms_opt_out %q after %d updates, want true after 1", got, hs.ContactWrites(contacts["hubspot"]))
			}
			rec, _ := sf.Get(contacts["salesforce"])
			if got := rec.Fields["SMS_Opt_Out__c"]; (got != "true" && got != true) || sf.Writes(contacts["salesforce"]) != 1 {
				t.Errorf("Salesforce: SMS_Opt_Out__c %v after %d updates, want true after 1", got, sf.Writes(contacts["salesforce"]))
			}
			if n := len(hs.Communications()); n != 1 {
				t.Errorf("HubSpot holds %d communications, want 1", n)
			}
			if n := len(sf.Tasks()); n != 1 {
				t.Errorf("Salesforce holds %d Tasks, want 1", n)
			}
		})
	}
}
