package salesforce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// TestLogCallTasks: a call is a Task of subtype Call with its call fields typed as Salesforce types them
// (CallDurationInSeconds a number, CallType from its picklist), CallDisposition only for a known status; an
// upsert of the same call again (a redelivery, a retry) finds the Task, whose TaskSubtype the update branch
// refuses, and reports it logged: still one Task.
func TestLogCallTasks(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{TaskIDField: "Onoff_Message_Id__c"}, nil)
	cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Caller"})
	call := func(id, dir, status string) crm.Activity {
		return crm.Activity{SourceID: "call:" + id, ContactID: cid, ContactKind: crm.KindContact, Timestamp: t0,
			IDField: "Onoff_Message_Id__c", Fields: map[string]string{"Description": "notes"},
			Call: &crm.Call{Kind: crm.CallLog, Direction: dir, Status: status, Started: t0, Duration: 90 * time.Second}}
	}
	acts := []crm.Activity{call("a", crm.Outbound, "failed"), call("b", crm.Inbound, "ON_HOLD")}
	ctx := context.Background()
	for round := range 2 {
		res, err := e.c.LogActivities(ctx, acts)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || r.ID == "" {
				t.Fatalf("round %d: result %d = %+v", round, i, r)
			}
		}
	}
	tasks := map[string]map[string]any{}
	for _, task := range e.srv.Tasks() {
		tasks[fmt.Sprint(task.Fields["Onoff_Message_Id__c"])] = task.Fields
	}
	if len(tasks) != 2 || len(e.srv.Tasks()) != 2 {
		t.Fatalf("Tasks %v, want two (one per call, after two rounds)", tasks)
	}
	a, b := tasks["call:a"], tasks["call:b"]
	for _, c := range []struct{ what, got, want string }{
		{"a TaskSubtype", fmt.Sprint(a["TaskSubtype"]), "Call"},
		{"a CallType", fmt.Sprint(a["CallType"]), "Outbound"},
		{"a CallDurationInSeconds", fmt.Sprintf("%v", a["CallDurationInSeconds"]), "90"},
		{"a CallDisposition", fmt.Sprint(a["CallDisposition"]), "failed"},
		{"a Subject", fmt.Sprint(a["Subject"]), "Call"},
		{"a Status", fmt.Sprint(a["Status"]), "Completed"},
		{"a ActivityDate", fmt.Sprint(a["ActivityDate"]), "2026-05-20"},
		{"b CallType", fmt.Sprint(b["CallType"]), "Inbound"},
		{"b CallDisposition (unknown status)", fmt.Sprint(b["CallDisposition"]), "<nil>"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}
