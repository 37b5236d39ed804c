package salesforcetest

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Field is one field of an object as GET .../sobjects/{type}/describe shows it (a subset of Salesforce's
// DescribeFieldResult). Options.Fields adds custom fields with it.
type Field struct {
	Name string
	// Type is the describe type: id, string, textarea, phone, email, url, picklist, combobox, reference,
	// boolean, int, double, date, datetime.
	Type       string
	Length     int // string kinds: maximum length in UTF-16 code units
	ExternalID bool
	Unique     bool
	// ReadOnly fields are neither createable nor updateable (Id, formulas, system fields).
	ReadOnly bool
	// CreateOnly fields are createable but not updateable (Task.TaskSubtype).
	CreateOnly bool
	Required   bool // not nillable on create
}

func (f Field) createable() bool { return !f.ReadOnly }
func (f Field) updateable() bool { return !f.ReadOnly && !f.CreateOnly }

// stringKinds are the describe types whose values are strings with a length.
var stringKinds = map[string]bool{"string": true, "textarea": true, "phone": true, "email": true, "url": true,
	"picklist": true, "combobox": true, "reference": true, "id": true}

func ro(name, typ string, n int) Field {
	return Field{Name: name, Type: typ, Length: n, ReadOnly: true}
}
func rw(name, typ string, n int) Field { return Field{Name: name, Type: typ, Length: n} }
func must(name, typ string, n int) Field {
	return Field{Name: name, Type: typ, Length: n, Required: true}
}

// standardFields are each object's standard fields the fake knows, with their real types and lengths
// (Salesforce Object Reference: Contact, Lead, Task, User, Account).
var standardFields = map[string][]Field{
	"Contact": {ro("Id", "id", 18), ro("Name", "string", 121), rw("FirstName", "string", 40), must("LastName", "string", 80),
		rw("Email", "email", 80), rw("Phone", "phone", 40), rw("MobilePhone", "phone", 40), rw("HomePhone", "phone", 40),
		rw("OtherPhone", "phone", 40), rw("AssistantPhone", "phone", 40), rw("Fax", "phone", 40),
		rw("AccountId", "reference", 18), rw("OwnerId", "reference", 18), rw("Title", "string", 128),
		rw("Description", "textarea", 32000), rw("LeadSource", "picklist", 255),
		ro("LastModifiedDate", "datetime", 0), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18)},
	"Lead": {ro("Id", "id", 18), ro("Name", "string", 121), rw("FirstName", "string", 40), must("LastName", "string", 80),
		rw("Email", "email", 80), rw("Phone", "phone", 40), rw("MobilePhone", "phone", 40), rw("Fax", "phone", 40),
		must("Company", "string", 255), rw("OwnerId", "reference", 18), ro("IsConverted", "boolean", 0),
		rw("Status", "picklist", 255), rw("Title", "string", 128), rw("Description", "textarea", 32000),
		rw("LeadSource", "picklist", 255), ro("LastModifiedDate", "datetime", 0), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18)},
	"User": {ro("Id", "id", 18), ro("Name", "string", 121), rw("FirstName", "string", 40), rw("LastName", "string", 80),
		rw("Email", "email", 128), rw("Username", "string", 80), rw("IsActive", "boolean", 0),
		ro("LastModifiedDate", "datetime", 0), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18)},
	"Account": {ro("Id", "id", 18), must("Name", "string", 255), rw("Phone", "phone", 40), rw("OwnerId", "reference", 18),
		ro("LastModifiedDate", "datetime", 0), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18)},
	"Task": {ro("Id", "id", 18), rw("Subject", "combobox", 255), rw("Description", "textarea", 32000),
		rw("WhoId", "reference", 18), rw("WhatId", "reference", 18), rw("OwnerId", "reference", 18),
		rw("ActivityDate", "date", 0), rw("Status", "picklist", 255), rw("Priority", "picklist", 255),
		rw("Type", "picklist", 255), {Name: "TaskSubtype", Type: "picklist", Length: 255, CreateOnly: true},
		rw("CallType", "picklist", 255), rw("CallDurationInSeconds", "int", 0), rw("CallDisposition", "string", 255),
		rw("CallObject", "string", 255), ro("LastModifiedDate", "datetime", 0), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18)},
	// Setup objects (Object Reference: PermissionSet, FieldPermissions, PermissionSetAssignment), for
	// onoffsync setup.
	"PermissionSet": {ro("Id", "id", 18), must("Name", "string", 80), must("Label", "string", 80),
		rw("Description", "textarea", 255), ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18),
		ro("LastModifiedDate", "datetime", 0)},
	"FieldPermissions": {ro("Id", "id", 18), must("ParentId", "reference", 18), must("SobjectType", "picklist", 40),
		must("Field", "picklist", 255), rw("PermissionsRead", "boolean", 0), rw("PermissionsEdit", "boolean", 0),
		ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18), ro("LastModifiedDate", "datetime", 0)},
	"PermissionSetAssignment": {ro("Id", "id", 18), must("PermissionSetId", "reference", 18), must("AssigneeId", "reference", 18),
		ro("CreatedDate", "datetime", 0), ro("CreatedById", "reference", 18), ro("LastModifiedDate", "datetime", 0)},
}

// buildSchema is the org's schema: standard fields, the Task external-ID field and Options.Fields.
func buildSchema(o Options) map[string]map[string]Field {
	out := map[string]map[string]Field{}
	add := func(obj string, f Field) {
		if out[obj] == nil {
			out[obj] = map[string]Field{}
		}
		out[obj][f.Name] = f
	}
	for obj, fs := range standardFields {
		for _, f := range fs {
			add(obj, f)
		}
	}
	if o.TaskIDField != "" {
		add("Task", Field{Name: o.TaskIDField, Type: "string", Length: 64, ExternalID: true, Unique: true})
	}
	for obj, fs := range o.Fields {
		for _, f := range fs {
			add(obj, f)
		}
	}
	for obj, names := range o.Hidden {
		for _, n := range names {
			delete(out[obj], n)
		}
	}
	return out
}

// field returns obj's field f.
func (s *Server) field(obj, f string) (Field, bool) {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	d, ok := s.schema[obj][f]
	return d, ok
}

// AddField adds (or replaces) a field of obj, as an admin creating a custom field.
func (s *Server) AddField(obj string, f Field) {
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	if s.schema[obj] == nil {
		s.schema[obj] = map[string]Field{}
	}
	s.schema[obj][f.Name] = f
}

// RemoveField removes a field of obj, as an admin deleting it or field-level security hiding it.
func (s *Server) RemoveField(obj, name string) {
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	delete(s.schema[obj], name)
}

// phoneFields are what IN PHONE FIELDS searches on obj: its fields of type phone (custom ones too).
func (s *Server) phoneFields(obj string) []string {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	var out []string
	for n, f := range s.schema[obj] {
		if f.Type == "phone" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Server) hasObject(obj string) bool {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	_, ok := s.schema[obj]
	return ok
}

// describe is GET .../sobjects/{type}/describe: the object's fields as the integration user sees them.
func (s *Server) describe(w http.ResponseWriter, r *http.Request) {
	obj := r.PathValue("type")
	s.schemaMu.RLock()
	fields, ok := maps.Clone(s.schema[obj]), s.schema[obj] != nil
	s.schemaMu.RUnlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		f := fields[n]
		d := map[string]any{"name": f.Name, "label": f.Name, "type": f.Type, "length": f.Length,
			"externalId": f.ExternalID, "unique": f.Unique, "idLookup": f.ExternalID || f.Name == "Id",
			"createable": f.createable(), "updateable": f.updateable(), "nillable": !f.Required && f.Type != "boolean",
			"filterable": f.Type != "textarea", "custom": strings.HasSuffix(f.Name, "__c"),
			"defaultedOnCreate": f.Type == "boolean" || f.Name == "OwnerId" || f.ReadOnly, "picklistValues": []any{}}
		if f.Type == "reference" {
			d["referenceTo"] = []string{}
		}
		for _, v := range s.picklist(obj, f.Name) {
			d["picklistValues"] = append(d["picklistValues"].([]any), map[string]any{"active": true, "label": v, "value": v,
				"defaultValue": false, "validFor": nil})
		}
		out = append(out, d)
	}
	v := r.PathValue("v")
	writeJSON(w, http.StatusOK, map[string]any{
		"name": obj, "label": obj, "custom": false, "keyPrefix": idPrefix[obj],
		"createable": !slices.Contains(s.opts.ReadOnlyObjects, obj), "updateable": !slices.Contains(s.opts.ReadOnlyObjects, obj),
		"deletable": true, "queryable": true, "searchable": obj != "Task", "retrieveable": true,
		"fields": out,
		"urls": map[string]string{"sobject": "/services/data/" + v + "/sobjects/" + obj,
			"describe": "/services/data/" + v + "/sobjects/" + obj + "/describe"},
	})
}

func (s *Server) picklist(obj, field string) []string {
	if obj != "Task" {
		return nil
	}
	switch field {
	case "Type":
		return s.opts.TaskTypes
	case "TaskSubtype":
		return taskSubtypes
	case "CallType":
		return callTypes
	}
	return nil
}

var (
	numberRE   = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	dateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$`)
)

// deserialize checks a record's field names and JSON value types the way Salesforce's JSON deserializer
// does, before anything is saved: an unknown field is INVALID_FIELD, a value the field's type cannot hold
// (a string that is not a number into a number field, "1" into a boolean, "2017-10-17 00:00:00" into a
// date) is JSON_PARSER_ERROR. Both fail the whole request. body locates the value for the message's column.
func (s *Server) deserialize(obj string, f map[string]any, body []byte) *recErr {
	if !s.hasObject(obj) {
		return rerr("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", obj))
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		d, ok := s.field(obj, k)
		if !ok {
			return rerr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, obj))
		}
		if bad, text := badValue(d, f[k]); bad {
			col := bytes.Index(body, []byte(strconv.Quote(text))) + 1
			return &recErr{ErrorCode: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Cannot deserialize instance of %s from VALUE_STRING value %s or request may be missing a required field at [line:1, column:%d]", d.Type, text, col)}
		}
	}
	return nil
}

// badValue reports whether v cannot be deserialized into a field of d's type, and v's text.
func badValue(d Field, v any) (bool, string) {
	sv, isStr := v.(string)
	if !isStr || v == nil {
		return false, ""
	}
	switch d.Type {
	case "boolean":
		return !strings.EqualFold(sv, "true") && !strings.EqualFold(sv, "false"), sv
	case "int", "double", "currency", "percent":
		return !numberRE.MatchString(sv), sv
	case "date":
		_, err := time.Parse(time.DateOnly, sv)
		return err != nil && !dateTimeRE.MatchString(sv), sv
	case "datetime":
		return !dateTimeRE.MatchString(sv), sv
	}
	return false, sv
}

// tooLong answers STRING_TOO_LONG for a string longer than its field, counted in UTF-16 code units as
// Salesforce counts (an emoji is two); a per-record (DML) error.
func tooLong(d Field, v any) *recErr {
	sv, ok := v.(string)
	if !ok || !stringKinds[d.Type] || d.Length <= 0 {
		return nil
	}
	if n := len(utf16.Encode([]rune(sv))); n > d.Length {
		if r := []rune(sv); len(r) > 80 {
			sv = string(r[:80]) + "..." // Salesforce echoes the value; the fake keeps test logs readable
		}
		return rerr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", d.Name, sv, d.Length), d.Name)
	}
	return nil
}
