package hubspot

import (
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestBatchResultsMatchedByTraceIDOnly: the fake returns batch results shuffled, as HubSpot does; each activity
// gets the id of the communication holding its own Onoff id. A result without objectWriteTraceId is not
// matched by position: its input is ambiguous (NO_RESULT, Retry), never given another input's record.
func TestBatchResultsMatchedByTraceIDOnly(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	cid := e.srv.SeedContact(map[string]string{"lastname": "O", "phone": "+33612345678"})
	acts := activities(cid, 20)
	res := mustLog(t, e.client, acts)
	byID := map[string]string{}
	for _, o := range e.srv.Communications() {
		byID[o.ID] = o.Properties["onoff_sms_id"]
	}
	for i, r := range res {
		if r.Err != nil || byID[r.ID] != acts[i].SourceID {
			t.Errorf("activity %s got %+v, which holds %q", acts[i].SourceID, r, byID[r.ID])
		}
	}

	// Two results, in the reverse order of the inputs, without trace ids: nobody can tell whose they are.
	e.srv.Fail(hubspottest.CommsBatchCreate, 1, 201, `{"status":"COMPLETE","startedAt":"2026-05-20T12:00:00Z","completedAt":"2026-05-20T12:00:01Z",
		"results":[{"id":"502","properties":{},"createdAt":"2026-05-20T12:00:00Z","updatedAt":"2026-05-20T12:00:00Z","archived":false},
		{"id":"501","properties":{},"createdAt":"2026-05-20T12:00:00Z","updatedAt":"2026-05-20T12:00:00Z","archived":false}]}`)
	two := activities(cid, 2)
	for i, r := range mustLog(t, e.client, two) {
		ce := crm.Classify(r.Err)
		if r.ID != "" || ce == nil || ce.Code != "NO_RESULT" || ce.Action != crm.Retry || !ce.Ambiguous() {
			t.Errorf("activity %d: got %+v (%v), want no id and an ambiguous NO_RESULT", i, r, r.Err)
		}
	}
}
