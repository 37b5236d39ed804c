package mapping

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestFormatParkExample keeps FORMAT.md's parking example true: it parses for both CRMs with the values its
// comments and text give.
func TestFormatParkExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### Parking unmatched SMS")
	if !ok {
		t.Fatal("FORMAT.md has no parking section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("FORMAT.md's parking section has no YAML block")
	}
	for _, crmName := range []string{"hubspot", "salesforce"} {
		m, err := Parse("FORMAT.md", []byte(example), Options{CRM: crmName})
		if err != nil {
			t.Fatalf("%s: %v", crmName, err)
		}
		if m.NoMatch() != NoMatchPark || m.ParkRecheck() != 30*time.Minute || m.ParkFor() != 72*time.Hour || m.ParkThen() != NoMatchLog {
			t.Errorf("%s: park %s every %v for %v then %s; want park every 30m for 72h then log_without_contact",
				crmName, m.NoMatch(), m.ParkRecheck(), m.ParkFor(), m.ParkThen())
		}
	}
	for _, says := range []string{"`park_recheck` | `1h`", "`park_for` | `168h`", "`park_then` | `log_without_contact`"} {
		if !strings.Contains(string(doc), "| `match."+strings.TrimPrefix(says, "`")) {
			t.Errorf("FORMAT.md's key table lacks %s", says)
		}
	}
	m, err := LoadDefault(Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	if m.ParkRecheck() != time.Hour || m.ParkFor() != 168*time.Hour || m.ParkThen() != NoMatchLog {
		t.Errorf("built-in park defaults %v, %v, %s; want what FORMAT.md says (1h, 168h, log_without_contact)", m.ParkRecheck(), m.ParkFor(), m.ParkThen())
	}
}
