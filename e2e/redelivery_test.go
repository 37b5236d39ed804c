package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestRedelivery posts each SMS up to 5 times, as Onoff retries (some copies concurrently): each gives exactly
// one activity, even in a HubSpot destination with no idempotency property, where only the receiver's
// deduplication can prevent a second one.
func TestRedelivery(t *testing.T) {
	hsNoID := newHubSpot(t, hubspottest.Options{})
	sf := newSalesforce(t)
	n := newNode(t, config("", hubspotDest("hubspot", hsNoID, ""), salesforceDest("salesforce", sf)))
	n.start()

	total := 150
	if testing.Short() {
		total = 40
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	o := newOnoff(webhookKey, n.receiverURL)
	ids := make([]string, total)
	copies := 0
	var wg sync.WaitGroup
	errs := make(chan error, total*5)
	for i := range total {
		ids[i] = fmt.Sprintf("redeliver-%04d", i)
		body := newSMS(ids[i], i, "hello again")
		k := 1 + rng.IntN(5)
		copies += k
		concurrent := rng.IntN(2) == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for range k {
				post := func() {
					if code, err := o.post(body); code != http.StatusOK {
						errs <- fmt.Errorf("%s: got %d %v, want 200 for every copy", ids[i], code, err)
					}
				}
				if concurrent {
					inner.Add(1)
					go func() { defer inner.Done(); post() }()
				} else {
					post()
				}
			}
			inner.Wait()
		}()
		if i%16 == 15 {
			wg.Wait() // keep the test process's own load moderate
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d SMS posted %d times in all", total, copies)

	waitFor(t, deliveryTimeout, "every SMS in both CRMs", func() bool {
		return len(missing(ids, hubspotIDs(hsNoID, ""))) == 0 && len(missing(ids, salesforceIDs(sf))) == 0
	})
	st := n.waitSettled(deliveryTimeout)
	for name, got := range map[string]map[string]int{"hubspot": hubspotIDs(hsNoID, ""), "salesforce": salesforceIDs(sf)} {
		if d := duplicates(got); d != 0 || len(got) != total {
			t.Errorf("%s: %d distinct SMS with %d duplicates, want %d and 0", name, len(got), d, total)
		}
		if c := st.counts(name); c["done"] != int64(total) || c["dead"] != 0 {
			t.Errorf("%s: job counts %v, want %d done and none dead", name, c, total)
		}
	}
}
