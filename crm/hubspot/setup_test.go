package hubspot

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestSetup: a dry run reads only; setup creates onoff_message_id (single-line text) on communications and
// calls; a second run finds both and creates nothing; ResolveIDField follows.
func TestSetup(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	ctx := context.Background()
	if st, err := e.client.ResolveIDField(ctx); err != nil || st != (crm.IDFieldStatus{}) {
		t.Fatalf("ResolveIDField before setup = %+v, %v; want none", st, err)
	}

	steps, err := e.client.Setup(ctx, true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := states(steps); !cmp.Equal(got, []string{"communications property onoff_message_id: would create", "calls property onoff_message_id: would create"}) {
		t.Errorf("dry run steps %q", got)
	}
	if n := e.srv.Calls(hubspottest.PropertiesCreate); n != 0 {
		t.Errorf("dry run sent %d property creates, want 0", n)
	}

	steps, err = e.client.Setup(ctx, false)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if got := states(steps); !cmp.Equal(got, []string{"communications property onoff_message_id: created", "calls property onoff_message_id: created"}) {
		t.Errorf("setup steps %q", got)
	}
	for _, obj := range []string{"communications", "calls"} {
		p, ok := e.srv.Property(obj, "onoff_message_id")
		if !ok || p.Type != "string" || p.FieldType != "text" || p.GroupName != strings.TrimSuffix(obj, "s")+"information" {
			t.Errorf("%s property %+v (exists %v), want string/text in the information group", obj, p, ok)
		}
	}

	steps, err = e.client.Setup(ctx, false)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := states(steps); !cmp.Equal(got, []string{"communications property onoff_message_id: exists", "calls property onoff_message_id: exists"}) {
		t.Errorf("second run steps %q", got)
	}
	if n := e.srv.Calls(hubspottest.PropertiesCreate); n != 2 {
		t.Errorf("property creates after two runs = %d, want 2", n)
	}
	st, err := e.client.ResolveIDField(ctx)
	if want := (crm.IDFieldStatus{SMS: IDProperty, Call: IDProperty}); err != nil || st != want {
		t.Errorf("ResolveIDField after setup = %+v, %v; want %+v", st, err, want)
	}
}

// TestSetupExistingProperties: a unique-valued property is reported and resolved as unique; one that is not
// text is reported and not used.
func TestSetupExistingProperties(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.DeclareProperty("communications", hubspottest.Property{Name: IDProperty, HasUniqueValue: true})
	e.srv.DeclareProperty("calls", hubspottest.Property{Name: IDProperty, Type: "number"})
	steps, err := e.client.Setup(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].State != crm.SetupExists || steps[0].Detail != "text, unique values" ||
		steps[1].State != crm.SetupExists || !strings.Contains(steps[1].Detail, "number") {
		t.Errorf("steps %+v", steps)
	}
	st, err := e.client.ResolveIDField(context.Background())
	if want := (crm.IDFieldStatus{SMS: IDProperty, SMSUnique: true}); err != nil || st != want {
		t.Errorf("ResolveIDField = %+v, %v; want %+v", st, err, want)
	}
}

// TestSetupMissingScope: without crm.schemas.contacts.write the create is refused (403 MISSING_SCOPES) and
// setup fails with one line naming the scope.
func TestSetupMissingScope(t *testing.T) {
	e := newEnv(t, hubspottest.Options{Scopes: []string{ScopeContactsRead, ScopeContactsWrite}}, Config{}, Options{})
	_, err := e.client.Setup(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), ScopeSchemasContactsWrite) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("setup without the schema scope: %v; want one line naming %s", err, ScopeSchemasContactsWrite)
	}
	if _, ok := e.srv.Property("communications", IDProperty); ok {
		t.Errorf("property created despite the 403")
	}
}

func states(steps []crm.SetupStep) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.What+": "+s.State)
	}
	return out
}
