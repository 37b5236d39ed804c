package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// TestOutage makes the CRMs fail for a while. The SMS arrive while both destinations are paused on rejected
// credentials (nothing is attempted); after a restart with the right ones, the loop claims them all in one
// batch, and HubSpot answers that batch 503 twice, slowly, then a storm of 429s; Salesforce answers 503.
// Everything is delivered once after recovery and no job dies although sync.max_attempts is 3 and max_age
// 1s: a 429 is not the job's fault and must not count as an attempt (were it counted, every job would die).
func TestOutage(t *testing.T) {
	total := 100 // one HubSpot batch
	if testing.Short() {
		total = 40
	}
	const (
		outages = 2 // 503s per CRM
		storm   = 4 // 429s on HubSpot after the 503s
	)
	hs := newHubSpot(t, hubspottest.Options{})
	sf := newSalesforce(t)
	tmpl := func(hubTok, sfSec string) string {
		return strings.NewReplacer(hubToken, hubTok, sfSecret, sfSec).Replace(
			config("sync:\n  max_attempts: 3\n  max_age: 1s\n  backoff_base: 200ms\n  backoff_cap: 1s\n",
				hubspotDest("hubspot", hs, hubIDField), salesforceDest("salesforce", sf)))
	}
	n := newNode(t, tmpl("pat-revoked", "wrong-secret"))
	n.start()
	o := newOnoff(webhookKey, n.receiverURL)
	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("outage-%04d", i)
		if code, err := o.post(newSMS(ids[i], i, "during an outage")); code != http.StatusOK {
			t.Fatalf("%s: got %d %v, want 200 (the receiver never waits for the CRM)", ids[i], code, err)
		}
	}
	waitFor(t, deliveryTimeout, "both destinations paused on bad credentials", func() bool {
		st := n.status()
		for _, d := range st.Destinations {
			if d.Live == nil || !d.Live.Paused {
				return false
			}
		}
		return true
	})
	if st := n.status(); st.counts("hubspot")["pending"] != int64(total) || st.counts("salesforce")["pending"] != int64(total) {
		t.Fatalf("paused destinations: counts %v and %v, want %d pending each", st.counts("hubspot"), st.counts("salesforce"), total)
	}

	unavailable := `{"status":"error","message":"Service Unavailable","correlationId":"c0ffee00-0000-4000-8000-00000000503a","category":"INTERNAL_ERROR"}`
	hs.Fail(hubspottest.CommsBatchCreate, outages, http.StatusServiceUnavailable, unavailable)
	// HubSpot's 429 body without a policy name: the adapter waits a second each time.
	rateLimited := `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c0ffee00-0000-4000-8000-00000000429a"}`
	hs.Fail(hubspottest.CommsBatchCreate, storm, http.StatusTooManyRequests, rateLimited)
	hs.SetLatency(hubspottest.CommsBatchCreate, 500*time.Millisecond) // a slow CRM throughout
	sf.FailNext(salesforcetest.EndpointCollectionUpsert, salesforcetest.Fault{Times: outages, Status: http.StatusServiceUnavailable,
		Body: `[{"message":"Server Unavailable","errorCode":"SERVER_UNAVAILABLE"}]`})
	n.stop()
	n.setConfig(tmpl(hubToken, sfSecret))
	n.start()

	waitFor(t, deliveryTimeout, "every SMS in both CRMs", func() bool {
		for _, d := range n.status().Destinations {
			if d.Counts["dead"] > 0 {
				t.Fatalf("%s: %d jobs died during the outage: %v", d.Name, d.Counts["dead"], d.Counts)
			}
		}
		return len(missing(ids, hubspotIDs(hs, hubIDField))) == 0 && len(missing(ids, salesforceIDs(sf))) == 0
	})
	st := n.waitSettled(deliveryTimeout)
	for name, got := range map[string]map[string]int{"hubspot": hubspotIDs(hs, hubIDField), "salesforce": salesforceIDs(sf)} {
		if d := duplicates(got); d != 0 {
			t.Errorf("%s: %d duplicates, want 0", name, d)
		}
		if c := st.counts(name); c["dead"] != 0 || c["done"] != int64(total) {
			t.Errorf("%s: job counts %v, want %d done and none dead (429s must not count as attempts)", name, c, total)
		}
	}
	// The faults were all served: the loop went through the outage and the storm, not around them.
	if got, min := hs.Calls(hubspottest.CommsBatchCreate), outages+storm+1; got < min {
		t.Errorf("HubSpot batch creates = %d, want at least %d (faults not all served)", got, min)
	}
	if got := sf.Calls(salesforcetest.EndpointCollectionUpsert); got < outages+1 {
		t.Errorf("Salesforce upserts = %d, want at least %d", got, outages+1)
	}
	// The CLI sees the same, through the running server's admin API.
	out, errOut, code := n.cli("status", "--json")
	if code != 0 {
		t.Fatalf("onoffsync status --json: exit %d: %s", code, errOut)
	}
	var cliSt status
	if err := jsonUnmarshal(out, &cliSt); err != nil || cliSt.Server != "running" {
		t.Errorf("status --json: %v, server %q, want running:\n%s", err, cliSt.Server, out)
	}
	for _, name := range []string{"hubspot", "salesforce"} {
		if c := cliSt.counts(name); c["dead"] != 0 || c["done"] != int64(total) {
			t.Errorf("status --json %s: %v, want %d done", name, c, total)
		}
	}
	// Rate-limit waits are counted apart from attempts.
	code, body, err := n.adminGet("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	if waits := metric(string(body), `onoffsync_rate_limit_waits_total{destination="hubspot"}`); waits < 1 {
		t.Errorf("onoffsync_rate_limit_waits_total{hubspot} = %v, want >= 1 after %d 429s", waits, storm)
	}
	t.Logf("HubSpot batch creates %d (%d faults), Salesforce upserts %d (%d faults)", hs.Calls(hubspottest.CommsBatchCreate),
		outages+storm, sf.Calls(salesforcetest.EndpointCollectionUpsert), outages)
}

// metric reads one sample of the Prometheus text exposition (0 when absent).
func metric(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
