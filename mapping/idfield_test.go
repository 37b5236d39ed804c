package mapping

import (
	"testing"

	"github.com/onoffsync/onoffsync/crm"
)

// TestIDFieldAuto: the built-in HubSpot and Salesforce mappings say auto; until resolved an activity carries no
// id field; resolving gives each section its own answer, and a section naming a field keeps it.
func TestIDFieldAuto(t *testing.T) {
	sms := crm.SMS{ID: "s1", Direction: "RECEIVED", Body: "hi", External: crm.ParsePhone("+33612345678", "")}
	call := testCall(crm.CallLog, crm.Inbound, "ANSWERED")
	for _, name := range []string{"hubspot", "salesforce"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadDefault(Options{CRM: name})
			if err != nil {
				t.Fatal(err)
			}
			if !m.IDFieldAuto() {
				t.Fatalf("built-in %s: IDFieldAuto false, want true", name)
			}
			for _, ev := range []crm.SMS{sms, call} {
				a, err := m.Apply(ev, nil, "")
				if err != nil || a.IDField != "" || a.IDFieldUnique {
					t.Errorf("unresolved %s: IDField %q unique %v (%v), want none", a.SourceID, a.IDField, a.IDFieldUnique, err)
				}
			}
			r := m.ResolveIDField(crm.IDFieldStatus{SMS: "sms_id", SMSUnique: true, Call: "call_id"})
			if a, _ := r.Apply(sms, nil, ""); a.IDField != "sms_id" || !a.IDFieldUnique {
				t.Errorf("resolved SMS: IDField %q unique %v, want sms_id true", a.IDField, a.IDFieldUnique)
			}
			if a, _ := r.Apply(call, nil, ""); a.IDField != "call_id" || a.IDFieldUnique {
				t.Errorf("resolved call: IDField %q unique %v, want call_id false", a.IDField, a.IDFieldUnique)
			}
			if a, _ := m.Apply(sms, nil, ""); a.IDField != "" {
				t.Errorf("ResolveIDField changed the original: IDField %q", a.IDField)
			}
			none := m.ResolveIDField(crm.IDFieldStatus{SMSUnique: true})
			if a, _ := none.Apply(sms, nil, ""); a.IDField != "" || a.IDFieldUnique {
				t.Errorf("resolved to none: IDField %q unique %v", a.IDField, a.IDFieldUnique)
			}
		})
	}

	named, err := Parse("m.yaml", []byte("activity:\n  id_field: auto\ncalls:\n  activity:\n    id_field: onoff_call_id\n"), Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	r := named.ResolveIDField(crm.IDFieldStatus{SMS: "onoff_message_id", Call: "onoff_message_id"})
	if a, _ := r.Apply(call, nil, ""); a.IDField != "onoff_call_id" {
		t.Errorf("calls section naming its field: IDField %q, want onoff_call_id", a.IDField)
	}
	off, err := Parse("m.yaml", []byte("activity:\n  id_field: \"\"\n"), Options{CRM: "salesforce"})
	if err != nil {
		t.Fatal(err)
	}
	if off.IDFieldAuto() {
		t.Errorf(`id_field "": IDFieldAuto true, want false`)
	}
}
