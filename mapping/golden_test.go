package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris on machines without zoneinfo

	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// webhook is an Onoff SMS webhook body, as in testdata/events.
type webhook struct {
	ID              string `json:"id"`
	UserName        string `json:"onoffUserName"`
	UserEmail       string `json:"onoffUserEmail"`
	UserNumber      string `json:"onoffUserNumber"`
	ExternalNumber  string `json:"externalNumber"`
	ExternalName    string `json:"externalName"`
	ExternalEmail   string `json:"externalEmail"`
	ExternalCompany string `json:"externalCompany"`
	Date            string `json:"date"`
	Direction       string `json:"smsDirection"`
	Body            string `json:"body"`
}

// readEvent reads a webhook body and normalises it the way the receiver does (default region FR).
func readEvent(tb testing.TB, path string) crm.SMS {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var w webhook
	if err := json.Unmarshal(raw, &w); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	date, err := time.Parse(time.RFC3339, w.Date)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	region := crm.RegionFor(w.UserNumber, "FR")
	return crm.SMS{
		ID: w.ID, Direction: w.Direction, Date: date.UTC(), Body: w.Body,
		UserName: w.UserName, UserEmail: w.UserEmail, UserNumber: crm.ParsePhone(w.UserNumber, region),
		External: crm.ParsePhone(w.ExternalNumber, region), ExternalName: w.ExternalName,
		ExternalEmail: w.ExternalEmail, ExternalCompany: w.ExternalCompany,
	}
}

func readContacts(tb testing.TB) map[string]crm.Contact {
	tb.Helper()
	raw, err := os.ReadFile("testdata/contacts.json")
	if err != nil {
		tb.Fatal(err)
	}
	var cs map[string]crm.Contact
	if err := json.Unmarshal(raw, &cs); err != nil {
		tb.Fatal(err)
	}
	return cs
}

// outcome is everything a built-in mapping makes of one event, as stored in a golden file.
type outcome struct {
	Skip            string
	Queries         []crm.ContactQuery
	NoMatch         string
	NewContact      *crm.NewContact `json:",omitempty"`
	NewContactError string          `json:",omitempty"`
	// Activities by contact case: "none" (no contact), "contact", "lead".
	Activities map[string]crm.Activity
}

func TestGolden(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	contacts := readContacts(t)
	events, err := filepath.Glob("testdata/events/*.json")
	if err != nil || len(events) == 0 {
		t.Fatalf("no events in testdata/events: %v", err)
	}
	for _, crmName := range crmNames {
		m, err := LoadDefault(Options{CRM: crmName, Location: paris})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range events {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			t.Run(crmName+"/"+name, func(t *testing.T) {
				ev := readEvent(t, path)
				got := outcome{Skip: m.Skip(ev), Queries: m.Queries(ev), NoMatch: m.NoMatch(), Activities: map[string]crm.Activity{}}
				if m.NoMatch() == NoMatchCreate {
					nc, err := m.NewContact(ev, "owner-1")
					if err != nil {
						got.NewContactError = err.Error()
					} else {
						got.NewContact = &nc
					}
				}
				cases := map[string]*crm.Contact{"none": nil}
				if crmName != "log" {
					c := contacts["contact"]
					cases["contact"] = &c
				}
				if crmName == "salesforce" {
					l := contacts["lead"]
					cases["lead"] = &l
				}
				for k, c := range cases {
					a, err := m.Apply(ev, c, "owner-1")
					if err != nil {
						t.Fatalf("Apply(%s): %v", k, err)
					}
					got.Activities[k] = a
				}
				checkGolden(t, filepath.Join("testdata", "golden", crmName+"_"+name+".json"), got)
			})
		}
	}
}

// checkGolden compares v, as indented JSON, with the golden file, or rewrites the file under -update.
func checkGolden(tb testing.TB, path string, v any) {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		tb.Fatalf("%s is missing: run go test ./mapping -update", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		tb.Errorf("%s differs (-want +got; run with -update if intended):\n%s", path, diff)
	}
}
