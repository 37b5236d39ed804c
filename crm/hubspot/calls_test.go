package hubspot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

func callActivity(id, contactID string, c crm.Call) crm.Activity {
	return crm.Activity{SourceID: "call:" + id, ContactID: contactID, ContactKind: crm.KindContact,
		Timestamp: c.Started, IDField: "onoff_sms_id", Call: &c,
		Fields: map[string]string{"hs_call_title": "Call " + id, "hs_call_body": "notes"}}
}

func testCallOf(kind, dir, status string) crm.Call {
	return crm.Call{Kind: kind, Direction: dir, Status: status, Started: time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC),
		Duration: 65 * time.Second, From: crm.ParsePhone("+33612345678", ""), To: crm.ParsePhone("+33698765432", "")}
}

// TestLogCallsAndSMSInOneBatch: one LogActivities carrying SMS and calls writes communications and call
// engagements, each to its object, one batch create each.
func TestLogCallsAndSMSInOneBatch(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("calls", hubspottest.Property{Name: "onoff_sms_id"})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	vm := testCallOf(crm.CallVoicemail, crm.Inbound, "missed")
	vm.VoicemailURL = "https://media.example/vm.mp3"
	rec := testCallOf(crm.CallRecording, crm.Outbound, "Busy")
	rec.RecordingURL = "http://media.example/insecure.mp3"
	odd := testCallOf(crm.CallLog, crm.Inbound, "PARKED")
	acts := []crm.Activity{activities(cid, 1)[0], callActivity("v", cid, vm), callActivity("r", cid, rec), callActivity("o", cid, odd)}
	acts[2].CompanyID = "55"
	res := mustLog(t, e.client, acts)
	for i, r := range res {
		if r.Err != nil || r.ID == "" {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	if n := len(e.srv.Communications()); n != 1 {
		t.Errorf("%d communications, want 1", n)
	}
	byID := map[string]hubspottest.Object{}
	for _, o := range e.srv.CallEngagements() {
		byID[o.Properties["onoff_sms_id"]] = o
	}
	if len(byID) != 3 || e.srv.Calls(hubspottest.CallsBatchCreate) != 1 || e.srv.Calls(hubspottest.CommsBatchCreate) != 1 {
		t.Fatalf("calls %v; batch creates calls %d comms %d, want 3 calls in one batch and one SMS batch", byID,
			e.srv.Calls(hubspottest.CallsBatchCreate), e.srv.Calls(hubspottest.CommsBatchCreate))
	}
	for _, c := range []struct{ id, prop, want string }{
		{"call:v", "hs_call_status", "NO_ANSWER"}, {"call:v", "hs_call_recording_url", "https://media.example/vm.mp3"},
		{"call:v", "hs_call_direction", "INBOUND"}, {"call:v", "hs_call_duration", "65000"},
		{"call:v", "hs_timestamp", "2026-05-20T14:30:00.000Z"}, {"call:v", "hs_call_title", "Call v"},
		{"call:r", "hs_call_status", "BUSY"}, {"call:r", "hs_call_recording_url", ""}, {"call:r", "hs_call_direction", "OUTBOUND"},
		{"call:o", "hs_call_status", ""}, {"call:o", "hs_call_from_number", "+33612345678"}, {"call:o", "hs_call_to_number", "+33698765432"},
		{"call:v", "hs_communication_channel_type", ""},
	} {
		if got := byID[c.id].Properties[c.prop]; got != c.want {
			t.Errorf("%s %s = %q, want %q", c.id, c.prop, got, c.want)
		}
	}
	if got := fmt.Sprint(byID["call:r"].Associations); got != fmt.Sprintf("[{contacts %s 194} {companies 55 182}]", cid) {
		t.Errorf("associations %s, want the contact (194) and the company (182)", got)
	}
}

// TestCallsFakeRefusesWhatHubSpotRefuses: the fake answers a call input as HubSpot does when it names a
// property the calls object lacks (the id field not created on calls), so the adapter's error says so.
func TestCallsFakeRefusesWhatHubSpotRefuses(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	res := mustLog(t, e.client, []crm.Activity{callActivity("x", cid, testCallOf(crm.CallLog, crm.Inbound, "answered"))})
	var ce *crm.Error
	if !errors.As(res[0].Err, &ce) || ce.Action != crm.Permanent || !strings.Contains(ce.Error(), "PROPERTY_DOESNT_EXIST") {
		t.Errorf("call with an id field missing on calls: %v, want a permanent PROPERTY_DOESNT_EXIST", res[0].Err)
	}
}

// TestFindCallsAfterAmbiguousFailure: a call whose batch create was applied but not answered is found in
// the calls object (not in communications) once the index shows it.
func TestFindCallsAfterAmbiguousFailure(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchLag: 45 * time.Second}, Config{}, Options{})
	e.srv.DeclareProperty("calls", hubspottest.Property{Name: "onoff_sms_id"})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	act := callActivity("amb", cid, testCallOf(crm.CallLog, crm.Inbound, "answered"))
	ctx := context.Background()
	e.srv.Drop(hubspottest.CallsBatchCreate, 1)
	if _, err := e.client.LogActivities(ctx, []crm.Activity{act}); err == nil {
		t.Fatal("LogActivities over a dropped connection succeeded")
	}
	e.clock.Advance(e.client.IndexLag(act))
	ids, err := e.client.FindActivities(ctx, []crm.Activity{act})
	stored := e.srv.CallEngagements()
	if err != nil || len(stored) != 1 || ids[0] != stored[0].ID {
		t.Fatalf("FindActivities = %v, %v; want %v", ids, err, stored)
	}
	if e.srv.Calls(hubspottest.CallsSearch) != 1 || e.srv.Calls(hubspottest.CommsSearch) != 0 {
		t.Errorf("searches: calls %d, communications %d; want 1 and 0", e.srv.Calls(hubspottest.CallsSearch), e.srv.Calls(hubspottest.CommsSearch))
	}
	// With a unique-valued property on calls, a batch read, no lag.
	e.srv.DeclareUniqueOn("calls", "onoff_sms_id")
	act.IDFieldUnique = true
	if ids, err := e.client.FindActivities(ctx, []crm.Activity{act}); err != nil || ids[0] != stored[0].ID || e.srv.Calls(hubspottest.CallsBatchRead) != 1 {
		t.Errorf("unique FindActivities = %v, %v (batch reads %d)", ids, err, e.srv.Calls(hubspottest.CallsBatchRead))
	}
}

// TestCheckMappingCalls: check --online reads the calls section's fields and id field on the calls object:
// an id field created on communications only is reported.
func TestCheckMappingCalls(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("communications", hubspottest.Property{Name: "onoff_sms_id"})
	r, err := e.client.CheckMapping(context.Background(), MappingFields{IDField: "onoff_sms_id",
		CallFields: []string{"hs_call_title", "hs_call_body", "onoff_tags"}, CallIDField: "onoff_sms_id"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{"calls.activity.fields", "calls", "onoff_tags", `no property "onoff_tags" on HubSpot calls`},
		{"calls.activity.id_field", "calls", "onoff_sms_id", `no property "onoff_sms_id" on HubSpot calls`},
	}
	if fmt.Sprint(r.Findings) != fmt.Sprint(want) {
		t.Errorf("findings %v, want %v", r.Findings, want)
	}
}
