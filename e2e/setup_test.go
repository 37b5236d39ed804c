package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestSetupThenReload runs the binary as an admin would: a server on the built-in HubSpot mapping
// (activity.id_field: auto) logs without an id field; `onoffsync setup` creates onoff_message_id while it
// runs; after POST /admin/reload the next SMS carries its Onoff id in it.
func TestSetupThenReload(t *testing.T) {
	hs := newHubSpot(t, hubspottest.Options{})
	n := newNode(t, config("", hubspotDest("hubspot", hs, "")))
	n.start()
	onoff := newOnoff(webhookKey, n.receiverURL)
	post := func(id string, done int64) {
		t.Helper()
		if code, err := onoff.post(newSMS(id, 1, "text "+marker(id))); code != http.StatusOK {
			t.Fatalf("post %s: %d %v", id, code, err)
		}
		waitFor(t, deliveryTimeout, id+" delivered", func() bool { return n.status().counts("hubspot")["done"] == done })
	}
	post("before-setup", 1)

	out, errOut, code := n.cli("setup", "--destination", "hubspot")
	if code != 0 || strings.Count(out, "onoff_message_id: created") != 2 {
		t.Fatalf("setup: exit %d, %s %s", code, out, errOut)
	}
	resp, err := httpClient.Post(n.adminURL()+"/admin/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	post("after-setup", 2)

	got := map[string]string{}
	for _, c := range hs.Communications() {
		for _, id := range []string{"before-setup", "after-setup"} {
			if strings.Contains(c.Properties["hs_communication_body"], marker(id)) {
				got[id] = c.Properties["onoff_message_id"]
			}
		}
	}
	if got["before-setup"] != "" || got["after-setup"] != "after-setup" {
		t.Errorf("onoff_message_id by SMS %v; want none before setup, after-setup after the reload", got)
	}
}
