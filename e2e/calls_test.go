package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestCalls posts one call (a RECORDING, to a seeded contact) to the running binary's calls path, twice as
// Onoff may: it becomes one Call engagement in HubSpot and one Task of subtype Call in Salesforce, each
// holding "call:<id>" in the id field.
func TestCalls(t *testing.T) {
	hs := newHubSpot(t, hubspottest.Options{})
	hs.DeclareProperty("calls", hubspottest.Property{Name: hubIDField}) // the admin created it on calls too
	sf := newSalesforce(t)
	n := newNode(t, config("", hubspotDest("hubspot", hs, hubIDField), salesforceDest("salesforce", sf)))
	n.start()

	body, _ := json.Marshal(map[string]any{
		"id": "call-e2e-1", "eventName": "RECORDING", "onoffUserName": "Agent E2E", "onoffUserEmail": agentEmail,
		"onoffUserNumber": "+33756000001", "externalNumber": "06 12 00 00 07", "callDirection": "INBOUND",
		"callStatus": "ANSWERED", "callStarted": time.Now().UTC().Format(time.RFC3339), "callDuration": 42,
		"callNotes": "call back tomorrow", "callRecordingUrl": "https://media.onoff.test/rec/call-e2e-1.mp3",
		"tags": []map[string]string{{"tagId": "1", "tagName": "lead", "tagColor": "#fff"}},
	})
	o := newOnoff(webhookKey, func() string { return n.receiverBase() + "/v1/onoff/cdr" })
	for range 2 {
		if code, err := o.post(body); code != http.StatusOK {
			t.Fatalf("POST /v1/onoff/cdr: got %d %v, want 200", code, err)
		}
	}
	waitFor(t, deliveryTimeout, "the call in both CRMs", func() bool {
		return len(hs.CallEngagements()) > 0 && salesforceIDs(sf)["call:call-e2e-1"] > 0
	})
	n.waitSettled(deliveryTimeout)
	calls := hs.CallEngagements()
	if len(calls) != 1 {
		t.Fatalf("HubSpot holds %d calls, want 1", len(calls))
	}
	p := calls[0].Properties
	for k, want := range map[string]string{hubIDField: "call:call-e2e-1", "hs_call_direction": "INBOUND",
		"hs_call_duration": "42000", "hs_call_status": "COMPLETED", "hs_call_from_number": contactPhone(7),
		"hs_call_recording_url": "https://media.onoff.test/rec/call-e2e-1.mp3"} {
		if p[k] != want {
			t.Errorf("HubSpot call %s = %q, want %q", k, p[k], want)
		}
	}
	if len(calls[0].Associations) != 1 || calls[0].Associations[0].TypeID != 194 {
		t.Errorf("HubSpot call associations %v, want one to the contact (194)", calls[0].Associations)
	}
	if n := len(hs.Communications()); n != 0 {
		t.Errorf("HubSpot holds %d communications, want none (a call is not an SMS)", n)
	}
	if got := salesforceIDs(sf); got["call:call-e2e-1"] != 1 || len(got) != 1 {
		t.Fatalf("Salesforce Tasks by id %v, want one call:call-e2e-1", got)
	}
	task := sf.Tasks()[0].Fields
	for k, want := range map[string]string{"TaskSubtype": "Call", "CallType": "Inbound", "CallDurationInSeconds": "42",
		"CallDisposition": "ANSWERED", "Status": "Completed"} {
		if got := fmt.Sprint(task[k]); got != want {
			t.Errorf("Salesforce Task %s = %q, want %q", k, got, want)
		}
	}
	if d := fmt.Sprint(task["Description"]); !strings.Contains(d, "call back tomorrow") || !strings.Contains(d, "Recording: https://") {
		t.Errorf("Salesforce Task Description %q lacks the notes or the recording link", d)
	}
}
