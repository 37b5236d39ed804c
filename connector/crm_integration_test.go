package connector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
	"github.com/onoffsync/onoffsync/store"
)

// TestTwoQuickSMSFromANewNumberCreateOneRecord drives the real adapters against their fakes, whose search
// index lags an hour behind writes: the second SMS from a number the first one made a contact (HubSpot) or
// Lead (Salesforce) for must find it in the loop's cache, not create another, even in a later batch.
func TestTwoQuickSMSFromANewNumberCreateOneRecord(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{SearchLag: time.Hour, MaxPer10s: -1, SearchPerSecond: -1})
	defer hs.Close()
	sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret", IndexLag: time.Hour})
	defer sf.Close()
	dests := fmt.Sprintf(`destinations:
  - {name: hubspot, type: hubspot, token: pat-test, base_url: %q}
  - {name: salesforce, type: salesforce, login_url: %q, auth: client_credentials, client_id: id, client_secret: secret}
`, hs.URL, sf.URL())
	dir := t.TempDir()
	cfg := testConfig(t, dir, dests)
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := NewSyncer(cfg, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	post := func(id, number string) {
		t.Helper()
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id,
			Raw: smsBody(id, "+33699999999", number)}, []string{"hubspot", "salesforce"}); err != nil {
			t.Fatal(err)
		}
	}
	waitDone := func(n int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d SMS done in both CRMs", n), func() bool {
			stats, _, _ := st.Stats()
			return stats["hubspot"].Counts[store.Done] == n && stats["salesforce"].Counts[store.Done] == n
		}, nil)
	}
	post("q1", "06 55 44 33 22")
	post("q2", "+33655443322") // same person, same batch, another format
	waitDone(2)
	post("q3", "0655443322") // a later batch, while search still cannot see the new records
	waitDone(3)

	if n := len(hs.Contacts()); n != 1 {
		t.Errorf("HubSpot holds %d contacts for one new number, want 1", n)
	}
	if n := len(sf.Records("Lead")) + len(sf.Records("Contact")); n != 1 {
		t.Errorf("Salesforce holds %d Leads/Contacts for one new number, want 1", n)
	}
	if n := len(hs.Communications()); n != 3 {
		t.Errorf("HubSpot holds %d communications, want 3", n)
	}
	if n := len(sf.Tasks()); n != 3 {
		t.Errorf("Salesforce holds %d Tasks, want 3", n)
	}
}
