package connector

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/crmtest"
	"github.com/onoffsync/onoffsync/store"
)

// TestForgetDuringALookUpCachesNothing: an erasure request that runs while a batch searches for (or creates)
// the person's contact must not see the batch put the contact back in the cache afterwards.
func TestForgetDuringALookUpCachesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string // the CRM call during which the admin runs forget
		known  bool   // the contact exists (found by search) or is created
	}{
		{"search", crmtest.MethodFind, true},
		{"create", crmtest.MethodCreate, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSyncEnv(t, destYAML("crm", ""), "crm")
			f := e.fakes["crm"]
			if tc.known {
				f.AddContact(crm.Contact{LastName: "Erased", Phones: []string{"+33612345678"}})
			}
			forgot := make(chan error, 1)
			f.OnCall(func(method string) {
				if method == tc.method {
					_, err := Forget(e.store, e.syncer, "FR", "06 12 34 56 78", "")
					forgot <- err
				}
			})
			e.enqueue("f1", "+33699999999", "+33 6 12 34 56 78")
			e.start()
			if err := <-forgot; err != nil {
				t.Fatal(err)
			}
			// The batch goes on to write the activity: by then it has cached whatever it would cache.
			waitFor(t, "the batch's write", func() bool { return f.Calls(crmtest.MethodLog) == 1 }, nil)
			e.stop()
			for _, tr := range fileTraces(t, e.syncer.cfg.Store.Path, "612345678") {
				t.Errorf("trace left after a forget during the %s: %s", tc.name, tr)
			}
		})
	}
}

// TestForgetLeavesNoTrace: after forget, through the connector, no bucket of the data file mentions the
// person's number or email in any form: not their events, jobs, dead letters, nor the contact cache.
func TestForgetLeavesNoTrace(t *testing.T) {
	e := newSyncEnv(t, destYAML("crm", "")+destYAML("crm2", ""), "crm", "crm2")
	for _, f := range e.fakes {
		f.AddContact(crm.Contact{LastName: "Erased", Phones: []string{"+33612345678"}, Email: "erased@example.com"})
		f.FailItem("dead", 1, crmtest.ErrBadInput)
	}
	e.enqueue("a", "+33699999999", "06 12 34 56 78")
	e.enqueue("b", "+33699999999", "+33 6 12 34 56 78")
	e.enqueue("dead", "+33699999999", "0033612345678")
	e.enqueue("other", "+33699999999", "06 99 99 99 99")
	if _, _, err := e.store.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: "mail", EventName: "SMS",
		Received: e.clock.Now(), Raw: []byte(`{"id":"mail","eventName":"SMS","onoffUserNumber":"+33699999999","externalNumber":"SHORTCODE","externalEmail":"Erased@Example.com","date":"2026-05-20T14:00:00Z","smsDirection":"RECEIVED","body":"hi"}`)},
		[]string{"crm"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitCounts("crm", map[string]int64{store.Done: 4, store.Dead: 1}, nil)
	e.waitCounts("crm2", map[string]int64{store.Done: 3, store.Dead: 1}, nil)
	if n, err := Forget(e.store, e.syncer, "FR", "+33 6 12 34 56 78", ""); err != nil || n != 3 {
		t.Fatalf("Forget(number) = %d, %v; want 3", n, err)
	}
	if n, err := Forget(e.store, e.syncer, "FR", "", "erased@example.com"); err != nil || n != 1 {
		t.Fatalf("Forget(email) = %d, %v; want 1", n, err)
	}
	e.stop()
	for _, tr := range fileTraces(t, e.syncer.cfg.Store.Path, "612345678", "erased@example.com") {
		t.Errorf("trace left after forget: %s", tr)
	}
	if tr := fileTraces(t, e.syncer.cfg.Store.Path, "699999999"); len(tr) == 0 {
		t.Error("the other person's events are gone too: the scan cannot tell what it looks for")
	}
}

// fileTraces opens the closed data file at path, as an outsider would, and returns every key or value, in
// every bucket, that contains one of needles (compared in lower case, and on digits alone for a number).
func fileTraces(tb testing.TB, path string, needles ...string) []string {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var found []string
	look := func(where string, b []byte) {
		lower := bytes.ToLower(b)
		digits := []byte(phoneKeys(string(b)))
		for _, n := range needles {
			if bytes.Contains(lower, []byte(n)) || bytes.Contains(digits, []byte(n)) {
				found = append(found, fmt.Sprintf("%s: %q", where, b))
				return
			}
		}
	}
	var walk func(path string, b *bolt.Bucket)
	walk = func(path string, b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			look(path+" key", k)
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					walk(path+"/"+string(k), nb)
				}
				return nil
			}
			look(fmt.Sprintf("%s[%q]", path, k), v)
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			look("bucket name", name)
			walk(string(name), b)
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return found
}
