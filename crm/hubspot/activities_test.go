package hubspot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

func activities(contactID string, n int) []crm.Activity {
	var acts []crm.Activity
	for i := range n {
		acts = append(acts, crm.Activity{SourceID: fmt.Sprint("sms-", i), ContactID: contactID, ContactKind: crm.KindContact,
			Timestamp: time.Date(2026, 5, 20, 14, 30, i, 0, time.UTC), IDField: "onoff_sms_id",
			Fields: map[string]string{"hs_communication_body": fmt.Sprint("hello ", i)}})
	}
	return acts
}

func mustLog(tb testing.TB, c *Client, acts []crm.Activity) []crm.Result {
	tb.Helper()
	res, err := c.LogActivities(context.Background(), acts)
	if err != nil {
		tb.Fatalf("LogActivities: %v", err)
	}
	if len(res) != len(acts) {
		tb.Fatalf("LogActivities: %d results for %d activities", len(res), len(acts))
	}
	return res
}

func TestLogActivitiesPropertiesAndCompanyAssociation(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T", "phone": "+33644444444"})
	owner := e.srv.SeedOwner(hubspottest.Owner{Email: "rep@example.com"})
	body := `Tom &amp; Jerry &lt;3<br>"quoted" {"json":1}`
	res := mustLog(t, e.client, []crm.Activity{{SourceID: "sms-1", ContactID: cid, CompanyID: "9001", OwnerID: owner,
		Timestamp: time.Date(2026, 5, 20, 14, 30, 0, 0, time.UTC), IDField: "onoff_sms_id",
		Fields: map[string]string{"hs_communication_body": body, "onoff_sms_id": "mapping-must-not-win-here"}}})
	if res[0].Err != nil || res[0].ID == "" {
		t.Fatalf("result = %+v", res[0])
	}
	got := e.srv.Communications()
	if len(got) != 1 {
		t.Fatalf("fake holds %d communications, want 1", len(got))
	}
	wantProps := map[string]string{"hs_communication_channel_type": "SMS", "hs_communication_logged_from": "CRM",
		"hs_timestamp": "2026-05-20T14:30:00.000Z", "hs_communication_body": body, "hubspot_owner_id": owner,
		"onoff_sms_id": "sms-1"}
	for k, v := range wantProps {
		if got[0].Properties[k] != v {
			t.Errorf("property %s = %q, want %q", k, got[0].Properties[k], v)
		}
	}
	wantAssoc := []hubspottest.Association{{ToType: "contacts", ToID: cid, TypeID: 81}, {ToType: "companies", ToID: "9001", TypeID: 87}}
	if diff := cmp.Diff(wantAssoc, got[0].Associations); diff != "" {
		t.Errorf("associations (-want +got):\n%s", diff)
	}
}

func TestLogActivitiesWithoutContact(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	res := mustLog(t, e.client, []crm.Activity{{SourceID: "s", Timestamp: time.Now(), Fields: map[string]string{}}})
	if res[0].Err != nil {
		t.Fatalf("result = %+v", res[0])
	}
	if a := e.srv.Communications()[0].Associations; len(a) != 0 {
		t.Errorf("associations = %v, want none", a)
	}
}

func TestLogActivitiesPartialFailure207(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	acts := activities(cid, 5)
	acts[2].OwnerID = "999999" // not an owner: HubSpot rejects this input only
	res := mustLog(t, e.client, acts)
	for i, r := range res {
		if i == 2 {
			ce := crm.Classify(r.Err)
			if ce == nil || ce.Action != crm.Permanent || ce.Code != "VALIDATION_ERROR" {
				t.Errorf("result 2 = %+v, want Permanent VALIDATION_ERROR", r)
			}
			continue
		}
		if r.Err != nil || r.ID == "" {
			t.Errorf("result %d = %+v, want an id", i, r)
		}
	}
	if n := len(e.srv.Communications()); n != 4 {
		t.Errorf("fake holds %d, want 4", n)
	}
	if n := e.srv.Calls(hubspottest.CommsBatchCreate); n != 1 {
		t.Errorf("batch creates = %d, want 1", n)
	}
}

func TestLogActivitiesWholeBatchRejectionIsolatedBySplitting(t *testing.T) {
	e := newEnv(t, hubspottest.Options{WholeBatchReject: true}, Config{}, Options{})
	e.srv.MarkBadProperty("bad_prop")
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	acts := activities(cid, 16)
	acts[5].Fields["bad_prop"] = "x"
	acts[11].Fields["bad_prop"] = "y"
	res := mustLog(t, e.client, acts)
	created := map[string]bool{}
	for i, r := range res {
		if i == 5 || i == 11 {
			if ce := crm.Classify(r.Err); ce == nil || ce.Action != crm.Permanent || ce.Status != 400 {
				t.Errorf("result %d = %+v, want Permanent 400", i, r)
			}
			continue
		}
		if r.Err != nil || r.ID == "" || created[r.ID] {
			t.Errorf("result %d = %+v, want a new id", i, r)
		}
		created[r.ID] = true
	}
	if n := len(e.srv.Communications()); n != 14 {
		t.Errorf("fake holds %d, want 14", n)
	}
	t.Logf("%d batch calls to isolate 2 bad inputs among 16", e.srv.Calls(hubspottest.CommsBatchCreate))
}

func TestLogActivitiesContactGone(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	alive := e.srv.SeedContact(map[string]string{"lastname": "Alive"})
	gone := e.srv.SeedContact(map[string]string{"lastname": "Gone"})
	merged := e.srv.SeedContact(map[string]string{"lastname": "Merged"})
	e.srv.DeleteContact(gone)
	e.srv.DeleteContact(merged)
	for _, tc := range []struct {
		name  string
		acts  []crm.Activity
		bad   []int
		calls int // batch creates: the rejected one, then one for the others
	}{
		{"alone", activities(gone, 1), []int{0}, 1},
		{"in a batch", append(append(activities(alive, 4), activities(gone, 2)...), append(activities(alive, 3), activities(merged, 1)...)...),
			[]int{4, 5, 9}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, stored := e.srv.Calls(hubspottest.CommsBatchCreate), len(e.srv.Communications())
			for i := range tc.acts {
				tc.acts[i].SourceID = fmt.Sprint(tc.name, i)
			}
			res := mustLog(t, e.client, tc.acts)
			for i, r := range res {
				ce := crm.Classify(r.Err)
				if slices.Contains(tc.bad, i) {
					if ce == nil || ce.Action != crm.Permanent || ce.Code != crm.CodeContactGone {
						t.Errorf("result %d = %+v, want Permanent %s", i, r, crm.CodeContactGone)
					}
				} else if r.Err != nil || r.ID == "" {
					t.Errorf("result %d = %+v, want logged", i, r)
				}
			}
			if n := e.srv.Calls(hubspottest.CommsBatchCreate) - before; n != tc.calls {
				t.Errorf("%d batch creates, want %d (the culprits picked by INVALID_OBJECT_IDS, not by bisecting)", n, tc.calls)
			}
			if n := len(e.srv.Communications()) - stored; n != len(tc.acts)-len(tc.bad) {
				t.Errorf("%d communications stored, want %d", n, len(tc.acts)-len(tc.bad))
			}
		})
	}
}

func TestAmbiguousFailureThenFindActivityAfterIndexLag(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchLag: 45 * time.Second}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	act := activities(cid, 1)[0]
	ctx := context.Background()

	e.srv.Drop(hubspottest.CommsBatchCreate, 1) // applied, then the connection drops
	_, err := e.client.LogActivities(ctx, []crm.Activity{act})
	var ce *crm.Error
	if !errors.As(err, &ce) || !ce.Ambiguous() {
		t.Fatalf("LogActivities over a dropped connection: %v, want an ambiguous *crm.Error", err)
	}
	lag := e.client.IndexLag(act)
	if lag != 60*time.Second {
		t.Errorf("IndexLag = %s, want the 60s default", lag)
	}
	if id, err := findActivity(ctx, e.client, act); err != nil || id != "" {
		t.Errorf("FindActivity before the index caught up = %q, %v; want \"\" (the lag IndexLag covers)", id, err)
	}
	e.clock.Advance(lag) // the loop waits IndexLag before asking
	id, err := findActivity(ctx, e.client, act)
	stored := e.srv.Communications()
	if err != nil || len(stored) != 1 || id != stored[0].ID {
		t.Fatalf("FindActivity after the lag = %q, %v; want %v", id, err, stored)
	}
	// Found: the loop marks it delivered and sends nothing again.
	if n := e.srv.Calls(hubspottest.CommsBatchCreate); n != 1 {
		t.Errorf("batch creates = %d, want 1", n)
	}
}

func TestFindActivityUniqueIDFieldHasNoLag(t *testing.T) {
	e := newEnv(t, hubspottest.Options{SearchLag: time.Hour}, Config{}, Options{})
	e.srv.DeclareUnique("onoff_sms_id")
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	act := activities(cid, 1)[0]
	act.IDFieldUnique = true
	if lag := e.client.IndexLag(act); lag != 0 {
		t.Errorf("IndexLag(unique) = %s, want 0", lag)
	}
	ctx := context.Background()
	if id, err := findActivity(ctx, e.client, act); err != nil || id != "" {
		t.Errorf("FindActivity before logging = %q, %v; want \"\", nil", id, err)
	}
	res := mustLog(t, e.client, []crm.Activity{act})
	if id, err := findActivity(ctx, e.client, act); err != nil || id != res[0].ID {
		t.Errorf("FindActivity = %q, %v; want %q at once", id, err, res[0].ID)
	}
	// Logging it again: HubSpot refuses the duplicate value and names the record: Done.
	res = mustLog(t, e.client, []crm.Activity{act})
	if ce := crm.Classify(res[0].Err); ce == nil || ce.Action != crm.Done || ce.ID == "" {
		t.Errorf("second log = %+v, want Done with the existing id", res[0])
	}
}

// TestFindActivitiesBatched: after a crash a whole batch is ambiguous; the look-up costs one search per 50
// ids, not one per SMS, and matches ids exactly although HubSpot's IN compares without case.
func TestFindActivitiesBatched(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "T"})
	acts := activities(cid, 60)
	acts[0].SourceID, acts[1].SourceID = "Abc-1", "abc-1" // two ids differing only in case
	res := mustLog(t, e.client, acts[:59])                // the 60th was never logged
	e.srv.Settle()
	before := e.srv.Calls(hubspottest.CommsSearch)
	ids, err := e.client.FindActivities(context.Background(), acts)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Calls(hubspottest.CommsSearch) - before; n != 2 {
		t.Errorf("%d searches for 60 ids, want 2 (50 per search)", n)
	}
	for i := range 59 {
		if ids[i] != res[i].ID {
			t.Errorf("activity %d (%s): found %q, want %q", i, acts[i].SourceID, ids[i], res[i].ID)
		}
	}
	if ids[59] != "" {
		t.Errorf("never-logged activity found as %q", ids[59])
	}
}

// findActivity returns the communication holding a.SourceID in a.IDField, or "" when there is none: the
// one-activity form of FindActivities, for tests.
func findActivity(ctx context.Context, c *Client, a crm.Activity) (string, error) {
	ids, err := c.FindActivities(ctx, []crm.Activity{a})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}
