package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
	"github.com/onoffsync/onoffsync/store"
)

// TestAutoIDFieldSwitchesOnReload: with the built-in mappings (activity.id_field: auto) and no id field in
// the CRMs, SMS are logged without one; after `setup` created it they still are until the mapping is
// reloaded (the CRM is asked at start and on reload only); after the reload they carry the Onoff id in
// onoff_message_id (HubSpot) and Onoff_Message_Id__c (Salesforce).
func TestAutoIDFieldSwitchesOnReload(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{MaxPer10s: -1, SearchPerSecond: -1})
	defer hs.Close()
	sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret"})
	defer sf.Close()
	dests := fmt.Sprintf(`destinations:
  - {name: hubspot, type: hubspot, token: pat-test, base_url: %q}
  - {name: salesforce, type: salesforce, login_url: %q, auth: client_credentials, client_id: id, client_secret: secret}
`, hs.URL, sf.URL())
	cfg := testConfig(t, t.TempDir(), dests)
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

	n := int64(0)
	send := func(id string) {
		t.Helper()
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id,
			Raw: smsBody(id, "+33699999999", "+33655443322")}, []string{"hubspot", "salesforce"}); err != nil {
			t.Fatal(err)
		}
		n++
		waitFor(t, fmt.Sprintf("%d SMS done in both CRMs", n), func() bool {
			stats, _, _ := st.Stats()
			return stats["hubspot"].Counts[store.Done] == n && stats["salesforce"].Counts[store.Done] == n
		}, nil)
	}
	ids := func() (hubspot, salesforce map[string]string) {
		hubspot, salesforce = map[string]string{}, map[string]string{}
		for _, c := range hs.Communications() {
			hubspot[c.ID] = c.Properties["onoff_message_id"]
		}
		for _, task := range sf.Tasks() {
			v, _ := task.Fields["Onoff_Message_Id__c"].(string)
			salesforce[task.ID] = v
		}
		return hubspot, salesforce
	}
	has := func(m map[string]string, v string) bool {
		for _, x := range m {
			if x == v {
				return true
			}
		}
		return false
	}

	send("before")
	for _, d := range cfg.Destinations {
		client, err := NewClient(d, AdapterDeps{Throttle: crm.Unthrottled{}, Stdout: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.(crm.Setuper).Setup(context.Background(), false); err != nil {
			t.Fatalf("setup %s: %v", d.Name, err)
		}
	}
	send("not-reloaded")
	s.Reload()
	send("after")

	h, f := ids()
	for _, id := range []string{"before", "not-reloaded"} {
		if has(h, id) || has(f, id) {
			t.Errorf("%s carries its id (HubSpot %v, Salesforce %v): want none before the reload", id, h, f)
		}
	}
	if !has(h, "after") || !has(f, "after") {
		t.Errorf("after the reload: HubSpot ids %v, Salesforce ids %v; want \"after\" in both id fields", h, f)
	}
}

// resolvingFake is a crmtest fake that answers ResolveIDField from a script: err while set, else st.
type resolvingFake struct {
	*crmtest.Fake
	mu    sync.Mutex
	asked int
	err   error
	st    crm.IDFieldStatus
}

func (r *resolvingFake) ResolveIDField(context.Context) (crm.IDFieldStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	return r.st, r.err
}

func (r *resolvingFake) set(st crm.IDFieldStatus, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st, r.err = st, err
}

func (r *resolvingFake) times() int { r.mu.Lock(); defer r.mu.Unlock(); return r.asked }

// TestAutoIDFieldWhenTheCRMCannotAnswer: while the CRM cannot say whether the id field exists, activities go
// without one and the loop asks again only after idFieldRetry; once it answers, the answer is kept (no
// question per batch) until a reload.
func TestAutoIDFieldWhenTheCRMCannotAnswer(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	cfg := testConfig(t, dir, "destinations:\n"+destYAML("crm", ""))
	st, err := store.Open(cfg.Store.Path, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &resolvingFake{Fake: crmtest.NewFake(crm.Limits{SearchBatch: 10, WriteBatch: 20}), err: errors.New("HubSpot is down")}
	s, err := NewSyncer(cfg, st, Options{Clock: clock, Adapters: map[string]func(AdapterDeps) (crm.Client, error){
		"crm": func(AdapterDeps) (crm.Client, error) { return f, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	n := 0
	send := func(id string) crm.Activity {
		t.Helper()
		if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, EventName: "SMS",
			Received: clock.Now(), Raw: smsBody(id, "+33699999999", "+33655443322")}, []string{"crm"}); err != nil {
			t.Fatal(err)
		}
		n++
		waitFor(t, id+" logged", func() bool { return len(f.Logged()) == n }, nil)
		for _, a := range f.Logged() {
			if a.SourceID == id {
				return a
			}
		}
		t.Fatalf("%s not logged", id)
		return crm.Activity{}
	}

	if a := send("down1"); a.IDField != "" || f.times() != 1 {
		t.Errorf("CRM down: IDField %q after %d questions; want none after 1", a.IDField, f.times())
	}
	f.set(crm.IDFieldStatus{SMS: "onoff_message_id", Call: "onoff_message_id"}, nil)
	if a := send("down2"); a.IDField != "" || f.times() != 1 {
		t.Errorf("within the retry delay: IDField %q after %d questions; want none, still 1", a.IDField, f.times())
	}
	clock.Advance(idFieldRetry)
	if a := send("up1"); a.IDField != "onoff_message_id" || f.times() != 2 {
		t.Errorf("after the retry delay: IDField %q after %d questions; want onoff_message_id after 2", a.IDField, f.times())
	}
	if a := send("up2"); a.IDField != "onoff_message_id" || f.times() != 2 {
		t.Errorf("next batch: IDField %q after %d questions; want the kept answer, still 2", a.IDField, f.times())
	}
	f.set(crm.IDFieldStatus{}, nil)
	s.Reload()
	if a := send("reloaded"); a.IDField != "" || f.times() != 3 {
		t.Errorf("after a reload: IDField %q after %d questions; want none after 3", a.IDField, f.times())
	}
}
