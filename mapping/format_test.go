package mapping

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// TestFormatExample keeps FORMAT.md's worked example true: it parses, and renders what the text says.
func TestFormatExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Worked example")
	if !ok {
		t.Fatal("FORMAT.md has no worked example")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("FORMAT.md's worked example has no YAML block")
	}
	m, err := Parse("FORMAT.md", []byte(example), Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	ev := crm.SMS{ID: "1", Direction: "RECEIVED", Date: time.Date(2024, 5, 20, 9, 0, 0, 0, time.UTC), Body: "Hi <you>",
		External: crm.ParsePhone("+33612345678", ""), UserNumber: crm.ParsePhone("+33698765432", "")}
	a, err := m.Apply(ev, &crm.Contact{ID: "1", Kind: crm.KindContact, FirstName: "Jane", CompanyID: "9"}, "41629779")
	if err != nil {
		t.Fatal(err)
	}
	want := "`hs_communication_body` = `" + a.Fields["hs_communication_body"] + "`"
	if !strings.Contains(strings.ReplaceAll(string(doc), "\n", " "), want) {
		t.Errorf("FORMAT.md does not say %s", want)
	}
	if a.CompanyID != "9" || a.IDField != "onoff_message_id" || !a.IDFieldUnique {
		t.Errorf("activity = %+v, want company 9 and the unique id field", a)
	}
	if got := m.Skip(crm.SMS{External: crm.ParsePhone("+33612345600", "")}); got != "colleagues" {
		t.Errorf("Skip = %q, want colleagues", got)
	}
	if m.NoMatch() != NoMatchLog || !m.OwnerFromUserEmail() || len(m.Queries(crm.SMS{External: ev.External, ExternalEmail: "a@b.fr"})) != 2 {
		t.Error("the example's inherited keys are not the built-in's")
	}
}
