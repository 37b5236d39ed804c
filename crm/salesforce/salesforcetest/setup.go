package salesforcetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// What `onoffsync setup` needs of an org: the Tooling API's CustomField (query and create) and the sObjects
// PermissionSet, FieldPermissions and PermissionSetAssignment. A custom field created on Activity is not
// visible to the integration user (describe, queries, writes) until field-level security grants it: a
// FieldPermissions on Task with PermissionsRead, in a permission set assigned to the user, as in Salesforce.

// customField is a field created through the Tooling API.
type customField struct {
	ID, Object, DeveloperName string // Object: "Activity", ...; DeveloperName without __c
	Label                     string
	Length                    int
	ExternalID, Unique        bool
	granted                   bool
}

// CustomField is a custom field as the Tooling API stores it, for tests.
type CustomField struct {
	Object, Name       string // Name with __c
	Label              string
	Length             int
	ExternalID, Unique bool
	Visible            bool // field-level security lets the integration user see it
}

// CustomFields lists the custom fields created through the Tooling API.
func (s *Server) CustomFields() []CustomField {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CustomField
	for _, c := range s.custom {
		out = append(out, CustomField{Object: c.Object, Name: c.DeveloperName + "__c", Label: c.Label, Length: c.Length,
			ExternalID: c.ExternalID, Unique: c.Unique, Visible: c.granted})
	}
	return out
}

// developerNameRE is Salesforce's rule for an API name: a letter first, letters, digits and single
// underscores, not ending in an underscore.
var developerNameRE = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|_[A-Za-z0-9])*$`)

const insufficientAccess = "insufficient access rights on object id"

// createCustomField is POST .../tooling/sobjects/CustomField {"FullName":"Object.Name__c","Metadata":{...}}.
// It refuses a user without Customize Application (INSUFFICIENT_ACCESS_OR_READONLY), a missing FullName,
// label or type, a Text field without a length of 1 to 255, an invalid API name, and a name the object
// already has (DUPLICATE_DEVELOPER_NAME, "There is already a field named X on Y.").
func (s *Server) createCustomField(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		FullName string `json:"FullName"`
		Metadata *struct {
			Label      string `json:"label"`
			Type       string `json:"type"`
			Length     *int   `json:"length"`
			ExternalID bool   `json:"externalId"`
			Unique     bool   `json:"unique"`
		} `json:"Metadata"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, name, _ := strings.Cut(in.FullName, ".")
	dev, custom := strings.CutSuffix(name, "__c")
	m := in.Metadata
	switch {
	case s.opts.LacksCustomizeApplication:
		writeErr(w, http.StatusBadRequest, "INSUFFICIENT_ACCESS_OR_READONLY", insufficientAccess)
	case in.FullName == "" || m == nil:
		writeErr(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName, Metadata]")
	case obj != "Activity" && !s.hasObject(obj):
		writeErr(w, http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("Cannot find an entity named %s", obj))
	case !custom || !developerNameRE.MatchString(dev):
		writeErr(w, http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("Invalid field name %q: a custom field's name ends in __c, starts with a letter and has no double underscore", name))
	case m.Label == "" || m.Type == "":
		writeErr(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [label, type]")
	case m.Type == "Text" && (m.Length == nil || *m.Length < 1 || *m.Length > 255):
		writeErr(w, http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", "Length: a Text field's length must be between 1 and 255")
	case m.Type != "Text":
		writeErr(w, http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("type %q is not supported by this fake", m.Type))
	case s.customFieldIndex(obj, dev) >= 0:
		writeErr(w, http.StatusBadRequest, "DUPLICATE_DEVELOPER_NAME", fmt.Sprintf("There is already a field named %s on %s.", dev, obj))
	default:
		s.seq++
		id := fmt.Sprintf("00N000000000%03dAAA", s.seq%1000)
		s.custom = append(s.custom, customField{ID: id, Object: obj, DeveloperName: dev, Label: m.Label, Length: *m.Length,
			ExternalID: m.ExternalID, Unique: m.Unique})
		writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}, "warnings": []any{}, "infos": []any{}})
	}
}

// customFieldIndex finds a custom field by object and developer name (case-insensitive, as Salesforce
// compares API names), or -1; s.mu held.
func (s *Server) customFieldIndex(obj, dev string) int {
	s.seedTaskIDField()
	for i, c := range s.custom {
		if strings.EqualFold(c.Object, obj) && strings.EqualFold(c.DeveloperName, dev) {
			return i
		}
	}
	return -1
}

// seedTaskIDField records the TaskIDField option as an Activity custom field that exists and is granted;
// s.mu held.
func (s *Server) seedTaskIDField() {
	dev := strings.TrimSuffix(s.opts.TaskIDField, "__c")
	if dev != "" && !s.customExists("Activity", dev) {
		s.custom = append(s.custom, customField{ID: "00N000000000000AAA", Object: "Activity", DeveloperName: dev,
			Length: 64, ExternalID: true, Unique: true, granted: true})
	}
}

func (s *Server) customExists(obj, dev string) bool {
	for _, c := range s.custom {
		if strings.EqualFold(c.Object, obj) && strings.EqualFold(c.DeveloperName, dev) {
			return true
		}
	}
	return false
}

var (
	toolingSelectRE = regexp.MustCompile(`(?i)^SELECT\s+([\w\s,]+?)\s+FROM\s+CustomField\s+WHERE\s+(.+)$`)
	toolingCondRE   = regexp.MustCompile(`(?i)^\s*(\w+)\s*=\s*'([^'\\]*)'\s*$`)
)

// toolingQuery is GET .../tooling/query?q=SELECT fields FROM CustomField WHERE f = 'v' [AND ...], with fields
// among Id, DeveloperName, TableEnumOrId, FullName. Any other query is a MALFORMED_QUERY here.
func (s *Server) toolingQuery(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	m := toolingSelectRE.FindStringSubmatch(q)
	if m == nil {
		writeErr(w, http.StatusBadRequest, "MALFORMED_QUERY", "this fake's Tooling API answers SELECT ... FROM CustomField WHERE ... only")
		return
	}
	conds := map[string]string{}
	for _, c := range regexp.MustCompile(`(?i)\s+AND\s+`).Split(m[2], -1) {
		cm := toolingCondRE.FindStringSubmatch(c)
		if cm == nil {
			writeErr(w, http.StatusBadRequest, "MALFORMED_QUERY", fmt.Sprintf("unexpected condition %q", c))
			return
		}
		conds[cm[1]] = cm[2]
	}
	var fields []string
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "Id", "DeveloperName", "TableEnumOrId", "FullName":
			fields = append(fields, f)
		default:
			writeErr(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity 'CustomField'.", f))
			return
		}
	}
	s.mu.Lock()
	s.seedTaskIDField()
	var recs []map[string]any
	for _, c := range s.custom {
		v := map[string]any{"Id": c.ID, "DeveloperName": c.DeveloperName, "TableEnumOrId": c.Object,
			"FullName": c.Object + "." + c.DeveloperName + "__c"}
		ok := true
		for k, want := range conds {
			have, known := v[k].(string)
			ok = ok && known && strings.EqualFold(have, want)
		}
		if !ok {
			continue
		}
		rec := map[string]any{"attributes": map[string]string{"type": "CustomField",
			"url": "/services/data/" + r.PathValue("v") + "/tooling/sobjects/CustomField/" + c.ID}}
		for _, f := range fields {
			rec[f] = v[f]
		}
		recs = append(recs, rec)
	}
	s.mu.Unlock()
	if recs == nil {
		recs = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"size": len(recs), "totalSize": len(recs), "done": true,
		"queryLocator": nil, "entityTypeName": "CustomField", "records": recs})
}

// checkSetupRecord refuses what Salesforce refuses of a PermissionSet, FieldPermissions or
// PermissionSetAssignment create beyond field validation; s.mu held.
func (s *Server) checkSetupRecord(obj string, f map[string]any) *recErr {
	str := func(k string) string { v, _ := f[k].(string); return v }
	if obj != "PermissionSet" && obj != "FieldPermissions" && obj != "PermissionSetAssignment" {
		return nil
	}
	s.seedTaskIDField()
	if s.opts.LacksManagePermissionSets {
		return rerr("INSUFFICIENT_ACCESS_OR_READONLY", insufficientAccess)
	}
	switch obj {
	case "PermissionSet":
		if !developerNameRE.MatchString(str("Name")) {
			return rerr("FIELD_INTEGRITY_EXCEPTION", "Name: the API name can only contain underscores and alphanumeric characters, must begin with a letter, not include spaces, not end with an underscore, and not contain two consecutive underscores.", "Name")
		}
		if s.find("PermissionSet", map[string]string{"Name": str("Name")}) != "" {
			return rerr("DUPLICATE_DEVELOPER_NAME", "The API Name you entered is already in use. Enter a unique API Name.", "Name")
		}
	case "FieldPermissions":
		if s.find("PermissionSet", map[string]string{"Id": str("ParentId")}) == "" {
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "ParentId")
		}
		typ, field := str("SobjectType"), str("Field")
		o, name, _ := strings.Cut(field, ".")
		dev, _ := strings.CutSuffix(name, "__c")
		activity := typ == "Task" || typ == "Event"
		switch {
		case typ == "Activity" || (!activity && !s.hasObject(typ)):
			return rerr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Sobject Type Name: bad value for restricted picklist field: "+typ, "SobjectType")
		case o != typ || !(activity && s.customExists("Activity", dev)) && !s.customExists(typ, dev):
			// a custom field of the object (an Activity field is granted on Task and Event)
			return rerr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Field Name: bad value for restricted picklist field: "+field, "Field")
		case f["PermissionsEdit"] == true && f["PermissionsRead"] != true:
			return rerr("FIELD_INTEGRITY_EXCEPTION", "Permission Edit depends on permission(s): Read", "PermissionsRead")
		}
		if s.find("FieldPermissions", map[string]string{"ParentId": str("ParentId"), "Field": field}) != "" {
			return rerr("DUPLICATE_VALUE", "duplicate value found: <unknown> duplicates value on record with id: <unknown>")
		}
	case "PermissionSetAssignment":
		if s.find("PermissionSet", map[string]string{"Id": str("PermissionSetId")}) == "" {
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "PermissionSetId")
		}
		if a := str("AssigneeId"); a != IntegrationUser && s.find("User", map[string]string{"Id": a}) == "" {
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "AssigneeId")
		}
		if s.find("PermissionSetAssignment", map[string]string{"PermissionSetId": str("PermissionSetId"), "AssigneeId": str("AssigneeId")}) != "" {
			return rerr("DUPLICATE_VALUE", "duplicate value found: <unknown> duplicates value on record with id: <unknown>")
		}
	}
	return nil
}

// find returns the id of the first live record of obj whose fields equal want ("Id" is the id); s.mu held.
func (s *Server) find(obj string, want map[string]string) string {
	for _, id := range s.byType[obj] {
		r := s.recs[id]
		if r.deleted {
			continue
		}
		ok := true
		for k, v := range want {
			have := fmt.Sprint(r.fields[k])
			if k == "Id" {
				have = id
			}
			ok = ok && have == v
		}
		if ok {
			return id
		}
	}
	return ""
}

// applyGrants makes each custom Activity field visible on Task to the integration user once a permission
// set assigned to the user grants it (FieldPermissions Task, PermissionsRead; read-only without
// PermissionsEdit); an external-ID field then takes upserts. s.mu held.
func (s *Server) applyGrants() {
	for i, c := range s.custom {
		if c.granted || c.Object != "Activity" {
			continue
		}
		field := c.DeveloperName + "__c"
		for _, fp := range s.byType["FieldPermissions"] {
			r := s.recs[fp]
			if r.deleted || r.fields["SobjectType"] != "Task" || r.fields["Field"] != "Task."+field || r.fields["PermissionsRead"] != true {
				continue
			}
			ps, _ := r.fields["ParentId"].(string)
			if s.find("PermissionSetAssignment", map[string]string{"PermissionSetId": ps, "AssigneeId": IntegrationUser}) == "" {
				continue
			}
			s.custom[i].granted = true
			s.AddField("Task", Field{Name: field, Type: "string", Length: c.Length, ExternalID: c.ExternalID, Unique: c.Unique,
				ReadOnly: r.fields["PermissionsEdit"] != true})
			if c.ExternalID && s.opts.TaskIDField == "" {
				s.opts.TaskIDField = field
			}
			break
		}
	}
}
