package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// Credentials of the fakes. They double as secrets the logs must never show (TestSecrets).
const (
	webhookKey = "whk-e2e-SECRET-7f3a9c"
	hubToken   = "pat-e2e-SECRET-41b2d8"
	sfClientID = "3MVG9e2e.consumer"
	sfSecret   = "sfsec-e2e-SECRET-0c5e11"
	hubIDField = "onoff_message_id"
	sfIDField  = "Onoff_Message_Id__c"
)

// newHubSpot starts a fake HubSpot (real clock) with the agent as owner and every test contact, visible to
// search at once. Options not set get e2e-friendly defaults: generous rate limits, a 1s search lag (below
// the destination's index_lag of 2s).
func newHubSpot(tb testing.TB, opts hubspottest.Options) *hubspottest.Server {
	tb.Helper()
	if opts.Tokens == nil {
		opts.Tokens = []string{hubToken}
	}
	if opts.MaxPer10s == 0 {
		opts.MaxPer10s = 2000
	}
	if opts.SearchPerSecond == 0 {
		opts.SearchPerSecond = -1
	}
	if opts.SearchLag == 0 {
		opts.SearchLag = 1e9
	}
	hs := hubspottest.New(opts)
	tb.Cleanup(hs.Close)
	hs.SeedOwner(hubspottest.Owner{Email: agentEmail, FirstName: "Agent", LastName: "E2E"})
	for i := range contactPhones {
		hs.SeedContact(map[string]string{"phone": contactPhone(i), "firstname": "Client", "lastname": fmt.Sprint(i)})
	}
	hs.Settle()
	return hs
}

// newSalesforce starts a fake Salesforce org (real clock) accepting the client credentials, with the
// external-ID field on Task, the agent as user and every test contact.
func newSalesforce(tb testing.TB) *salesforcetest.Server {
	tb.Helper()
	sf := salesforcetest.New(salesforcetest.Options{ClientID: sfClientID, ClientSecret: sfSecret, TaskIDField: sfIDField})
	tb.Cleanup(sf.Close)
	sf.SeedUser(agentEmail, true)
	for i := range contactPhones {
		sf.SeedContact(salesforcetest.Person{FirstName: "Client", LastName: fmt.Sprint(i), Phone: contactPhone(i)})
	}
	return sf
}

// hubspotDest is a HubSpot destination block pointing at hs; idField "" leaves the activity without an
// idempotency property.
func hubspotDest(name string, hs *hubspottest.Server, idField string) string {
	mapping := "{}"
	if idField != "" {
		mapping = fmt.Sprintf("{activity: {id_field: %s}}", idField)
	}
	return fmt.Sprintf(`  - name: %s
    type: hubspot
    base_url: %s
    token: %s
    requests_per_10s: 1000
    search_per_second: 50
    index_lag: 2s
    mapping: %s
`, name, hs.URL, hubToken, mapping)
}

// salesforceDest is a Salesforce destination block pointing at sf, upserting Tasks on the external-ID field.
func salesforceDest(name string, sf *salesforcetest.Server) string {
	return fmt.Sprintf(`  - name: %s
    type: salesforce
    login_url: %s
    auth: client_credentials
    client_id: %s
    client_secret: %s
    requests_per_second: 200
    mapping: {activity: {id_field: %s}}
`, name, sf.URL(), sfClientID, sfSecret, sfIDField)
}

// config is a full config template: receiver and admin on loopback port 0, the data file in the config's
// folder, fast retries, extra top-level YAML, and the destination blocks.
func config(extra string, dests ...string) string {
	if !strings.Contains(extra, "sync:") {
		extra += "\nsync:\n  backoff_base: 200ms\n  backoff_cap: 2s\n"
	}
	s := fmt.Sprintf(`server:
  listen: "127.0.0.1:0"
  api_keys: ["%s"]
admin:
  listen: "%s"
store:
  path: ./data/onoffsync.db
%s
destinations:
`, webhookKey, adminPlaceholder, extra)
	for _, d := range dests {
		s += d
	}
	return s
}

// hubspotIDs counts the communications of hs by the value of property (the id field), or, when property is
// "", by the id marker in their body.
func hubspotIDs(hs *hubspottest.Server, property string) map[string]int {
	comms := hs.Communications()
	if property != "" {
		out := map[string]int{}
		for _, c := range comms {
			if v := c.Properties[property]; v != "" {
				out[v]++
			}
		}
		return out
	}
	bodies := make([]string, len(comms))
	for i, c := range comms {
		bodies[i] = c.Properties["hs_communication_body"]
	}
	return markedIDs(bodies)
}

// salesforceIDs counts the Tasks of sf by external id.
func salesforceIDs(sf *salesforcetest.Server) map[string]int {
	out := map[string]int{}
	for _, t := range sf.Tasks() {
		if v, ok := t.Fields[sfIDField]; ok && v != nil {
			out[fmt.Sprint(v)]++
		}
	}
	return out
}
