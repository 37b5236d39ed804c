package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// TestSecrets checks that the webhook key, the HubSpot token, the Salesforce client secret and the admin token
// never appear in the logs (at debug level, with CRM errors on the way) nor in the status and admin output,
// and that SMS bodies never appear in the logs at info level.
func TestSecrets(t *testing.T) {
	const adminToken = "adm-e2e-SECRET-93d0aa"
	hs := newHubSpot(t, hubspottest.Options{})
	sf := newSalesforce(t)
	secrets := []string{webhookKey, hubToken, sfSecret, adminToken}
	tmpl := func(level string) string {
		c := config("log:\n  level: "+level+"\n", hubspotDest("hubspot", hs, hubIDField), salesforceDest("salesforce", sf))
		return strings.Replace(c, "admin:\n", "admin:\n  token: "+adminToken+"\n", 1)
	}
	n := newNode(t, tmpl("debug"))

	// Errors on the way, so error paths log too.
	hs.Fail(hubspottest.CommsBatchCreate, 1, http.StatusServiceUnavailable, "")
	hs.Fail(hubspottest.ContactsSearch, 1, http.StatusBadGateway, "")
	sf.FailNext(salesforcetest.EndpointCollectionUpsert, salesforcetest.Fault{Times: 3, Status: http.StatusInternalServerError,
		Body: `[{"message":"An unexpected error occurred","errorCode":"UNKNOWN_EXCEPTION"}]`})

	send := func(prefix string, count int) []string {
		o := newOnoff(webhookKey, n.receiverURL)
		var ids []string
		for i := range count {
			id := fmt.Sprintf("%s-%02d", prefix, i)
			ids = append(ids, id)
			if code, err := o.post(newSMS(id, i, bodyText(id))); code != http.StatusOK {
				t.Fatalf("%s: %d %v", id, code, err)
			}
		}
		// A quarantined one and a refused one, whose bodies must not be logged either.
		postRaw(t, n.receiverURL(), webhookKey, "POST", []byte(`{"id":"`+prefix+`-q","smsDirection":"SENT","externalNumber":"0612000001","body":"`+bodyText(prefix+"-q")+`"}`))
		postRaw(t, n.receiverURL(), "bad-key", "POST", newSMS(prefix+"-refused", 1, bodyText(prefix+"-refused")))
		waitFor(t, deliveryTimeout, "every SMS in both CRMs", func() bool {
			return len(missing(ids, hubspotIDs(hs, hubIDField))) == 0 && len(missing(ids, salesforceIDs(sf))) == 0
		})
		return ids
	}

	n.start()
	send("debug", 10)
	status, errOut, code := n.cli("status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, errOut)
	}
	outputs := map[string]string{"status --json": status + errOut}
	for _, p := range []string{"/admin/status", "/metrics", "/admin/dead", "/admin/quarantine"} {
		outputs["GET "+p] = adminGetAuth(t, n, p, adminToken)
	}
	if code, _, _ := n.adminGet("/admin/status"); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/status without the admin token: %d, want 401", code)
	}
	n.stop()
	outputs["log at debug"] = n.logText()
	debugLog := len(outputs["log at debug"])

	n.setConfig(tmpl("info"))
	hs.Fail(hubspottest.CommsBatchCreate, 1, http.StatusServiceUnavailable, "")
	n.start()
	send("info", 10)
	n.stop()
	infoLog := n.logText()[debugLog:]
	outputs["log at info"] = infoLog

	for where, text := range outputs {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q", where, s)
			}
		}
	}
	if strings.Contains(infoLog, "BODYTEXT") {
		i := strings.Index(infoLog, "BODYTEXT")
		t.Errorf("the log at info level shows an SMS body: ...%s...", infoLog[max(0, i-200):min(len(infoLog), i+50)])
	}
	if !strings.Contains(outputs["log at debug"], "level=") || !strings.Contains(infoLog, "level=INFO") {
		t.Errorf("no structured log lines captured; the check above proves nothing")
	}
}

// bodyText is an SMS text that the logs must not show at info level.
func bodyText(id string) string { return "BODYTEXT private message " + id }

// adminGetAuth GETs an admin path with the bearer token and returns the body.
func adminGetAuth(tb testing.TB, n *node, path, token string) string {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.adminURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("GET %s: %d %s", path, resp.StatusCode, b.String())
	}
	return b.String()
}
