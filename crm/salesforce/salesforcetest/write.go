package salesforcetest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

func set(fs ...string) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f] = true
	}
	return m
}

var taskSubtypes = []string{"Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"}

// callTypes are Task.CallType's values (Salesforce Object Reference, Task: Inbound, Outbound, Internal).
var callTypes = []string{"Inbound", "Outbound", "Internal"}

type recErr = apiError

func rerr(code, msg string, fields ...string) *recErr {
	if fields == nil {
		fields = []string{}
	}
	return &recErr{ErrorCode: code, Message: msg, Fields: fields}
}

// validate checks fields for a create (existing nil) or an update of obj; s.mu held.
func (s *Server) validate(obj string, f map[string]any, existing *record) *recErr {
	if !s.hasObject(obj) {
		return rerr("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", obj))
	}
	if slices.Contains(s.opts.ReadOnlyObjects, obj) {
		return rerr("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d, ok := s.field(obj, k)
		if !ok {
			return rerr("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, obj), k)
		}
		if !d.createable() || (existing != nil && !d.updateable()) {
			return rerr("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", k), k)
		}
		if e := tooLong(d, f[k]); e != nil {
			return e
		}
	}
	merged := map[string]any{}
	if existing != nil {
		maps.Copy(merged, existing.fields)
	}
	maps.Copy(merged, f)
	str := func(k string) string { v, _ := merged[k].(string); return v }
	required := map[string][]string{"Lead": {"LastName", "Company"}, "Contact": {"LastName"}, "Account": {"Name"},
		"PermissionSet": {"Name", "Label"}, "FieldPermissions": {"ParentId", "SobjectType", "Field"},
		"PermissionSetAssignment": {"PermissionSetId", "AssigneeId"}}
	for _, k := range required[obj] {
		if str(k) == "" {
			return rerr("REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: [%s]", k), k)
		}
	}
	if v, ok := f["OwnerId"]; ok {
		if u := s.ref(v); u == nil || u.typ != "User" || u.fields["IsActive"] != true {
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "OwnerId")
		}
	}
	if obj == "Task" {
		return s.validateTask(f, merged, existing != nil)
	}
	return nil
}

func (s *Server) ref(v any) *record {
	id, _ := v.(string)
	return s.recs[id]
}

func (s *Server) validateTask(f, merged map[string]any, update bool) *recErr {
	if _, ok := f["TaskSubtype"]; ok && update {
		return rerr("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: TaskSubtype. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", "TaskSubtype")
	}
	for k, allowed := range map[string][]string{"Type": s.opts.TaskTypes, "TaskSubtype": taskSubtypes, "CallType": callTypes} {
		if v, ok := f[k]; ok && v != nil && v != "" {
			if sv, _ := v.(string); !slices.Contains(allowed, sv) {
				return rerr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %v", k, v), k)
			}
		}
	}
	var who *record
	if v, _ := merged["WhoId"].(string); v != "" {
		who = s.recs[v]
		switch {
		case who != nil && who.deleted:
			return rerr("ENTITY_IS_DELETED", "entity is deleted")
		case who == nil || (who.typ != "Contact" && who.typ != "Lead"):
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "WhoId")
		}
	}
	if v, _ := merged["WhatId"].(string); v != "" {
		what := s.recs[v]
		switch {
		case what != nil && what.deleted:
			return rerr("ENTITY_IS_DELETED", "entity is deleted")
		case what == nil || what.typ == "Contact" || what.typ == "Lead" || what.typ == "User":
			return rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", "WhatId")
		case who != nil && who.typ == "Lead":
			return rerr("FIELD_INTEGRITY_EXCEPTION", "Related To ID: id value of incorrect type: a Task whose Name is a Lead cannot be related to another record", "WhatId")
		}
	}
	return nil
}

// duplicate finds a Lead or Contact with the same email or phone digits; s.mu held.
func (s *Server) duplicate(f map[string]any) (string, *record) {
	email, _ := f["Email"].(string)
	var ph []string
	for _, k := range []string{"Phone", "MobilePhone"} {
		if v, _ := f[k].(string); digits(v) != "" {
			ph = append(ph, digits(v))
		}
	}
	for _, id := range s.order {
		r := s.recs[id]
		if r.deleted || (r.typ != "Lead" && r.typ != "Contact") || r.fields["IsConverted"] == true {
			continue
		}
		if e, _ := r.fields["Email"].(string); email != "" && strings.EqualFold(e, email) {
			return id, r
		}
		for _, k := range []string{"Phone", "MobilePhone"} {
			if v, _ := r.fields[k].(string); digits(v) != "" && slices.Contains(ph, digits(v)) {
				return id, r
			}
		}
	}
	return "", nil
}

func (s *Server) duplicateBody(obj, id string, r *record, version string) []map[string]any {
	rule := "Standard_" + obj + "_Duplicate_Rule"
	return []map[string]any{{
		s.opts.DuplicateKey: map[string]any{
			"allowSave": false, "duplicateRule": rule, "duplicateRuleEntityType": obj,
			"errorMessage": "You're creating a duplicate record. We recommend you use an existing record instead.",
			"matchResults": []map[string]any{{
				"entityType": r.typ, "errors": []any{}, "matchEngine": "FuzzyMatchEngine",
				"matchRecords": []map[string]any{{"additionalInformation": []any{}, "fieldDiffs": []any{}, "matchConfidence": 100.0,
					"record": map[string]any{"attributes": map[string]string{"type": r.typ,
						"url": "/services/data/" + version + "/sobjects/" + r.typ + "/" + id}, "Id": id}}},
				"rule": "Standard_" + r.typ + "_Match_Rule_v1_0", "size": 1, "success": true,
			}},
		},
		"errorCode": "DUPLICATES_DETECTED",
		"message":   "You're creating a duplicate record. We recommend you use an existing record instead.",
	}}
}

// createOne validates and inserts; s.mu held. dup is the duplicate rule's match, if any.
func (s *Server) createOne(obj string, f map[string]any) (id string, e *recErr, dupID string, dup *record) {
	if e := s.validate(obj, f, nil); e != nil {
		return "", e, "", nil
	}
	if s.opts.DuplicateRules && (obj == "Lead" || obj == "Contact") {
		if did, d := s.duplicate(f); d != nil {
			return "", rerr("DUPLICATES_DETECTED", "You're creating a duplicate record. We recommend you use an existing record instead."), did, d
		}
	}
	if obj == "Lead" {
		f["IsConverted"] = false
	}
	return s.insert(obj, f), nil, "", nil
}

func (s *Server) update(id string, f map[string]any) {
	r := s.recs[id]
	maps.Copy(r.fields, f)
	r.fields["LastModifiedDate"] = sfTime(s.now())
}

func decodeObject(r *http.Request) (map[string]any, []byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err
	}
	var f map[string]any
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, nil, err
	}
	delete(f, "attributes")
	return f, body, nil
}

// create is POST .../sobjects/{type}.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	obj := r.PathValue("type")
	f, body, err := decodeObject(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
		return
	}
	if e := s.deserialize(obj, f, body); e != nil {
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkSetupRecord(obj, f); e != nil { // permission sets and their parts (setup.go)
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
		return
	}
	id, e, dupID, dup := s.createOne(obj, f)
	if e == nil && dup == nil {
		s.applyGrants()
	}
	switch {
	case dup != nil:
		writeJSON(w, http.StatusBadRequest, s.duplicateBody(obj, dupID, dup, r.PathValue("v")))
	case e != nil:
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}})
	}
}

// get is GET .../sobjects/{type}/{id}.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	rec, ok := s.recs[id]
	switch {
	case !ok || rec.typ != r.PathValue("type"):
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	case rec.deleted:
		writeErr(w, http.StatusNotFound, "ENTITY_IS_DELETED", "entity is deleted")
	default:
		v := s.view(id, rec)
		v["attributes"] = map[string]string{"type": rec.typ, "url": r.URL.Path}
		writeJSON(w, http.StatusOK, v)
	}
}

// byExtID lists live records of obj whose field equals value; s.mu held.
func (s *Server) byExtID(obj, field, value string) []string {
	var out []string
	for _, id := range s.extIndex[value] {
		rec := s.recs[id]
		if rec.typ == obj && !rec.deleted && fmt.Sprint(rec.fields[field]) == value {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) extFieldOK(obj, field string) bool {
	return obj == "Task" && field != "" && field == s.opts.TaskIDField
}

// upsertOne upserts by external id; s.mu held.
func (s *Server) upsertOne(obj, field, value string, f map[string]any) (id string, created bool, e *recErr, many []string) {
	delete(f, field)
	ids := s.byExtID(obj, field, value)
	switch len(ids) {
	case 0:
		f[field] = value
		id, e, _, _ = s.createOne(obj, f)
		return id, e == nil, e, nil
	case 1:
		if e := s.validate(obj, f, s.recs[ids[0]]); e != nil {
			return "", false, e, nil
		}
		s.update(ids[0], f)
		return ids[0], false, nil, nil
	}
	return "", false, rerr("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("%s: more than one record found for external id field: %v", field, ids), field), ids
}

// upsert is PATCH .../sobjects/{type}/{field}/{value}: 201 created, 200 updated, 300 several matches.
func (s *Server) upsert(w http.ResponseWriter, r *http.Request) {
	obj, field, value := r.PathValue("type"), r.PathValue("field"), r.PathValue("value")
	if !s.extFieldOK(obj, field) {
		writeErr(w, http.StatusBadRequest, "NOT_FOUND", fmt.Sprintf("Provided external ID field does not exist or is not accessible: %s", field))
		return
	}
	f, body, err := decodeObject(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
		return
	}
	if e := s.deserialize(obj, f, body); e != nil {
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, created, e, many := s.upsertOne(obj, field, value, f)
	switch {
	case many != nil:
		var urls []string
		for _, id := range many {
			urls = append(urls, "/services/data/"+r.PathValue("v")+"/sobjects/"+obj+"/"+id)
		}
		writeJSON(w, http.StatusMultipleChoices, urls)
	case e != nil:
		writeJSON(w, http.StatusBadRequest, []apiError{*e})
	case created:
		writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}, "created": true})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "success": true, "errors": []any{}, "created": false})
	}
}

type collectionReq struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// recordResult is one collection result; errors use statusCode.
type recordResult struct {
	ID      string        `json:"id,omitempty"`
	Success bool          `json:"success"`
	Errors  []recordError `json:"errors"`
	Created *bool         `json:"created,omitempty"`
}

type recordError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func failed(e *recErr) recordResult {
	return recordResult{Errors: []recordError{{StatusCode: e.ErrorCode, Message: e.Message, Fields: e.Fields}}}
}

// decodeCollection reads an sObject Collections body. Like Salesforce, it deserializes every record before
// saving any: an unknown field or a value of the wrong type fails the whole request (400), whatever allOrNone.
func (s *Server) decodeCollection(w http.ResponseWriter, r *http.Request) (collectionReq, bool) {
	var req collectionReq
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
		return req, false
	}
	if len(req.Records) > 200 {
		writeErr(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return req, false
	}
	for _, rec := range req.Records {
		f := maps.Clone(rec)
		delete(f, "attributes")
		delete(f, "id") // an update's record id, as the docs spell it
		if e := s.deserialize(recordType(rec), f, body); e != nil && e.ErrorCode != "INVALID_TYPE" {
			writeJSON(w, http.StatusBadRequest, []apiError{*e})
			return req, false
		}
	}
	return req, true
}

func recordType(rec map[string]any) string {
	a, _ := rec["attributes"].(map[string]any)
	t, _ := a["type"].(string)
	return t
}

// collection is POST .../composite/sobjects (create, allOrNone honoured).
func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeCollection(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]recordResult, len(req.Records))
	if req.AllOrNone {
		for i, rec := range req.Records {
			f := maps.Clone(rec)
			delete(f, "attributes")
			if e := s.validate(recordType(rec), f, nil); e != nil {
				for j := range out {
					out[j] = failed(rerr("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header"))
				}
				out[i] = failed(e)
				writeJSON(w, http.StatusOK, out)
				return
			}
		}
	}
	for i, rec := range req.Records {
		f := maps.Clone(rec)
		delete(f, "attributes")
		id, e, _, _ := s.createOne(recordType(rec), f)
		if e != nil {
			out[i] = failed(e)
			continue
		}
		out[i] = recordResult{ID: id, Success: true, Errors: []recordError{}}
	}
	writeJSON(w, http.StatusOK, out)
}

// collectionUpsert is PATCH .../composite/sobjects/{type}/{field}; results carry created.
func (s *Server) collectionUpsert(w http.ResponseWriter, r *http.Request) {
	obj, field := r.PathValue("type"), r.PathValue("field")
	if !s.extFieldOK(obj, field) {
		writeErr(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("Field name provided, %s is not an External ID or indexed field for %s", field, obj))
		return
	}
	req, ok := s.decodeCollection(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]recordResult, len(req.Records))
	for i, rec := range req.Records {
		f := maps.Clone(rec)
		delete(f, "attributes")
		if t := recordType(rec); t != obj {
			out[i] = failed(rerr("INVALID_TYPE", "record type "+t+" does not match "+obj))
			continue
		}
		value, _ := f[field].(string)
		if value == "" {
			out[i] = failed(rerr("MISSING_ARGUMENT", field+" not specified", field))
			continue
		}
		id, created, e, _ := s.upsertOne(obj, field, value, f)
		if e != nil {
			out[i] = failed(e)
			continue
		}
		out[i] = recordResult{ID: id, Success: true, Errors: []recordError{}, Created: &created}
	}
	writeJSON(w, http.StatusOK, out)
}

// collectionUpdate is PATCH .../composite/sobjects: each record names its type in attributes and its id;
// results in request order. A record deleted answers ENTITY_IS_DELETED, an id the org never had
// INVALID_CROSS_REFERENCE_KEY, an id of another object MALFORMED_ID; fields are validated as for an update
// (read-only ones refused). A field the object lacks fails the whole request in decodeCollection.
func (s *Server) collectionUpdate(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeCollection(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.AllOrNone {
		writeErr(w, http.StatusBadRequest, "INVALID_FIELD", "allOrNone updates are not implemented by the fake")
		return
	}
	out := make([]recordResult, len(req.Records))
	for i, rec := range req.Records {
		f := maps.Clone(rec)
		delete(f, "attributes")
		id, _ := f["id"].(string)
		if id == "" {
			id, _ = f["Id"].(string)
		}
		delete(f, "id")
		delete(f, "Id")
		obj := recordType(rec)
		existing := s.recs[id]
		switch {
		case id == "":
			out[i] = failed(rerr("MISSING_ARGUMENT", "Id not specified in an update call"))
			continue
		case existing == nil:
			out[i] = failed(rerr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
			continue
		case existing.deleted:
			out[i] = failed(rerr("ENTITY_IS_DELETED", "entity is deleted"))
			continue
		case existing.typ != obj:
			out[i] = failed(rerr("MALFORMED_ID", fmt.Sprintf("%s ID: id value of incorrect type: %s", obj, id), "Id"))
			continue
		}
		if e := s.validate(obj, f, existing); e != nil {
			out[i] = failed(e)
			continue
		}
		s.update(id, f)
		s.writes[id]++
		out[i] = recordResult{ID: id, Success: true, Errors: []recordError{}}
	}
	writeJSON(w, http.StatusOK, out)
}

// Writes returns how many collection updates changed the record.
func (s *Server) Writes(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes[id]
}
