package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// What `onoffsync setup` creates in Salesforce (API.md, "Setup"): the External ID, unique text field
// IDField on Activity (Tooling API CustomField), and a permission set granting the integration user read
// and edit on it for Tasks, assigned to that user.
const (
	IDField           = "Onoff_Message_Id__c"
	idFieldName       = "Onoff_Message_Id" // its DeveloperName
	idFieldLength     = 80                 // "call:" and an Onoff id fit
	PermissionSetName = "Onoff_Sync"
	permissionSetLbl  = "Onoff Sync"
)

// errNoPermission marks a refusal for lack of a user permission (the admin's steps are in the step list).
var errNoPermission = errors.New("permission refused")

// permissionRefused says whether a Salesforce error means the integration user lacks a permission:
// a 403, or an INSUFFICIENT_ACCESS* code.
func permissionRefused(err error) bool {
	var ce *crm.Error
	return errors.As(err, &ce) && (ce.Status == http.StatusForbidden || strings.HasPrefix(ce.Code, "INSUFFICIENT_ACCESS"))
}

// adminSteps are the exact steps for an admin when the integration user may not do them itself.
func adminSteps(user string, field bool) string {
	var b strings.Builder
	n := 1
	step := func(format string, args ...any) {
		fmt.Fprintf(&b, "%d. "+format+"\n", append([]any{n}, args...)...)
		n++
	}
	if field {
		step("Setup > Object Manager > Activity > Fields & Relationships > New: Text; Field Label \"Onoff Message Id\", Length %d, Field Name %s;", idFieldLength, idFieldName)
		b.WriteString("   check \"Unique\" (treat \"ABC\" and \"abc\" as different values) and \"External ID\"; Next, Next, Save.\n")
	}
	step("Setup > Permission Sets > New: Label %q, API Name %s; Save.", permissionSetLbl, PermissionSetName)
	step("In it: Object Settings > Tasks > Edit: Field Permissions, Onoff Message Id: Read Access and Edit Access; Save.")
	who := "the integration user"
	if user != "" {
		who += " (User Id " + user + ")"
	}
	step("Manage Assignments > Add Assignment: %s; Assign.", who)
	fmt.Fprintf(&b, "Or grant the user's profile \"Customize Application\", \"Manage Profiles and Permission Sets\" and \"Assign Permission Sets\" and run setup again.")
	return b.String()
}

// Setup creates what the exact path needs, each part only when missing: the field IDField on Activity
// (External ID, unique, text), the permission set PermissionSetName, its FieldPermissions on
// Task.IDField (read and edit), and its assignment to the integration user. With dryRun it only reads.
// When the user lacks a permission, the last step is SetupManual with an admin's exact steps and the
// error names the permission.
func (c *Client) Setup(ctx context.Context, dryRun bool) ([]crm.SetupStep, error) {
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	user := s.userID
	var steps []crm.SetupStep
	manual := func(what string, field bool, perm string) ([]crm.SetupStep, error) {
		steps = append(steps, crm.SetupStep{What: what, State: crm.SetupManual, Detail: adminSteps(user, field)})
		return steps, fmt.Errorf("the integration user lacks the Salesforce permission %q", perm)
	}

	fieldWhat := "Activity field " + IDField + " (External ID, unique)"
	exists, err := c.customFieldExists(ctx)
	switch {
	case permissionRefused(err):
		return manual(fieldWhat, true, "View Setup and Configuration")
	case err != nil:
		return steps, fmt.Errorf("look for the field %s: %w", IDField, err)
	case exists:
		steps = append(steps, crm.SetupStep{What: fieldWhat, State: crm.SetupExists})
	case dryRun:
		steps = append(steps, crm.SetupStep{What: fieldWhat, State: crm.SetupPlanned, Detail: fmt.Sprintf("Text(%d), Tooling API", idFieldLength)})
	default:
		created, err := c.createCustomField(ctx)
		switch {
		case permissionRefused(err):
			return manual(fieldWhat, true, "Customize Application")
		case err != nil:
			return steps, fmt.Errorf("create the field %s: %w", IDField, err)
		}
		state := crm.SetupCreated
		if !created {
			state = crm.SetupExists // DUPLICATE_DEVELOPER_NAME: created meanwhile
		}
		steps = append(steps, crm.SetupStep{What: fieldWhat, State: state, Detail: fmt.Sprintf("Text(%d)", idFieldLength)})
	}

	// The permission set, its field permission and its assignment: each read, then created when missing.
	psWhat := "permission set " + PermissionSetName
	fpWhat := "field permission Task." + IDField + " (read, edit) in " + PermissionSetName
	asWhat := "assignment of " + PermissionSetName + " to the integration user"
	if user != "" {
		asWhat += " " + user
	}
	psID, err := c.findID(ctx, "SELECT Id FROM PermissionSet WHERE Name = "+quoteSOQL(PermissionSetName))
	if err != nil {
		return steps, fmt.Errorf("look for the permission set %s: %w", PermissionSetName, err)
	}
	if psID != "" {
		steps = append(steps, crm.SetupStep{What: psWhat, State: crm.SetupExists})
	} else if dryRun {
		steps = append(steps, crm.SetupStep{What: psWhat, State: crm.SetupPlanned},
			crm.SetupStep{What: fpWhat, State: crm.SetupPlanned}, crm.SetupStep{What: asWhat, State: crm.SetupPlanned})
		return steps, nil
	} else {
		psID, err = c.createRecord(ctx, "PermissionSet", map[string]any{"Name": PermissionSetName, "Label": permissionSetLbl,
			"Description": "Lets onoffsync read and write the Onoff message id on Tasks (onoffsync setup)."})
		if permissionRefused(err) {
			return manual(psWhat, false, "Manage Profiles and Permission Sets")
		}
		if err != nil {
			return steps, fmt.Errorf("create the permission set %s: %w", PermissionSetName, err)
		}
		steps = append(steps, crm.SetupStep{What: psWhat, State: crm.SetupCreated})
	}

	fp, err := c.query(ctx, "SELECT Id, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE ParentId = "+quoteSOQL(psID)+
		" AND SobjectType = 'Task' AND Field = "+quoteSOQL("Task."+IDField))
	switch {
	case err != nil:
		return steps, fmt.Errorf("look for the field permission: %w", err)
	case len(fp) > 0 && fp[0]["PermissionsRead"] == true && fp[0]["PermissionsEdit"] == true:
		steps = append(steps, crm.SetupStep{What: fpWhat, State: crm.SetupExists})
	case len(fp) > 0:
		steps = append(steps, crm.SetupStep{What: fpWhat, State: crm.SetupManual, Detail: "It exists without Edit Access: Setup > Permission Sets > " +
			permissionSetLbl + " > Object Settings > Tasks > Edit: Onoff Message Id: Read Access and Edit Access; Save."})
		return steps, fmt.Errorf("the permission set %s grants %s without edit: an admin must fix it (above)", PermissionSetName, IDField)
	case dryRun:
		steps = append(steps, crm.SetupStep{What: fpWhat, State: crm.SetupPlanned})
	default:
		_, err := c.createRecord(ctx, "FieldPermissions", map[string]any{"ParentId": psID, "SobjectType": "Task",
			"Field": "Task." + IDField, "PermissionsRead": true, "PermissionsEdit": true})
		if permissionRefused(err) {
			return manual(fpWhat, false, "Manage Profiles and Permission Sets")
		}
		if err != nil {
			return steps, fmt.Errorf("grant Task.%s in %s: %w", IDField, PermissionSetName, err)
		}
		steps = append(steps, crm.SetupStep{What: fpWhat, State: crm.SetupCreated})
	}

	if user == "" {
		steps = append(steps, crm.SetupStep{What: asWhat, State: crm.SetupManual, Detail: adminSteps("", false)})
		return steps, errors.New("Salesforce's token answer names no user (no \"id\"): an admin must assign the permission set (above)")
	}
	asID, err := c.findID(ctx, "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = "+quoteSOQL(psID)+" AND AssigneeId = "+quoteSOQL(user))
	switch {
	case err != nil:
		return steps, fmt.Errorf("look for the permission set assignment: %w", err)
	case asID != "":
		steps = append(steps, crm.SetupStep{What: asWhat, State: crm.SetupExists})
	case dryRun:
		steps = append(steps, crm.SetupStep{What: asWhat, State: crm.SetupPlanned})
	default:
		_, err := c.createRecord(ctx, "PermissionSetAssignment", map[string]any{"PermissionSetId": psID, "AssigneeId": user})
		if permissionRefused(err) {
			return manual(asWhat, false, "Assign Permission Sets")
		}
		if err != nil {
			return steps, fmt.Errorf("assign %s: %w", PermissionSetName, err)
		}
		steps = append(steps, crm.SetupStep{What: asWhat, State: crm.SetupCreated})
	}
	c.Reload() // the Task describe now shows the field
	return steps, nil
}

// customFieldExists asks the Tooling API whether Activity has IDField, whoever may see it.
func (c *Client) customFieldExists(ctx context.Context) (bool, error) {
	var res struct {
		Records []map[string]any `json:"records"`
	}
	q := "SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = 'Activity' AND DeveloperName = " + quoteSOQL(idFieldName)
	if err := c.doJSON(ctx, call{method: http.MethodGet, path: "/tooling/query", query: url.Values{"q": {q}}}, &res); err != nil {
		return false, err
	}
	return len(res.Records) > 0, nil
}

// createCustomField creates IDField on Activity through the Tooling API; created is false when Salesforce
// says it exists (DUPLICATE_DEVELOPER_NAME).
func (c *Client) createCustomField(ctx context.Context) (created bool, err error) {
	body := map[string]any{"FullName": "Activity." + IDField, "Metadata": map[string]any{
		"label": "Onoff Message Id", "type": "Text", "length": idFieldLength, "externalId": true, "unique": true,
		"caseSensitive": true, "required": false,
		"description": "The Onoff id of the SMS or call this activity logs, set by onoffsync so that a retry never logs it twice."}}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/tooling/sobjects/CustomField", body: body, noRetry: true})
	if err != nil {
		return false, err
	}
	if resp.status >= 200 && resp.status < 300 {
		return true, nil
	}
	ce := c.classify(resp)
	if ce.Code == "DUPLICATE_DEVELOPER_NAME" {
		return false, nil
	}
	return false, ce
}

// createRecord creates an sObject record and returns its id.
func (c *Client) createRecord(ctx context.Context, obj string, fields map[string]any) (string, error) {
	var res struct {
		ID string `json:"id"`
	}
	if err := c.doJSON(ctx, call{method: http.MethodPost, path: "/sobjects/" + obj, body: fields, noRetry: true}, &res); err != nil {
		return "", err
	}
	return res.ID, nil
}

// findID runs a SOQL query and returns the first record's Id, or "".
func (c *Client) findID(ctx context.Context, soql string) (string, error) {
	recs, err := c.query(ctx, soql)
	if err != nil || len(recs) == 0 {
		return "", err
	}
	return str(recs[0], "Id"), nil
}

// ResolveIDField reads the Task describe afresh: IDField is the id field, for SMS and calls alike (both are
// Tasks), when the integration user sees it as an External ID it can create and update; unique as
// Salesforce says.
func (c *Client) ResolveIDField(ctx context.Context) (crm.IDFieldStatus, error) {
	c.Reload()
	task, err := c.describe(ctx, "Task")
	if err != nil {
		return crm.IDFieldStatus{}, err
	}
	f, ok := task.fields[IDField]
	if task.missing || !ok || !f.ExternalID || !f.Createable || !f.Updateable || f.Type != "string" {
		return crm.IDFieldStatus{}, nil
	}
	return crm.IDFieldStatus{SMS: IDField, Call: IDField, SMSUnique: f.Unique, CallUnique: f.Unique}, nil
}
