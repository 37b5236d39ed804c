package connector

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	_ "time/tzdata" // Europe/Paris on machines without zoneinfo

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
	"github.com/onoffsync/onoffsync/store"
)

// TestCallsReachBothCRMs posts call events through the receiver and lets the real adapters log them in
// their fakes (HubSpot's validates every body against its calls spec and refuses what HubSpot refuses on
// calls; Salesforce's checks the Task call fields' types and picklists): a CDR on a known number, a VM from
// an unknown one (a contact, or Lead, is created), a RECORDING, a CDR with a status onoffsync does not know and
// an http recording link, a redelivery, a call with a bad field, and an SMS sharing a call's id.
func TestCallsReachBothCRMs(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{MaxPer10s: -1, SearchPerSecond: -1})
	defer hs.Close()
	hs.DeclareProperty("calls", hubspottest.Property{Name: "onoff_message_id"})
	hs.DeclareProperty("communications", hubspottest.Property{Name: "onoff_message_id"})
	sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret", TaskIDField: "Onoff_Message_Id__c"})
	defer sf.Close()
	const known, unknown, user = "+33612345678", "+33655443322", "+33698765432"
	hsContact := hs.SeedContact(map[string]string{"phone": known, "firstname": "Known", "lastname": "Caller", "associatedcompanyid": "777"})
	sfContact := sf.SeedContact(salesforcetest.Person{LastName: "Caller", Phone: known})
	hs.Settle()

	dir := t.TempDir()
	cfg := testConfig(t, dir, fmt.Sprintf(`destinations:
  - name: hubspot
    type: hubspot
    token: pat-test
    base_url: %q
    mapping: {activity: {id_field: onoff_message_id, associate_company: true}}
  - name: salesforce
    type: salesforce
    login_url: %q
    auth: client_credentials
    client_id: id
    client_secret: secret
    time_zone: Europe/Paris
    mapping: {activity: {id_field: Onoff_Message_Id__c}}
`, hs.URL, sf.URL()))
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(NewReceiver(cfg, st, Options{}).Handler())
	defer ts.Close()
	r := &receiverEnv{store: st, url: ts.URL}
	s, err := NewSyncer(cfg, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	post := func(path, body string) answer {
		t.Helper()
		a := r.post(t, path, onoff("k1"), strings.NewReader(body), int64(len(body)))
		if a.status != 200 {
			t.Fatalf("POST %s: got %d %v", path, a.status, a.body)
		}
		return a
	}
	late := map[string]any{"callStarted": "2026-05-20T22:30:00Z", "callEnded": "2026-05-20T22:32:05Z"} // May 21 in Paris
	post("/v1/onoff/cdr", callBody("c-1", "CDR", user, "06 12 34 56 78", late))
	post("/v1/onoff/cdr", callBody("v-1", "VM", user, unknown, nil))
	post("/v1/onoff/cdr", callBody("r-1", "RECORDING", user, known, map[string]any{"callDirection": "Outbound", "callStatus": "busy"}))
	post("/v1/onoff/cdr", callBody("c-2", "CDR", user, known, map[string]any{"callStatus": "VOICEMAIL_DROPPED",
		"callRecordingUrl": "http://media.onoff.test/insecure.mp3", "tags": nil}))
	post("/v1/onoff/sms", string(smsBody("c-1", user, known)))
	if a := post("/v1/onoff/cdr", callBody("bad", "CDR", user, known, map[string]any{"callDuration": "two minutes"})); a.body["quarantined"] != true {
		t.Errorf("bad call answered %v, want quarantined", a.body)
	}
	waitFor(t, "5 activities done in both CRMs", func() bool {
		stats, _, _ := st.Stats()
		return stats["hubspot"].Counts[store.Done] == 5 && stats["salesforce"].Counts[store.Done] == 5
	}, nil)
	post("/v1/onoff/cdr", callBody("c-1", "CDR", user, known, nil)) // redelivery: answered, not logged again
	if stats, _, _ := st.Stats(); stats["hubspot"].Counts[store.Pending] != 0 || stats["salesforce"].Counts[store.Pending] != 0 {
		t.Errorf("the redelivery queued jobs: %+v", stats)
	}

	// HubSpot: four call engagements, one communication.
	calls := map[string]hubspottest.Object{}
	for _, o := range hs.CallEngagements() {
		calls[o.Properties["onoff_message_id"]] = o
	}
	if len(calls) != 4 || len(hs.CallEngagements()) != 4 {
		t.Fatalf("HubSpot calls by id: %v (%d in all), want call:c-1, call:v-1, call:r-1, call:c-2", keysOf(calls), len(hs.CallEngagements()))
	}
	if comms := hs.Communications(); len(comms) != 1 || comms[0].Properties["onoff_message_id"] != "c-1" {
		t.Errorf("HubSpot communications %+v, want the one SMS c-1", comms)
	}
	newContact := ""
	for _, c := range hs.Contacts() {
		if c.ID != hsContact {
			newContact = c.ID
		}
	}
	if n := len(hs.Contacts()); n != 2 || newContact == "" {
		t.Errorf("HubSpot holds %d contacts, want the known one and one created for %s", n, unknown)
	}
	c1, v1, r1, c2 := calls["call:c-1"], calls["call:v-1"], calls["call:r-1"], calls["call:c-2"]
	for _, c := range []struct{ what, got, want string }{
		{"c-1 hs_timestamp", c1.Properties["hs_timestamp"], "2026-05-20T22:30:00.000Z"},
		{"c-1 hs_call_direction", c1.Properties["hs_call_direction"], "INBOUND"},
		{"c-1 hs_call_duration", c1.Properties["hs_call_duration"], "125000"},
		{"c-1 hs_call_status", c1.Properties["hs_call_status"], "COMPLETED"},
		{"c-1 hs_call_from_number", c1.Properties["hs_call_from_number"], known},
		{"c-1 hs_call_to_number", c1.Properties["hs_call_to_number"], user},
		{"c-1 hs_call_recording_url", c1.Properties["hs_call_recording_url"], ""},
		{"c-1 hs_call_title", c1.Properties["hs_call_title"], "Call from " + known},
		{"c-1 associations", fmt.Sprint(c1.Associations), fmt.Sprintf("[{contacts %s 194} {companies 777 182}]", hsContact)},
		{"v-1 hs_call_status", v1.Properties["hs_call_status"], "NO_ANSWER"},
		{"v-1 hs_call_recording_url", v1.Properties["hs_call_recording_url"], "https://media.onoff.test/vm/v-1.mp3"},
		{"v-1 hs_call_title", v1.Properties["hs_call_title"], "Voicemail from " + unknown},
		{"v-1 associations", fmt.Sprint(v1.Associations), fmt.Sprintf("[{contacts %s 194}]", newContact)},
		{"r-1 hs_call_direction", r1.Properties["hs_call_direction"], "OUTBOUND"},
		{"r-1 hs_call_status", r1.Properties["hs_call_status"], "BUSY"},
		{"r-1 hs_call_from_number", r1.Properties["hs_call_from_number"], user},
		{"r-1 hs_call_recording_url", r1.Properties["hs_call_recording_url"], "https://media.onoff.test/rec/r-1.mp3"},
		{"c-2 hs_call_status (unknown)", c2.Properties["hs_call_status"], ""},
		{"c-2 hs_call_recording_url (http)", c2.Properties["hs_call_recording_url"], ""},
	} {
		if c.got != c.want {
			t.Errorf("HubSpot %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	for _, want := range []string{"Wants a quote", "Tags: lead", "Status: ANSWERED"} {
		if !strings.Contains(c1.Properties["hs_call_body"], want) {
			t.Errorf("HubSpot c-1 hs_call_body %q lacks %q", c1.Properties["hs_call_body"], want)
		}
	}
	if !strings.Contains(c2.Properties["hs_call_body"], "VOICEMAIL_DROPPED") {
		t.Errorf("HubSpot c-2 hs_call_body %q lacks the unknown status", c2.Properties["hs_call_body"])
	}

	// Salesforce: five Tasks, four of subtype Call.
	tasks := map[string]map[string]any{}
	for _, task := range sf.Tasks() {
		tasks[fmt.Sprint(task.Fields["Onoff_Message_Id__c"])] = task.Fields
	}
	if len(tasks) != 5 || len(sf.Tasks()) != 5 {
		t.Fatalf("Salesforce Tasks by id: %v (%d in all), want 4 calls and the SMS", keysOf(tasks), len(sf.Tasks()))
	}
	leads := sf.Records("Lead")
	if len(leads) != 1 {
		t.Fatalf("Salesforce holds %d Leads, want one created for %s", len(leads), unknown)
	}
	t1, tv, tr, t2, tsms := tasks["call:c-1"], tasks["call:v-1"], tasks["call:r-1"], tasks["call:c-2"], tasks["c-1"]
	for _, c := range []struct{ what, got, want string }{
		{"c-1 TaskSubtype", fmt.Sprint(t1["TaskSubtype"]), "Call"},
		{"c-1 CallType", fmt.Sprint(t1["CallType"]), "Inbound"},
		{"c-1 CallDurationInSeconds", fmt.Sprint(t1["CallDurationInSeconds"]), "125"},
		{"c-1 CallDisposition", fmt.Sprint(t1["CallDisposition"]), "ANSWERED"},
		{"c-1 Status", fmt.Sprint(t1["Status"]), "Completed"},
		{"c-1 ActivityDate (Paris)", fmt.Sprint(t1["ActivityDate"]), "2026-05-21"},
		{"c-1 WhoId", fmt.Sprint(t1["WhoId"]), sfContact},
		{"c-1 Subject", fmt.Sprint(t1["Subject"]), "Call from " + known},
		{"v-1 WhoId", fmt.Sprint(tv["WhoId"]), leads[0].ID},
		{"v-1 CallDisposition", fmt.Sprint(tv["CallDisposition"]), "MISSED"},
		{"r-1 CallType", fmt.Sprint(tr["CallType"]), "Outbound"},
		{"c-2 CallDisposition (unknown)", fmt.Sprint(t2["CallDisposition"]), "<nil>"},
		{"SMS TaskSubtype", fmt.Sprint(tsms["TaskSubtype"]), "Task"},
	} {
		if c.got != c.want {
			t.Errorf("Salesforce %s = %q, want %q", c.what, c.got, c.want)
		}
	}
	for task, wants := range map[string][]string{
		"c-1": {fmt.Sprint(t1["Description"]), "Wants a quote", "Tags: lead"},
		"v-1": {fmt.Sprint(tv["Description"]), "Voicemail: https://media.onoff.test/vm/v-1.mp3"},
		"r-1": {fmt.Sprint(tr["Description"]), "Recording: https://media.onoff.test/rec/r-1.mp3"},
		"c-2": {fmt.Sprint(t2["Description"]), "Status: VOICEMAIL_DROPPED"},
	} {
		for _, w := range wants[1:] {
			if !strings.Contains(wants[0], w) {
				t.Errorf("Salesforce %s Description %q lacks %q", task, wants[0], w)
			}
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
