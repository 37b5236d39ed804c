package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestCrash posts thousands of distinct SMS from concurrent senders that retry like Onoff, SIGKILLs the binary
// at random moments (during ingest, then during delivery) and restarts it on the same data file each time.
// Every SMS answered 200 must reach every CRM; destinations with an idempotency field (Salesforce's external
// id, HubSpot's onoff-id property) must hold no duplicate. A HubSpot destination without one may duplicate
// what was in flight at a kill: its count is reported, not asserted.
func TestCrash(t *testing.T) {
	const writeLatency = 300 * time.Millisecond
	total, senders, kills := 2000, 16, 4
	switch {
	case *long:
		total, kills = 10000, 8
	case testing.Short():
		total, kills = 300, 2
	}
	sd := testSeed(t)
	rng := rand.New(rand.NewPCG(sd, 2))

	hs := newHubSpot(t, hubspottest.Options{})
	hsNoID := newHubSpot(t, hubspottest.Options{})
	sf := newSalesforce(t)
	n := newNode(t, config("", hubspotDest("hubspot", hs, hubIDField), hubspotDest("hubspot-noid", hsNoID, ""),
		salesforceDest("salesforce", sf)))
	// Slow HubSpot writes, so a backlog builds up during ingest and the later kills land mid-delivery. (Not
	// Salesforce: its latency applies to every call, and the loop checks each ambiguous job with one query.)
	hs.SetLatency(hubspottest.CommsBatchCreate, writeLatency)
	hsNoID.SetLatency(hubspottest.CommsBatchCreate, writeLatency)
	n.start()

	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%05d", i)
	}
	var (
		next, finished atomic.Int64
		mu             sync.Mutex
		acked          []string
		retried        atomic.Int64
		wg             sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := newOnoff(webhookKey, n.receiverURL)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				ok, tries := o.send(ctx, newSMS(ids[i], i, "crash test"))
				retried.Add(int64(tries - 1))
				if ok {
					mu.Lock()
					acked = append(acked, ids[i])
					mu.Unlock()
				}
				finished.Add(1)
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()

	// Kill moments: half during ingest, at random fractions of the SMS posted; the rest during delivery, at
	// random fractions of what is left to deliver.
	ingestKills := (kills + 1) / 2
	var marks []int
	for range ingestKills {
		marks = append(marks, int(float64(total)*(0.1+0.8*rng.Float64())))
	}
	slices.Sort(marks)
	killsDone := 0
	for _, mark := range marks {
		waitFor(t, deliveryTimeout, fmt.Sprintf("%d SMS posted", mark), func() bool {
			select {
			case <-sendersDone:
				return true
			default:
				return finished.Load() >= int64(mark)
			}
		})
		n.restart()
		killsDone++
		t.Logf("kill %d during ingest after %d SMS posted", killsDone, finished.Load())
	}
	waitFor(t, 3*deliveryTimeout, "the senders to finish", func() bool {
		select {
		case <-sendersDone:
			return true
		default:
			return false
		}
	})
	mu.Lock()
	ackedIDs := slices.Clone(acked)
	mu.Unlock()

	delivered := func() int { // SMS delivered to every destination
		got := []map[string]int{hubspotIDs(hs, hubIDField), hubspotIDs(hsNoID, ""), salesforceIDs(sf)}
		c := 0
		for _, id := range ackedIDs {
			all := true
			for _, g := range got {
				all = all && g[id] > 0
			}
			if all {
				c++
			}
		}
		return c
	}
	for killsDone < kills {
		now := delivered()
		mark := now + int(float64(len(ackedIDs)-now)*rng.Float64()*0.8)
		waitFor(t, deliveryTimeout, fmt.Sprintf("%d SMS delivered everywhere", mark), func() bool { return delivered() >= mark })
		n.restart()
		killsDone++
		t.Logf("kill %d during delivery after %d of %d SMS delivered everywhere", killsDone, mark, len(ackedIDs))
	}

	waitFor(t, deliveryTimeout, "every acknowledged SMS in every CRM", func() bool { return delivered() == len(ackedIDs) })
	st := n.waitSettled(deliveryTimeout)

	results := map[string]map[string]int{"hubspot": hubspotIDs(hs, hubIDField), "hubspot-noid": hubspotIDs(hsNoID, ""),
		"salesforce": salesforceIDs(sf)}
	dups, lost, dlv := map[string]int{}, map[string]int{}, map[string]int{}
	for name, got := range results {
		dups[name] = duplicates(got)
		dlv[name] = len(got)
		lost[name] = len(missing(ackedIDs, got))
		if m := missing(ackedIDs, got); len(m) > 0 {
			t.Errorf("%s: acknowledged SMS missing, e.g. %v", name, m)
		}
		if c := st.counts(name); c["dead"] != 0 {
			t.Errorf("%s: %d dead jobs, want none: %v", name, c["dead"], c)
		}
	}
	for _, name := range []string{"hubspot", "salesforce"} {
		if dups[name] != 0 {
			t.Errorf("%s: %d duplicate activities, want 0 (it has an idempotency field)", name, dups[name])
		}
	}
	t.Logf("sent %d, acknowledged %d (%d extra deliveries), kills %d; duplicates without an id field: %d",
		total, len(ackedIDs), retried.Load(), kills, dups["hubspot-noid"])
	if len(ackedIDs) < total/2 {
		t.Errorf("only %d of %d SMS acknowledged: the receiver was down too long", len(ackedIDs), total)
	}
	writeReport(t, map[string]any{"test": "crash", "sent": total, "acknowledged": len(ackedIDs),
		"unacknowledged": total - len(ackedIDs), "redeliveries": retried.Load(), "delivered": dlv, "lost": lost,
		"duplicates": dups, "kills": kills, "seed": sd})
}
