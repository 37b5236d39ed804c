package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestCLI is a smoke test of the commands an operator runs: check on a broken and a good config, version,
// and dead list / status against the data file once the server is stopped.
func TestCLI(t *testing.T) {
	t.Run("check broken config", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		src := "server:\n  listn: \":8080\"\n  api_keys: [\"k\"]\ndestinations:\n  - name: a\n    type: nosuch\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCLI(t, "check", "--config", path)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		all := out + errOut
		for _, want := range []string{path + ":2: server.listn: unknown key", path + ":6: destinations.a.type: unknown destination type"} {
			if !strings.Contains(all, want) {
				t.Errorf("output lacks %q:\n%s", want, all)
			}
		}
		line := regexp.MustCompile(`(?m)^\S+:\d+: [\w.\[\]]+: .+$`)
		if got := len(line.FindAllString(all, -1)); got < 2 {
			t.Errorf("%d lines like file:line: field: problem, want 2:\n%s", got, all)
		}
	})
	t.Run("version", func(t *testing.T) {
		out, errOut, code := runCLI(t, "version")
		if code != 0 || !strings.HasPrefix(out, "onoffsync ") {
			t.Errorf("exit %d, output %q %q", code, out, errOut)
		}
	})
	t.Run("dead list offline", func(t *testing.T) {
		hs := newHubSpot(t, hubspottest.Options{})
		hs.MarkBadProperty(hubIDField) // every activity is refused: a permanent error, the job dies
		n := newNode(t, config("", hubspotDest("hubspot", hs, hubIDField)))
		if out, errOut, code := n.cli("check"); code != 0 || !strings.Contains(out, "configuration OK") {
			t.Fatalf("check on a good config: exit %d: %s %s", code, out, errOut)
		}
		n.start()
		if code, err := newOnoff(webhookKey, n.receiverURL).post(newSMS("doomed-1", 1, "never synced")); code != http.StatusOK {
			t.Fatalf("post: %d %v", code, err)
		}
		waitFor(t, deliveryTimeout, "the job dead", func() bool { return n.status().counts("hubspot")["dead"] == 1 })
		n.stop()

		out, errOut, code := n.cli("dead", "list")
		if code != 0 || !strings.Contains(out, "doomed-1") || !strings.Contains(out, "DESTINATION") {
			t.Errorf("dead list (server stopped): exit %d:\n%s%s", code, out, errOut)
		}
		out, errOut, code = n.cli("status", "--json")
		var st status
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("status --json (server stopped): exit %d:\n%s%s", code, out, errOut)
		}
		if st.Server != "offline" || st.counts("hubspot")["dead"] != 1 {
			t.Errorf("status --json (server stopped): server %q, counts %v; want offline with 1 dead", st.Server, st.counts("hubspot"))
		}
	})
}
