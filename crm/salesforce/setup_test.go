package salesforce_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

func stepStates(steps []crm.SetupStep) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.State)
	}
	return out
}

// TestSetup: a dry run reads only; setup creates the External ID field on Activity, the permission set, its
// field permission on Task and its assignment to the integration user, after which the user sees the field
// and Tasks upsert on it; a second run finds everything and creates nothing.
func TestSetup(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	ctx := context.Background()
	if st, err := e.c.ResolveIDField(ctx); err != nil || st != (crm.IDFieldStatus{}) {
		t.Fatalf("ResolveIDField before setup = %+v, %v; want none", st, err)
	}

	steps, err := e.c.Setup(ctx, true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got, want := stepStates(steps), []string{crm.SetupPlanned, crm.SetupPlanned, crm.SetupPlanned, crm.SetupPlanned}; !cmp.Equal(got, want) {
		t.Errorf("dry run states %v, want %v", got, want)
	}
	if n := e.srv.Calls(salesforcetest.EndpointCustomFieldCreate) + e.srv.Calls(salesforcetest.EndpointCreate); n != 0 {
		t.Errorf("dry run sent %d creates, want 0", n)
	}

	steps, err = e.c.Setup(ctx, false)
	if err != nil {
		t.Fatalf("setup: %v (steps %+v)", err, steps)
	}
	if got, want := stepStates(steps), []string{crm.SetupCreated, crm.SetupCreated, crm.SetupCreated, crm.SetupCreated}; !cmp.Equal(got, want) {
		t.Errorf("setup states %v, want %v (%+v)", got, want, steps)
	}
	want := []salesforcetest.CustomField{{Object: "Activity", Name: salesforce.IDField, Label: "Onoff Message Id", Length: 80,
		ExternalID: true, Unique: true, Visible: true}}
	if diff := cmp.Diff(want, e.srv.CustomFields()); diff != "" {
		t.Errorf("custom fields (-want +got):\n%s", diff)
	}
	st, err := e.c.ResolveIDField(ctx)
	if wantSt := (crm.IDFieldStatus{SMS: salesforce.IDField, Call: salesforce.IDField, SMSUnique: true, CallUnique: true}); err != nil || st != wantSt {
		t.Errorf("ResolveIDField after setup = %+v, %v; want %+v", st, err, wantSt)
	}
	// The field works: a Task upserted on it twice is one Task.
	who := e.srv.SeedContact(salesforcetest.Person{LastName: "Martin"})
	act := crm.Activity{SourceID: "sms-1", ContactID: who, ContactKind: crm.KindContact, Timestamp: t0,
		Fields: map[string]string{"Subject": "SMS"}, IDField: salesforce.IDField, IDFieldUnique: true}
	for range 2 {
		if res, err := e.c.LogActivities(ctx, []crm.Activity{act}); err != nil || res[0].Err != nil {
			t.Fatalf("log on the new field: %v %+v", err, res)
		}
	}
	if n := len(e.srv.Tasks()); n != 1 {
		t.Errorf("%d Tasks after two upserts, want 1", n)
	}

	creates := e.srv.Calls(salesforcetest.EndpointCustomFieldCreate) + e.srv.Calls(salesforcetest.EndpointCreate)
	steps, err = e.c.Setup(ctx, false)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got, want := stepStates(steps), []string{crm.SetupExists, crm.SetupExists, crm.SetupExists, crm.SetupExists}; !cmp.Equal(got, want) {
		t.Errorf("second run states %v, want %v", got, want)
	}
	if n := e.srv.Calls(salesforcetest.EndpointCustomFieldCreate) + e.srv.Calls(salesforcetest.EndpointCreate); n != creates {
		t.Errorf("second run sent %d creates, want none", n-creates)
	}
}

// TestSetupWithoutPermission: a user without Customize Application gets an admin's exact steps and a
// one-line error naming the permission; one who may create the field but not permission sets gets the
// remaining steps.
func TestSetupWithoutPermission(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       salesforcetest.Options
		perm       string
		fieldSteps bool
	}{
		{"customize application", salesforcetest.Options{LacksCustomizeApplication: true}, "Customize Application", true},
		{"permission sets", salesforcetest.Options{LacksManagePermissionSets: true}, "Manage Profiles and Permission Sets", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts, nil)
			steps, err := e.c.Setup(context.Background(), false)
			if err == nil || !strings.Contains(err.Error(), tc.perm) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v; want one line naming %q", err, tc.perm)
			}
			last := steps[len(steps)-1]
			if last.State != crm.SetupManual || !strings.Contains(last.Detail, "Manage Assignments > Add Assignment") ||
				!strings.Contains(last.Detail, salesforcetest.IntegrationUser) ||
				strings.Contains(last.Detail, "Object Manager > Activity") != tc.fieldSteps {
				t.Errorf("last step %+v; want an admin's steps (field steps %v)", last, tc.fieldSteps)
			}
		})
	}
}

// TestSetupFieldAlreadyThere: a field an admin created before (the TaskIDField option) is reported, not
// created again.
func TestSetupFieldAlreadyThere(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{TaskIDField: salesforce.IDField}, nil)
	steps, err := e.c.Setup(context.Background(), false)
	if err != nil || steps[0].State != crm.SetupExists || e.srv.Calls(salesforcetest.EndpointCustomFieldCreate) != 0 {
		t.Errorf("steps %+v, %v, %d field creates; want the field reported as existing", steps, err, e.srv.Calls(salesforcetest.EndpointCustomFieldCreate))
	}
}
