package mapping

import (
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

func BenchmarkApply(b *testing.B) {
	ev := readEvent(b, "testdata/events/html_newlines.json")
	c := readContacts(b)["contact"]
	for _, name := range crmNames {
		m, err := LoadDefault(Options{CRM: name})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Apply(ev, &c, "1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := Default("salesforce")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("salesforce.yaml", data, Options{CRM: "salesforce"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSkipQueriesPick(b *testing.B) {
	m := mustParse(b, "salesforce", `
skip:
  - external_number: ["+33612345*", "+4477*"]
    direction: SENT
  - user_email: ["*@support.example.com"]
  - external_number: ["AMAZON", "3617?"]
`)
	ev := readEvent(b, "testdata/events/received_named.json")
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	cs := []crm.Contact{{ID: "l", Kind: crm.KindLead, LastModified: t0.Add(time.Hour)}, {ID: "c", Kind: crm.KindContact, LastModified: t0}}
	b.ReportAllocs()
	for b.Loop() {
		if m.Skip(ev) != "" || len(m.Queries(ev)) != 2 || m.Pick(cs).ID != "c" {
			b.Fatal("unexpected result")
		}
	}
}
