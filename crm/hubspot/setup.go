package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// IDProperty is the property `onoffsync setup` creates on communications and calls, and the one
// `activity.id_field: auto` uses when it exists.
const IDProperty = "onoff_message_id"

// Scopes for the properties API, from the security of HubSpot's 2026-09 properties spec: reading a
// definition accepts any of many read scopes (among them crm.objects.contacts.read, which the adapter has
// anyway); creating one on contacts, communications or calls needs the contacts schema write scope.
const (
	ScopeSchemasContactsRead  = "crm.schemas.contacts.read"
	ScopeSchemasContactsWrite = "crm.schemas.contacts.write"
)

// idObjects are the objects that hold the id property: SMS are communications, calls are calls.
var idObjects = []string{"communications", "calls"}

// propertyCreate is the PropertyCreate body of POST /crm/properties/{version}/{objectType}.
type propertyCreate struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Type        string `json:"type"`
	FieldType   string `json:"fieldType"`
	GroupName   string `json:"groupName"`
	Description string `json:"description"`
	FormField   bool   `json:"formField"`
}

// Setup creates the single-line text property IDProperty (type string, fieldType text) on communications
// and on calls where it is missing, in the object's own information group (read from its groups), and
// reports a property of that name that exists as it is, changing nothing. With dryRun it only reads. A
// missing scope is an error naming it; steps done before it are returned with it.
func (c *Client) Setup(ctx context.Context, dryRun bool) ([]crm.SetupStep, error) {
	var steps []crm.SetupStep
	for _, obj := range idObjects {
		st, err := c.setupProperty(ctx, obj, dryRun)
		if err != nil {
			return steps, err
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func (c *Client) setupProperty(ctx context.Context, obj string, dryRun bool) (crm.SetupStep, error) {
	step := crm.SetupStep{What: obj + " property " + IDProperty}
	p, ok, err := c.property(ctx, obj, IDProperty)
	if err != nil {
		return step, scopeError("read the "+obj+" property definitions", err, ScopeSchemasContactsRead)
	}
	if ok {
		step.State, step.Detail = crm.SetupExists, describeProperty(p)
		return step, nil
	}
	if dryRun {
		step.State, step.Detail = crm.SetupPlanned, "single-line text (type string, fieldType text)"
		return step, nil
	}
	group, err := c.infoGroup(ctx, obj)
	if err != nil {
		return step, scopeError("read the "+obj+" property groups", err, ScopeSchemasContactsRead)
	}
	body := propertyCreate{Name: IDProperty, Label: "Onoff message id", Type: "string", FieldType: "text", GroupName: group,
		Description: "The Onoff id of the SMS or call this record logs, set by onoffsync so that a retry never logs it twice."}
	status, err := c.do(ctx, call{method: http.MethodPost, path: c.api.properties(obj, ""), body: body, write: true}, nil)
	if status == http.StatusConflict {
		// Created meanwhile (another run): HubSpot answers 409 OBJECT_ALREADY_EXISTS.
		step.State, step.Detail = crm.SetupExists, "single-line text"
		return step, nil
	}
	if err != nil {
		return step, scopeError("create the "+obj+" property "+IDProperty, err, ScopeSchemasContactsWrite)
	}
	step.State, step.Detail = crm.SetupCreated, "single-line text (type string, fieldType text) in group "+group
	return step, nil
}

// describeProperty says what an existing id property is, and why auto will not use it when it is not text.
func describeProperty(p propertyInfo) string {
	if p.Type != "" && p.Type != "string" {
		return fmt.Sprintf("but it is of type %s, not string: id_field auto will not use it (the Onoff id is text); delete it or name another property in activity.id_field", p.Type)
	}
	if p.HasUniqueValue {
		return "text, unique values"
	}
	return "text"
}

// infoGroup picks the group a new property of obj goes in: the object's information group
// ("communicationinformation", ...), else its first group.
func (c *Client) infoGroup(ctx context.Context, obj string) (string, error) {
	var resp struct {
		Results []struct {
			Name     string `json:"name"`
			Archived bool   `json:"archived"`
		} `json:"results"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: c.api.properties(obj, "/groups")}, &resp); err != nil {
		return "", err
	}
	first := ""
	for _, g := range resp.Results {
		if g.Archived {
			continue
		}
		if strings.HasSuffix(g.Name, "information") {
			return g.Name, nil
		}
		if first == "" {
			first = g.Name
		}
	}
	if first == "" {
		return "", &crm.Error{Action: crm.Permanent, Message: "HubSpot lists no property group for " + obj}
	}
	return first, nil
}

// scopeError turns a 403 into one line naming the missing scope (HubSpot's requiredGranularScopes when the
// body names them, else scope); other errors are wrapped with what was being done.
func scopeError(what string, err error, scope string) error {
	var ce *crm.Error
	if errors.As(err, &ce) && ce.Status == http.StatusForbidden {
		missing := missingScopes(apiErrorOf(err))
		if len(missing) == 0 {
			missing = []string{scope}
		}
		return fmt.Errorf("HubSpot refuses to %s: the app lacks the scope %s (add it to the private app or the OAuth app, then run setup again)",
			what, strings.Join(missing, " or "))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ResolveIDField reads the definition of IDProperty on communications (SMS) and calls: it is the id field
// where it exists as a text property, with HubSpot's hasUniqueValue. Two calls, made afresh each time.
func (c *Client) ResolveIDField(ctx context.Context) (crm.IDFieldStatus, error) {
	var st crm.IDFieldStatus
	for _, obj := range idObjects {
		p, ok, err := c.property(ctx, obj, IDProperty)
		if err != nil {
			return st, scopeError("read the "+obj+" property "+IDProperty, err, ScopeSchemasContactsRead)
		}
		if !ok || (p.Type != "" && p.Type != "string") {
			continue
		}
		if obj == "calls" {
			st.Call, st.CallUnique = IDProperty, p.HasUniqueValue
		} else {
			st.SMS, st.SMSUnique = IDProperty, p.HasUniqueValue
		}
	}
	return st, nil
}
