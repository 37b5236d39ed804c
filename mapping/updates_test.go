package mapping

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
)

const updatesYAML = `
contact_updates:
  - name: opt-out
    when:
      keywords: [STOP, STOP SMS, ARRET, UNSUBSCRIBE]
      direction: RECEIVED
    set:
      sms_opt_out: "true"
  - set:
      last_sms_date: '{{ formatTime "RFC3339" .Event.Date }}'
      last_sms_direction: "{{ .Event.Direction }}"
  - name: support line
    when:
      user_email: ["support@*"]
    set:
      last_sms_direction: "support {{ .Event.Direction }}"
      empty_is_left_out: "{{ .Event.ExternalCompany }}"
`

func TestContactUpdates(t *testing.T) {
	m := mustParse(t, "hubspot", updatesYAML)
	date := time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC)
	c := &crm.Contact{ID: "c1", Kind: crm.KindContact}
	sms := func(dir, body, userEmail string) crm.SMS {
		return crm.SMS{ID: "s1", Direction: dir, Body: body, Date: date, UserEmail: userEmail,
			External: crm.ParsePhone("+33612345678", "")}
	}
	last := map[string]string{"last_sms_date": "2026-05-20T14:00:00Z", "last_sms_direction": "RECEIVED"}
	optOut := map[string]string{"sms_opt_out": "true", "last_sms_date": "2026-05-20T14:00:00Z", "last_sms_direction": "RECEIVED"}
	unnamed := "contact_updates[1] (test.yaml:9)"
	tests := []struct {
		name   string
		ev     crm.SMS
		c      *crm.Contact
		want   map[string]string
		wantBy []string
	}{
		{"STOP", sms("RECEIVED", "STOP", ""), c, optOut, []string{"opt-out", unnamed}},
		{"trimmed, any case", sms("RECEIVED", "Stop ", ""), c, optOut, []string{"opt-out", unnamed}},
		{"accents folded", sms("RECEIVED", "arrêt", ""), c, optOut, []string{"opt-out", unnamed}},
		{"decomposed accent", sms("RECEIVED", "arre\u0302t\n", ""), c, optOut, []string{"opt-out", unnamed}},
		{"two words", sms("RECEIVED", "stop sms", ""), c, optOut, []string{"opt-out", unnamed}},
		{"the whole body, not a word of it", sms("RECEIVED", "please stop", ""), c, last, []string{unnamed}},
		{"keyword sent by the user is not an opt-out", sms("SENT", "STOP", ""),
			c, map[string]string{"last_sms_date": "2026-05-20T14:00:00Z", "last_sms_direction": "SENT"}, []string{unnamed}},
		{"later rule wins a field", sms("SENT", "hi", "support@example.com"), c,
			map[string]string{"last_sms_date": "2026-05-20T14:00:00Z", "last_sms_direction": "support SENT"},
			[]string{unnamed, "support line"}},
		{"no contact", sms("RECEIVED", "STOP", ""), nil, nil, nil},
		{"a call", crm.SMS{ID: "k", Direction: "RECEIVED", Body: "STOP", Call: &crm.Call{}}, c, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, by, err := m.ContactUpdates(tt.ev, tt.c, "")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBy, by); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
	if !m.HasContactUpdates() {
		t.Error("HasContactUpdates() = false, want true")
	}
	if mustParse(t, "hubspot", "").HasContactUpdates() {
		t.Error("the built-in mapping has contact updates, want none (they are commented examples)")
	}
	wantFields := []UpdateField{
		{Name: "sms_opt_out", File: "test.yaml", Line: 8, Field: "contact_updates[0].set.sms_opt_out"},
		{Name: "last_sms_date", File: "test.yaml", Line: 10, Field: "contact_updates[1].set.last_sms_date"},
		{Name: "last_sms_direction", File: "test.yaml", Line: 11, Field: "contact_updates[1].set.last_sms_direction"},
		{Name: "last_sms_direction", File: "test.yaml", Line: 16, Field: "contact_updates[2].set.last_sms_direction"},
		{Name: "empty_is_left_out", File: "test.yaml", Line: 17, Field: "contact_updates[2].set.empty_is_left_out"},
	}
	if diff := cmp.Diff(wantFields, m.UpdateFields()); diff != "" {
		t.Errorf("UpdateFields (-want +got):\n%s", diff)
	}
}

func TestContactUpdatesErrors(t *testing.T) {
	tests := []struct {
		name string
		crm  string
		yaml string
		want []string
	}{
		{
			name: "shapes",
			crm:  "hubspot",
			yaml: `contact_updates:
  - name: no set
    when: {keywords: [STOP]}
  - when: {keywords: [], direction: UP, body: STOP}
    set: {}
  - set: {Bad-Name: x, hs_object_id: "1", ok_field: "{{ .Event.Nope }}"}
  - when: {keywords: ["  "]}
    set: {a: b}
`,
			want: []string{
				`m.yaml:2: contact_updates[0].set: required: the contact fields the rule sets (field: template)`,
				`m.yaml:4: contact_updates[1].when.keywords: an empty list matches no SMS: list keywords, or leave keywords out`,
				`m.yaml:4: contact_updates[1].when.direction: "UP" is not one of SENT, RECEIVED, INBOUND, OUTBOUND`,
				`m.yaml:4: contact_updates[1].when.body: unknown key "body" (want one of direction, external_number, keywords, user_email, user_number)`,
				`m.yaml:5: contact_updates[1].set: sets nothing: name at least one contact field`,
				`m.yaml:6: contact_updates[2].set.ok_field: template: unknown field .Event.Nope (known: ID, Direction, Sent, Received, Date, LocalDate, Body, UserName, UserEmail, UserNumber, External, ExternalNumber, ExternalName, ExternalEmail, ExternalCompany)`,
				`m.yaml:6: contact_updates[2].set.Bad-Name: "Bad-Name" is not a valid hubspot field name`,
				`m.yaml:6: contact_updates[2].set.hs_object_id: the record's id cannot be set`,
				`m.yaml:7: contact_updates[3].when.keywords[0]: empty keyword`,
			},
		},
		{
			name: "not a list",
			crm:  "salesforce",
			yaml: "contact_updates: {set: {SMS_Opt_Out__c: 'true'}}\n",
			want: []string{`m.yaml:1: contact_updates: want a list of rules (name, when, set)`},
		},
		{
			name: "inside calls",
			crm:  "hubspot",
			yaml: "calls:\n  contact_updates:\n    - set: {a: b}\n",
			want: []string{`m.yaml:2: calls.contact_updates: contact updates follow SMS only: write them at the top level`},
		},
		{
			name: "custom fields are accepted offline",
			crm:  "salesforce",
			yaml: "contact_updates:\n  - when: {keywords: [STOP]}\n    set: {SMS_Opt_Out__c: 'true', HasOptedOutOfEmail: 'true'}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.yaml), Options{CRM: tt.crm})
			if diff := cmp.Diff(tt.want, problemLines(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultContactUpdateExamples keeps the built-in mappings' commented contact_updates examples valid:
// uncommented, they parse for their CRM and flag STOP.
func TestDefaultContactUpdateExamples(t *testing.T) {
	for _, name := range []string{"hubspot", "salesforce"} {
		t.Run(name, func(t *testing.T) {
			data, err := Default(name)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, ok := strings.Cut(string(data), "\n# contact_updates:\n")
			example, _, ok2 := strings.Cut(rest, "\ncontact_updates: []")
			if !ok || !ok2 {
				t.Fatal("no commented contact_updates example")
			}
			doc := "contact_updates:\n"
			for _, line := range strings.Split(example, "\n") {
				doc += strings.TrimPrefix(line, "# ") + "\n"
			}
			m, err := Parse(name+".yaml", []byte(doc), Options{CRM: name})
			if err != nil {
				t.Fatalf("the example does not parse:\n%s\n%v", doc, err)
			}
			fields, rules, err := m.ContactUpdates(crm.SMS{ID: "1", Direction: "RECEIVED", Body: " Arrêt ",
				Date: time.Date(2026, 5, 20, 14, 0, 0, 0, time.UTC)}, &crm.Contact{ID: "c"}, "")
			if err != nil || len(rules) != 2 || len(fields) != 3 {
				t.Errorf("ContactUpdates = %v %v %v, want the opt-out and the last-SMS rules' 3 fields", fields, rules, err)
			}
		})
	}
}

// TestFormatContactUpdatesExample keeps FORMAT.md's contact_updates example true: it parses, and sets what
// the text says.
func TestFormatContactUpdatesExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### contact_updates\n")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	example, text, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("FORMAT.md has no contact_updates example")
	}
	text, _, _ = strings.Cut(text, "##")
	text = strings.ReplaceAll(text, "\n", " ")
	m, err := Parse("FORMAT.md", []byte(example), Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	c := &crm.Contact{ID: "1", Kind: crm.KindContact}
	at := time.Date(2024, 5, 20, 9, 0, 0, 0, time.UTC)
	stop, _, err := m.ContactUpdates(crm.SMS{ID: "1", Direction: "RECEIVED", Date: at, Body: "Arrêt "}, c, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sms_opt_out", "last_sms_date", "last_sms_direction"} {
		if want := "`" + k + "` = `" + stop[k] + "`"; stop[k] == "" || !strings.Contains(text, want) {
			t.Errorf("FORMAT.md does not say %s", want)
		}
	}
	other, _, _ := m.ContactUpdates(crm.SMS{ID: "2", Direction: "RECEIVED", Date: at, Body: "Stop calling me at work"}, c, "")
	if _, ok := other["sms_opt_out"]; ok || len(other) != 2 || !strings.Contains(text, "`Stop calling me at work` gets only the last two") {
		t.Errorf("a sentence starting with stop sets %v, want the last two fields only, as FORMAT.md says", other)
	}
}
