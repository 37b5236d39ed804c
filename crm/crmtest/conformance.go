// Package crmtest holds the conformance suite every CRM adapter runs against its fake server, and Fake, a
// scriptable in-memory adapter that drives the sync loop's tests. It imports crm only: no adapter, no connector.
package crmtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// Harness is what an adapter's test hands the conformance suite: the adapter wired to its fake CRM, and ways
// to seed and inspect that fake in CRM-neutral terms. Every func must be set, except SeedContact, SeedOwner
// and Settle when NoContacts is.
type Harness struct {
	Client crm.Client
	// NoContacts says the destination keeps no contacts nor owners (the log file): every search finds
	// nothing, CreateContact fails Permanent, ResolveOwner answers "", and activities log without a contact.
	NoContacts bool
	// SeedContact stores a contact (Kind contact) in the fake and returns its id. Phone is stored as given.
	SeedContact func(tb testing.TB, s Seed) string
	// SeedOwner stores an active CRM user/owner with this email and returns its id.
	SeedOwner func(tb testing.TB, email string) string
	// Logged lists the activities the fake holds.
	Logged func(tb testing.TB) []Logged
	// Settle makes the fake's search index catch up with every write so far.
	Settle func()
	// NewContactKind is the kind CreateContact is asked for (crm.KindContact for HubSpot, lead for Salesforce).
	NewContactKind string
	// UpdateField is a standard contact field the adapter's crm.ContactUpdater can set ("firstname",
	// "FirstName"); "" skips the contact update checks.
	UpdateField string
}

// Seed is a contact to store in a fake.
type Seed struct {
	FirstName, LastName, Email, Phone, MobilePhone string
	Modified                                       time.Time
}

// Logged is one activity as a fake stored it.
type Logged struct {
	ID        string
	ContactID string
	Fields    map[string]string
}

// Run checks the adapter contract of crm.Client against a fresh harness per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	ctx := context.Background()
	fr := func(s string) crm.Phone { return crm.ParsePhone(s, "FR") }

	if newHarness(t).NoContacts {
		runNoContacts(t, newHarness)
		return
	}

	t.Run("Limits", func(t *testing.T) {
		h := newHarness(t)
		l := h.Client.Limits()
		if l.SearchBatch < 1 || l.WriteBatch < 1 {
			t.Errorf("Limits() = %+v, want batches >= 1", l)
		}
	})

	t.Run("UpdateContacts", func(t *testing.T) {
		h := newHarness(t)
		u, ok := h.Client.(crm.ContactUpdater)
		if !ok || h.UpdateField == "" {
			t.Skip("no contact updates")
		}
		id := h.SeedContact(t, Seed{FirstName: "Old", LastName: "Name", Phone: "+33612345671"})
		ups := []crm.ContactUpdate{
			{ContactID: id, Kind: crm.KindContact, Fields: map[string]string{h.UpdateField: "New"}},
			{ContactID: "003000000000000AAA", Kind: crm.KindContact, Fields: map[string]string{h.UpdateField: "New"}},
		}
		for range 2 { // an update sent again is harmless
			res, err := u.UpdateContacts(ctx, ups)
			if err != nil {
				t.Fatalf("UpdateContacts: %v", err)
			}
			if len(res) != 2 || res[0].Err != nil || res[0].ID != id {
				t.Fatalf("results %+v, want contact %s updated", res, id)
			}
			if ce := crm.Classify(res[1].Err); ce == nil || ce.Code != crm.CodeContactGone {
				t.Errorf("unknown contact: %v, want %s", res[1].Err, crm.CodeContactGone)
			}
		}
	})

	t.Run("PhoneFormatsMatchOneContact", func(t *testing.T) {
		h := newHarness(t)
		id := h.SeedContact(t, Seed{FirstName: "Ana", LastName: "Lima", Phone: "+33 6 12 34 56 78"})
		h.SeedContact(t, Seed{FirstName: "Other", LastName: "Person", Phone: "+33 6 99 99 99 99"})
		h.Settle()
		qs := []crm.ContactQuery{{Phone: fr("0612345678")}, {Phone: fr("+33612345678")}, {Phone: fr("06.12.34.56.78")}}
		got := find(t, h, qs)
		for i, m := range got {
			if ids := contactIDs(m); !slices.Equal(ids, []string{id}) {
				t.Errorf("query %d (%s): got %v, want [%s]", i, qs[i].Phone.Raw, ids, id)
			}
		}
	})

	t.Run("MobilePhoneMatches", func(t *testing.T) {
		h := newHarness(t)
		id := h.SeedContact(t, Seed{LastName: "Mobile", MobilePhone: "0612345670"})
		h.Settle()
		if ids := contactIDs(find(t, h, []crm.ContactQuery{{Phone: fr("+33612345670")}})[0]); !slices.Equal(ids, []string{id}) {
			t.Errorf("got %v, want [%s]", ids, id)
		}
	})

	t.Run("EmailMatches", func(t *testing.T) {
		h := newHarness(t)
		id := h.SeedContact(t, Seed{LastName: "Mail", Email: "mail@example.com"})
		h.Settle()
		if ids := contactIDs(find(t, h, []crm.ContactQuery{{Email: "mail@example.com"}})[0]); !slices.Equal(ids, []string{id}) {
			t.Errorf("got %v, want [%s]", ids, id)
		}
	})

	t.Run("NoMatchIsEmpty", func(t *testing.T) {
		h := newHarness(t)
		h.SeedContact(t, Seed{LastName: "Someone", Phone: "+33611111111", Email: "someone@example.com"})
		h.Settle()
		got := find(t, h, []crm.ContactQuery{{Phone: fr("0622222222")}, {Email: "nobody@example.com"}})
		for i, m := range got {
			if len(m) != 0 {
				t.Errorf("query %d: got %v, want no match", i, contactIDs(m))
			}
		}
	})

	t.Run("BatchOfQueriesKeepsOrder", func(t *testing.T) {
		h := newHarness(t)
		n := h.Client.Limits().SearchBatch
		if n > 6 {
			n = 6
		}
		ids := make([]string, n)
		qs := make([]crm.ContactQuery, n)
		for i := range n {
			num := fmt.Sprintf("+3361234560%d", i)
			ids[i] = h.SeedContact(t, Seed{LastName: fmt.Sprint("N", i), Phone: num})
			qs[n-1-i] = crm.ContactQuery{Phone: fr(num)}
		}
		h.Settle()
		got := find(t, h, qs)
		for i := range n {
			if g := contactIDs(got[n-1-i]); !slices.Equal(g, []string{ids[i]}) {
				t.Errorf("query for contact %d: got %v, want [%s]", i, g, ids[i])
			}
		}
	})

	t.Run("CreateThenFind", func(t *testing.T) {
		h := newHarness(t)
		c, err := h.Client.CreateContact(ctx, crm.NewContact{Kind: h.NewContactKind, FirstName: "New", LastName: "Person",
			Phone: fr("0633333333"), Company: "Acme"})
		if err != nil {
			t.Fatalf("CreateContact: %v", err)
		}
		if c.ID == "" {
			t.Fatal("CreateContact returned no id")
		}
		h.Settle()
		if ids := contactIDs(find(t, h, []crm.ContactQuery{{Phone: fr("+33633333333")}})[0]); !slices.Equal(ids, []string{c.ID}) {
			t.Errorf("after create: got %v, want [%s]", ids, c.ID)
		}
	})

	t.Run("ResolveOwner", func(t *testing.T) {
		h := newHarness(t)
		id := h.SeedOwner(t, "rep@example.com")
		got, err := h.Client.ResolveOwner(ctx, "rep@example.com")
		if err != nil || got != id {
			t.Errorf("ResolveOwner(known) = %q, %v; want %q, nil", got, err, id)
		}
		got, err = h.Client.ResolveOwner(ctx, "ghost@example.com")
		if err != nil || got != "" {
			t.Errorf("ResolveOwner(unknown) = %q, %v; want \"\", nil", got, err)
		}
	})

	t.Run("LogActivities", func(t *testing.T) {
		h := newHarness(t)
		cid := h.SeedContact(t, Seed{LastName: "Target", Phone: "+33644444444"})
		h.Settle()
		contact := find(t, h, []crm.ContactQuery{{Phone: fr("0644444444")}})[0]
		if len(contact) != 1 {
			t.Fatalf("seeded contact not found: %v", contactIDs(contact))
		}
		var acts []crm.Activity
		for i := range 3 {
			acts = append(acts, crm.Activity{SourceID: fmt.Sprint("sms-", i), ContactID: cid, ContactKind: contact[0].Kind,
				Timestamp: time.Date(2026, 5, 20, 14, 30, i, 0, time.UTC), Fields: map[string]string{}})
		}
		res, err := h.Client.LogActivities(ctx, acts)
		if err != nil {
			t.Fatalf("LogActivities: %v", err)
		}
		if len(res) != len(acts) {
			t.Fatalf("got %d results, want %d", len(res), len(acts))
		}
		seen := map[string]bool{}
		for i, r := range res {
			if r.Err != nil || r.ID == "" || seen[r.ID] {
				t.Errorf("result %d = %+v, want a new id and no error", i, r)
			}
			seen[r.ID] = true
		}
		logged := h.Logged(t)
		if len(logged) != len(acts) {
			t.Fatalf("fake holds %d activities, want %d", len(logged), len(acts))
		}
		for _, l := range logged {
			if !seen[l.ID] || l.ContactID != cid {
				t.Errorf("logged %+v: want one of the returned ids on contact %s", l, cid)
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		h := newHarness(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := h.Client.FindContacts(cctx, []crm.ContactQuery{{Email: "x@example.com"}})
		if err == nil {
			t.Fatal("FindContacts on a canceled context: got nil error")
		}
		if !errors.Is(err, context.Canceled) && crm.Classify(err).Action != crm.Retry {
			t.Errorf("FindContacts on a canceled context: %v, want context.Canceled or a retryable error", err)
		}
	})
}

// runNoContacts checks the contract of a destination that keeps no contacts.
func runNoContacts(t *testing.T, newHarness func(t *testing.T) *Harness) {
	ctx := context.Background()
	t.Run("Limits", func(t *testing.T) {
		if l := newHarness(t).Client.Limits(); l.SearchBatch < 1 || l.WriteBatch < 1 {
			t.Errorf("Limits() = %+v, want batches >= 1", l)
		}
	})
	t.Run("FindsNoContact", func(t *testing.T) {
		h := newHarness(t)
		got := find(t, h, []crm.ContactQuery{{Phone: crm.ParsePhone("0612345678", "FR")}, {Email: "a@example.com"}})
		for i, m := range got {
			if len(m) != 0 {
				t.Errorf("query %d: got %v, want no match", i, contactIDs(m))
			}
		}
	})
	t.Run("CreateContactIsPermanent", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.Client.CreateContact(ctx, crm.NewContact{LastName: "New", Phone: crm.ParsePhone("0633333333", "FR")})
		if a := crm.Classify(err); a == nil || a.Action != crm.Permanent {
			t.Errorf("CreateContact: %v, want a Permanent error", err)
		}
	})
	t.Run("ResolveOwnerIsEmpty", func(t *testing.T) {
		h := newHarness(t)
		if got, err := h.Client.ResolveOwner(ctx, "rep@example.com"); got != "" || err != nil {
			t.Errorf("ResolveOwner = %q, %v; want \"\", nil", got, err)
		}
	})
	t.Run("LogActivities", func(t *testing.T) {
		h := newHarness(t)
		acts := []crm.Activity{
			{SourceID: "sms-0", Timestamp: time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC), Fields: map[string]string{"body": "hi"}},
			{SourceID: "sms-1", ContactID: "c-1", Timestamp: time.Date(2026, 5, 20, 14, 30, 1, 0, time.UTC), Fields: map[string]string{}},
		}
		res, err := h.Client.LogActivities(ctx, acts)
		if err != nil {
			t.Fatalf("LogActivities: %v", err)
		}
		if len(res) != len(acts) {
			t.Fatalf("got %d results, want %d", len(res), len(acts))
		}
		seen := map[string]bool{}
		for i, r := range res {
			if r.Err != nil || r.ID == "" || seen[r.ID] {
				t.Errorf("result %d = %+v, want a new id and no error", i, r)
			}
			seen[r.ID] = true
		}
		logged := h.Logged(t)
		if len(logged) != len(acts) {
			t.Fatalf("destination holds %d activities, want %d", len(logged), len(acts))
		}
		for i, l := range logged {
			if !seen[l.ID] || l.ContactID != acts[i].ContactID {
				t.Errorf("logged %+v: want one of the returned ids on contact %q", l, acts[i].ContactID)
			}
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		h := newHarness(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := h.Client.FindContacts(cctx, []crm.ContactQuery{{Email: "x@example.com"}}); err == nil {
			t.Fatal("FindContacts on a canceled context: got nil error")
		}
	})
}

func find(t *testing.T, h *Harness, qs []crm.ContactQuery) [][]crm.Contact {
	t.Helper()
	got, err := h.Client.FindContacts(context.Background(), qs)
	if err != nil {
		t.Fatalf("FindContacts: %v", err)
	}
	if len(got) != len(qs) {
		t.Fatalf("FindContacts returned %d results for %d queries", len(got), len(qs))
	}
	return got
}

func contactIDs(cs []crm.Contact) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}
