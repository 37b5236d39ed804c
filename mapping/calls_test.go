package mapping

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

func testCall(kind, dir, status string) crm.SMS {
	start := time.Date(2026, 5, 20, 22, 30, 0, 0, time.UTC)
	ev := crm.SMS{ID: "c1", Direction: "RECEIVED", Date: start, Body: "notes", UserName: "Rep", UserEmail: "rep@example.com",
		UserNumber: crm.ParsePhone("+33698765432", ""), External: crm.ParsePhone("+33612345678", "")}
	if dir == crm.Outbound {
		ev.Direction = "SENT"
	}
	ev.Call = &crm.Call{Kind: kind, Direction: dir, Status: status, Started: start, Duration: 65 * time.Second,
		Notes: "notes", Tags: []string{"vip", "lead"}, From: ev.External, To: ev.UserNumber}
	return ev
}

// TestCallsSectionDefaults: every part of calls: defaults to the SMS section's value, except activity.fields,
// which default to the CRM's built-in calls fields; a calls section overrides what it writes.
func TestCallsSectionDefaults(t *testing.T) {
	doc := `
match:
  on_no_match: skip
owner:
  default: "42"
activity:
  id_field: onoff_message_id
  associate_company: true
  fields:
    hs_communication_body: "SMS {{ .Event.Body }}"
`
	m, err := Parse("m.yaml", []byte(doc), Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	call := testCall(crm.CallLog, crm.Inbound, "ANSWERED")
	c := m.For(call)
	if c == m {
		t.Fatal("For(call) returned the SMS section")
	}
	if c.NoMatch() != NoMatchSkip || c.DefaultOwner() != "42" {
		t.Errorf("calls: on_no_match %q default owner %q, want the SMS section's skip and 42", c.NoMatch(), c.DefaultOwner())
	}
	act, err := m.Apply(call, &crm.Contact{ID: "7", Kind: crm.KindContact, CompanyID: "9"}, "42")
	if err != nil {
		t.Fatal(err)
	}
	if act.SourceID != "call:c1" || act.IDField != "onoff_message_id" || act.CompanyID != "9" || act.Call == nil {
		t.Errorf("activity %+v: want id call:c1, the SMS id field, the company, the call", act)
	}
	if _, ok := act.Fields["hs_communication_body"]; ok || act.Fields["hs_call_title"] != "Call from +33612345678" {
		t.Errorf("call fields %v: want the built-in call fields, not the SMS's", act.Fields)
	}
	sms, err := m.Apply(crm.SMS{ID: "c1", Direction: "RECEIVED", Body: "hi"}, nil, "")
	if err != nil || sms.SourceID != "c1" || sms.Fields["hs_communication_body"] != "SMS hi" || sms.Call != nil {
		t.Errorf("SMS activity %+v, %v", sms, err)
	}

	over := doc + `
calls:
  skip:
    - {name: outgoing, direction: OUTBOUND}
  match:
    on_no_match: log_without_contact
  activity:
    id_field: onoff_call_id
    fields:
      hs_call_title: "{{ .Call.Kind }} {{ .Call.Outcome }} {{ .Call.Seconds }}s {{ join \"+\" .Call.Tags }} {{ formatTime \"DateOnly\" .Call.LocalStarted }}"
`
	paris, _ := time.LoadLocation("Europe/Paris")
	m, err = Parse("m.yaml", []byte(over), Options{CRM: "hubspot", Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.For(call).NoMatch(); got != NoMatchLog {
		t.Errorf("calls on_no_match %q, want log_without_contact", got)
	}
	if got := m.NoMatch(); got != NoMatchSkip {
		t.Errorf("SMS on_no_match %q changed by the calls section", got)
	}
	if got := m.For(testCall(crm.CallLog, crm.Outbound, "")).Skip(testCall(crm.CallLog, crm.Outbound, "")); got != "outgoing" {
		t.Errorf("outbound call skip %q, want outgoing", got)
	}
	if got := m.For(call).Skip(call); got != "" {
		t.Errorf("inbound call skipped by %q", got)
	}
	act, err = m.Apply(call, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := act.Fields["hs_call_title"], "CDR answered 65s vip+lead 2026-05-21"; got != want || act.IDField != "onoff_call_id" {
		t.Errorf("title %q id field %q, want %q and onoff_call_id", got, act.IDField, want)
	}
}

func TestCallsSectionErrors(t *testing.T) {
	cases := []struct {
		crm, doc string
		want     []string
	}{
		{"hubspot", "calls:\n  activity:\n    fields:\n      hs_communication_body: x\n      hs_call_status: COMPLETED\n",
			[]string{"m.yaml:4: calls.activity.fields.hs_communication_body: a communications property",
				"m.yaml:5: calls.activity.fields.hs_call_status: set by the adapter"}},
		{"salesforce", "calls:\n  activity:\n    fields:\n      CallType: Inbound\n      Subject: '{{ .Call.Nope }}'\n",
			[]string{"m.yaml:4: calls.activity.fields.CallType: set by the adapter",
				"m.yaml:5: calls.activity.fields.Subject: template: unknown field .Call.Nope"}},
		{"hubspot", "calls:\n  version: 1\n  calls: {}\n", []string{"m.yaml:2: calls.version: not allowed inside calls",
			"m.yaml:3: calls.calls: not allowed inside calls"}},
		{"hubspot", "calls:\n  match:\n    on_no_match: maybe\n", []string{`m.yaml:3: calls.match.on_no_match: "maybe" is not one of`}},
	}
	for _, tc := range cases {
		_, err := Parse("m.yaml", []byte(tc.doc), Options{CRM: tc.crm})
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.doc, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error\n%v\nlacks %q", tc.doc, err, w)
			}
		}
	}
	// A problem of the SMS section the calls section inherits is reported once.
	_, err := Parse("m.yaml", []byte("match:\n  keys: []\n  on_no_match: create\n"), Options{CRM: "hubspot"})
	if err == nil || strings.Count(err.Error(), "create needs at least one match key") != 1 {
		t.Errorf("got %v, want the inherited problem once", err)
	}
}

// TestBuiltinCallFields renders each built-in calls section for a call with an unknown status: the raw
// status is in the text, and templates see .Call.
func TestBuiltinCallFields(t *testing.T) {
	for crmName, field := range map[string]string{"hubspot": "hs_call_body", "salesforce": "Description", "log": "status"} {
		m, err := LoadDefault(Options{CRM: crmName})
		if err != nil {
			t.Fatal(err)
		}
		act, err := m.Apply(testCall(crm.CallRecording, crm.Inbound, "TRANSFERRED"), nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(act.Fields[field], "TRANSFERRED") {
			t.Errorf("%s: %s = %q, want the unknown status in it", crmName, field, act.Fields[field])
		}
		if crmName == "salesforce" && act.Fields["ActivityDate"] != "2026-05-20" {
			t.Errorf("salesforce ActivityDate %q, want the call's day (UTC here)", act.Fields["ActivityDate"])
		}
	}
}

// TestFormatCallsExample keeps FORMAT.md's calls example true: it parses for HubSpot and does what it says.
func TestFormatCallsExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### calls")
	if !ok {
		t.Fatal("FORMAT.md has no calls section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("FORMAT.md's calls section has no YAML block")
	}
	m, err := Parse("FORMAT.md", []byte(example), Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	call := testCall(crm.CallVoicemail, crm.Inbound, "MISSED")
	if m.For(call).NoMatch() != NoMatchLog || m.NoMatch() != NoMatchCreate {
		t.Errorf("on_no_match calls %q SMS %q, want log_without_contact and create", m.For(call).NoMatch(), m.NoMatch())
	}
	a, err := m.Apply(call, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Fields["hs_call_title"] != "Voicemail 06 12 34 56 78" || a.Fields["hs_call_body"] != "notes<br>Tags: vip, lead" {
		t.Errorf("fields %v", a.Fields)
	}
}
