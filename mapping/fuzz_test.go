package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// FuzzApply runs every built-in mapping (and one using every function) over arbitrary event strings: no
// panic, no execution error, and HubSpot bodies never carry markup from the SMS.
func FuzzApply(f *testing.F) {
	f.Add("RECEIVED", "Hello\nthere", "John Doe", "+33612345678", "Jane Smith", "jane@example.com", "Acme")
	f.Add("SENT", "<script>&\"</script>\r\n", "<b>", "06 12 34 56 78", "", "", "")
	f.Add("", "", "", "", "", "", "")
	f.Add("weird", "\xff\xfe", "  ", "AMAZON", "   ", "@", "\x00")
	ms := map[string]*Mapping{}
	for _, c := range crmNames {
		m, err := LoadDefault(Options{CRM: c})
		if err != nil {
			f.Fatal(err)
		}
		ms[c] = m
	}
	every, err := Parse("every.yaml", []byte(`
skip:
  - external_number: ["+33*", "A?AZON"]
    direction: SENT
activity:
  fields:
    text: >-
      {{ e164 .Event.External }} {{ national .Event.ExternalNumber }} {{ e164 .Event.UserNumber.Raw }}
      {{ national .Event.ExternalName }} {{ upper .Event.Body | lower | trim | truncate 7 }}
      {{ default "x" .Event.ExternalCompany }} {{ formatTime "Kitchen" .Event.Date }} {{ richtext .Event.Body }}
      {{ firstName .Event.ExternalName }} {{ lastName .Event.ExternalName | default (national .Event.External) }}
`), Options{CRM: "log", Location: time.FixedZone("X", 3600)})
	if err != nil {
		f.Fatal(err)
	}
	ms["every"] = every
	f.Fuzz(func(t *testing.T, dir, body, userName, external, extName, extEmail, company string) {
		ev := crm.SMS{
			ID: "fuzz", Direction: dir, Date: time.Unix(1716215400, 0).UTC(), Body: body, UserName: userName,
			UserNumber: crm.ParsePhone("+33698765432", ""), External: crm.ParsePhone(external, "FR"),
			ExternalName: extName, ExternalEmail: extEmail, ExternalCompany: company,
		}
		c := &crm.Contact{ID: "1", Kind: crm.KindContact, Name: extName}
		for name, m := range ms {
			_ = m.Skip(ev)
			_ = m.Queries(ev)
			for _, contact := range []*crm.Contact{nil, c} {
				a, err := m.Apply(ev, contact, "")
				if err != nil {
					t.Fatalf("%s: Apply: %v", name, err)
				}
				if name == "hubspot" {
					html := a.Fields["hs_communication_body"]
					for _, tag := range []string{"<b>", "</b>", "<br>"} {
						html = strings.ReplaceAll(html, tag, "")
					}
					if strings.ContainsAny(html, `<>"`) {
						t.Fatalf("hubspot body carries unescaped markup: %q", a.Fields["hs_communication_body"])
					}
				}
			}
			if m.NoMatch() == NoMatchCreate {
				if _, err := m.NewContact(ev, ""); err != nil && !errors.Is(err, ErrNoIdentity) {
					t.Fatalf("%s: NewContact: %v", name, err)
				}
			}
		}
	})
}
