package logfile_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/crm/logfile"
)

func newHarness(t *testing.T) *crmtest.Harness {
	path := filepath.Join(t.TempDir(), "out", "sms.jsonl")
	c, err := logfile.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &crmtest.Harness{
		Client:     c,
		NoContacts: true,
		Logged: func(tb testing.TB) []crmtest.Logged {
			tb.Helper()
			f, err := os.Open(path)
			if err != nil {
				tb.Fatal(err)
			}
			defer f.Close()
			var out []crmtest.Logged
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var line map[string]string
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					tb.Fatalf("line %q: %v", sc.Text(), err)
				}
				out = append(out, crmtest.Logged{ID: "log:" + line["id"], ContactID: line["contact_id"], Fields: line})
			}
			return out
		},
	}
}

func TestConformance(t *testing.T) { crmtest.Run(t, newHarness) }
