package logfile_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
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

func activities(ids ...string) []crm.Activity {
	acts := make([]crm.Activity, len(ids))
	for i, id := range ids {
		acts[i] = crm.Activity{SourceID: id, Timestamp: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			Fields: map[string]string{"body": "hello " + id}}
	}
	return acts
}

// readIDs returns the id of every line of the file at path, failing on a line that is not a JSON object.
func readIDs(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]string
		if !strings.HasSuffix(line, "\n") || json.Unmarshal([]byte(line), &rec) != nil {
			tb.Fatalf("line %q is not a whole JSON record", line)
		}
		ids = append(ids, rec["id"])
	}
	return ids
}

// TestRecoversAfterFullDisk points the output at /dev/full (every write fails with ENOSPC), then at a real
// file: the failed batch is retryable, and the retry goes through once there is room, without a restart.
func TestRecoversAfterFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	dir := t.TempDir()
	path, real := filepath.Join(dir, "sms.jsonl"), filepath.Join(dir, "real.jsonl")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	c, err := logfile.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	_, err = c.LogActivities(ctx, activities("a", "b"))
	if got := crm.Classify(err); got == nil || got.Action != crm.Retry {
		t.Fatalf("LogActivities on a full disk: %v, want a retryable error", err)
	}
	// the disk has room again
	if err := os.WriteFile(real, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LogActivities(ctx, activities("a", "b")); err != nil {
		t.Fatalf("LogActivities after the disk has room: %v", err)
	}
	if got, want := readIDs(t, real), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}

func TestUpdateContactsWritesARecord(t *testing.T) {
	var out strings.Builder
	c, err := logfile.New("-", &out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.UpdateContacts(context.Background(), []crm.ContactUpdate{{ContactID: "c1", Kind: crm.KindContact,
		Fields: map[string]string{"sms_opt_out": "true"}}})
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].ID != "c1" {
		t.Fatalf("UpdateContacts: %+v, %v", res, err)
	}
	want := `{"contact_update":"c1","fields":{"sms_opt_out":"true"},"kind":"contact"}` + "\n"
	if got := out.String(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
