package salesforcetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSetupRefusals: the Tooling API and the permission objects refuse what Salesforce refuses.
func TestSetupRefusals(t *testing.T) {
	s := New(Options{ClientID: "id", ClientSecret: "secret"})
	defer s.Close()
	resp, err := http.PostForm(s.URL()+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"secret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	call := func(path, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/services/data/v66.0"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		var raw json.RawMessage
		json.NewDecoder(resp.Body).Decode(&raw)
		b.Write(raw)
		return resp.StatusCode, b.String()
	}
	field := `{"FullName":"Activity.Onoff_Message_Id__c","Metadata":{"label":"L","type":"Text","length":80,"externalId":true,"unique":true}}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"no length", "/tooling/sobjects/CustomField", `{"FullName":"Activity.X__c","Metadata":{"label":"L","type":"Text"}}`, 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"not custom", "/tooling/sobjects/CustomField", `{"FullName":"Activity.X","Metadata":{"label":"L","type":"Text","length":5}}`, 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"no label", "/tooling/sobjects/CustomField", `{"FullName":"Activity.X__c","Metadata":{"type":"Text","length":5}}`, 400, "REQUIRED_FIELD_MISSING"},
		{"created", "/tooling/sobjects/CustomField", field, 201, ""},
		{"duplicate", "/tooling/sobjects/CustomField", field, 400, "DUPLICATE_DEVELOPER_NAME"},
		{"permission set without label", "/sobjects/PermissionSet", `{"Name":"Onoff_Sync"}`, 400, "REQUIRED_FIELD_MISSING"},
		{"field permission on Activity", "/sobjects/FieldPermissions", `{"ParentId":"0PS000000000000","SobjectType":"Activity","Field":"Activity.Onoff_Message_Id__c","PermissionsRead":true}`, 400, "INVALID_CROSS_REFERENCE_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := call(tc.path, tc.body)
			if st != tc.status || !strings.Contains(body, tc.code) {
				t.Errorf("got %d %s, want %d %s", st, body, tc.status, tc.code)
			}
		})
	}
	st, body := call("/sobjects/PermissionSet", `{"Name":"Onoff_Sync","Label":"Onoff Sync"}`)
	var ps struct{ ID string }
	json.Unmarshal([]byte(body), &ps)
	if st != 201 {
		t.Fatalf("permission set: %d %s", st, body)
	}
	if st, body := call("/sobjects/PermissionSet", `{"Name":"Onoff_Sync","Label":"Onoff Sync"}`); st != 400 || !strings.Contains(body, "DUPLICATE_DEVELOPER_NAME") {
		t.Errorf("second permission set: %d %s", st, body)
	}
	fp := func(typ, field string) string {
		return `{"ParentId":"` + ps.ID + `","SobjectType":"` + typ + `","Field":"` + field + `","PermissionsRead":true,"PermissionsEdit":true}`
	}
	if st, body := call("/sobjects/FieldPermissions", fp("Activity", "Activity.Onoff_Message_Id__c")); st != 400 || !strings.Contains(body, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") {
		t.Errorf("FieldPermissions on Activity: %d %s; want the restricted picklist refusal (Task or Event)", st, body)
	}
	if st, body := call("/sobjects/FieldPermissions", fp("Task", "Task.Nope__c")); st != 400 || !strings.Contains(body, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") {
		t.Errorf("FieldPermissions on a missing field: %d %s", st, body)
	}
	if st, body := call("/sobjects/FieldPermissions", fp("Task", "Task.Onoff_Message_Id__c")); st != 201 {
		t.Errorf("FieldPermissions on Task: %d %s", st, body)
	}
	if st, body := call("/sobjects/FieldPermissions", fp("Task", "Task.Onoff_Message_Id__c")); st != 400 || !strings.Contains(body, "DUPLICATE_VALUE") {
		t.Errorf("second FieldPermissions: %d %s", st, body)
	}
	if cf := s.CustomFields(); len(cf) != 1 || cf[0].Visible {
		t.Errorf("custom fields %+v: want one, hidden until the permission set is assigned", cf)
	}
	if st, body := call("/sobjects/PermissionSetAssignment", `{"PermissionSetId":"`+ps.ID+`","AssigneeId":"`+IntegrationUser+`"}`); st != 201 {
		t.Errorf("assignment: %d %s", st, body)
	}
	if cf := s.CustomFields(); len(cf) != 1 || !cf[0].Visible {
		t.Errorf("custom fields %+v: want it visible once assigned", cf)
	}
}
