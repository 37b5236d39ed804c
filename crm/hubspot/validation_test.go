package hubspot

import (
	"context"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

// TestWriteValidationRequiredProperty: from API version 2026-09 HubSpot enforces the admin's required
// properties on writes. A refused contact create or SMS log is a Permanent error (dead letter, never retried)
// that names the property and says where in the mapping to add it.
func TestWriteValidationRequiredProperty(t *testing.T) {
	e := newEnv(t, hubspottest.Options{}, Config{}, Options{})
	e.srv.RequireProperty("contacts", "lifecyclestage")
	e.srv.RequireProperty("communications", "hs_communication_direction")
	ctx := context.Background()

	_, err := e.client.CreateContact(ctx, crm.NewContact{LastName: "X", Phone: fr("0612345678")})
	ce := crm.Classify(err)
	if ce == nil || ce.Action != crm.Permanent || ce.Code != CodeRequiredProperty ||
		!strings.Contains(ce.Message, `"lifecyclestage"`) || !strings.Contains(ce.Message, "create.fields") {
		t.Errorf("create: got %v, want Permanent %s naming lifecyclestage and create.fields", err, CodeRequiredProperty)
	}
	if _, err := e.client.CreateContact(ctx, crm.NewContact{LastName: "X", Fields: map[string]string{"lifecyclestage": "lead"}}); err != nil {
		t.Errorf("create with the property: %v", err)
	}

	cid := e.srv.SeedContact(map[string]string{"lastname": "Y"})
	acts := activities(cid, 3)
	acts[1].Fields["hs_communication_direction"] = "INBOUND"
	res := mustLog(t, e.client, acts)
	for i, r := range res {
		ce := crm.Classify(r.Err)
		if i == 1 {
			if r.Err != nil || r.ID == "" {
				t.Errorf("result 1 = %+v, want logged", r)
			}
			continue
		}
		if ce == nil || ce.Action != crm.Permanent || ce.Code != CodeRequiredProperty ||
			!strings.Contains(ce.Message, `"hs_communication_direction"`) || !strings.Contains(ce.Message, "activity.fields") {
			t.Errorf("result %d = %v, want Permanent %s naming hs_communication_direction and activity.fields", i, r.Err, CodeRequiredProperty)
		}
	}
}

func TestRequiredPropertyParsing(t *testing.T) {
	for _, tc := range []struct {
		name string
		ae   apiError
		want string
		ok   bool
	}{
		{"message only", apiError{Category: "VALIDATION_ERROR", Message: `Property "close_date" is required`}, "close_date", true},
		{"forms style", apiError{Category: "VALIDATION_ERROR", Message: "The request is not valid",
			Errors: []errorDetail{{Message: "Error in 'fields.0-1/lifecyclestage'. Required field '0-1/lifecyclestage' is missing", ErrorType: "REQUIRED_FIELD"}}}, "lifecyclestage", true},
		{"required but unnamed", apiError{Category: "VALIDATION_ERROR", Message: "A required field of the create form is missing"}, "", true},
		{"other validation", apiError{Category: "VALIDATION_ERROR", Message: "Property values were not valid: bad owner"}, "", false},
		{"not validation", apiError{Category: "CONFLICT", Message: "x is required"}, "", false},
		{"body shape", apiError{Category: "VALIDATION_ERROR", Message: "Invalid input: Required property 'limit' is missing",
			Errors: []errorDetail{{Message: "Required property 'limit' is missing", Code: "MISSING_REQUIRED_PROPERTY", In: "body"}}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := requiredProperty(tc.ae)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
