package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Search limits: the lower documented figures.
const (
	maxGroups        = 5
	maxFiltersGroup  = 6
	maxFilters       = 18
	maxQueryChars    = 3000
	maxSearchResults = 200
	maxBatch         = 100
)

type filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        *string  `json:"value"`
	HighValue    *string  `json:"highValue"`
	Values       []string `json:"values"`
}

// datetimeProps are the datetime properties the fake knows: search compares them as instants, the filter
// value in milliseconds since the epoch (or ISO 8601), the stored value as HubSpot returns it (ISO 8601).
var datetimeProps = map[string]bool{"hs_timestamp": true, "createdate": true, "lastmodifieddate": true}

// millis reads a datetime as HubSpot takes it in a filter: milliseconds since the epoch, or ISO 8601.
func millis(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), true
	}
	return 0, false
}

type searchRequest struct {
	Query        string `json:"query"`
	FilterGroups []struct {
		Filters []filter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      json.RawMessage `json:"sorts"`
	Properties []string        `json:"properties"`
	Limit      int             `json:"limit"`
	After      string          `json:"after"`
}

func (s *Server) table(objectType string) map[string]*record {
	switch objectType {
	case "contacts":
		return s.contacts
	case "calls":
		return s.callRecs
	}
	return s.comms
}

// search implements POST /crm/v3/objects/{type}/search: filter groups ORed, filters ANDed, the documented
// limits enforced (5 groups, 6 filters per group, 18 in all; the whole request under 3000 characters), records invisible until indexed, sorted by lastmodifieddate descending when asked, else by id.
func (s *Server) search(w http.ResponseWriter, body []byte, objectType string) {
	var req searchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	total := 0
	for _, g := range req.FilterGroups {
		total += len(g.Filters)
		if len(g.Filters) > maxFiltersGroup {
			writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "There was a problem with the request."))
			return
		}
	}
	switch {
	case len(req.FilterGroups) > maxGroups:
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Too many filter groups: "+strconv.Itoa(len(req.FilterGroups))+" > "+strconv.Itoa(maxGroups)))
		return
	case total > maxFilters:
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Too many filters: "+strconv.Itoa(total)+" > "+strconv.Itoa(maxFilters)))
		return
	case len(req.Query) >= maxQueryChars || len(body) >= maxQueryChars: // the limit, applied to the whole request
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Query is too long: 3000 characters at most"))
		return
	case req.Limit > maxSearchResults:
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "limit must be at most 200"))
		return
	}
	for _, g := range req.FilterGroups {
		for _, f := range g.Filters {
			switch f.Operator {
			case "EQ", "NEQ", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN":
			case "GT", "GTE", "LT", "LTE", "BETWEEN":
				if !datetimeProps[f.PropertyName] {
					writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "the fake compares only datetime properties with "+f.Operator))
					return
				}
			default:
				writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Unsupported operator "+f.Operator))
				return
			}
			if datetimeProps[f.PropertyName] && f.Value != nil {
				if _, ok := millis(*f.Value); !ok {
					writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("%s is not a valid datetime value for %s", *f.Value, f.PropertyName)))
					return
				}
			}
			if assoc, ok := strings.CutPrefix(f.PropertyName, "associations."); ok && (assocObject(assoc) == "" || (f.Operator != "EQ" && f.Operator != "IN")) {
				writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "the fake filters associations."+assoc+" only with EQ or IN on contact or company"))
				return
			}
		}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 10
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	hitm := map[string]*record{}
	for id, r := range s.table(objectType) {
		if !now.Before(r.indexedAt) && matchGroups(r, req.FilterGroups) {
			hitm[id] = r
		}
	}
	hits := snapshot(hitm)
	if strings.Contains(string(req.Sorts), "DESCENDING") && strings.Contains(string(req.Sorts), "lastmodifieddate") {
		sort.SliceStable(hits, func(i, j int) bool {
			return hits[i].Properties["lastmodifieddate"] > hits[j].Properties["lastmodifieddate"]
		})
	}
	off, _ := strconv.Atoi(req.After)
	res := []map[string]any{}
	for i := off; i < len(hits) && i < off+limit; i++ {
		res = append(res, s.public(hits[i], req.Properties))
	}
	out := map[string]any{"total": len(hits), "results": res}
	if off+limit < len(hits) {
		next := strconv.Itoa(off + limit)
		out["paging"] = map[string]any{"next": map[string]string{"after": next, "link": "?after=" + next}}
	}
	writeJSON(w, http.StatusOK, out)
}

func matchGroups(r *record, groups []struct {
	Filters []filter `json:"filters"`
}) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		ok := true
		for _, f := range g.Filters {
			if !matchFilter(r, f) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// matchFilter compares like HubSpot: EQ ignores case; IN compares the lower-cased stored value with the values
// as sent (so upper-case IN values never match string properties).
//
// associations.contact (or .company) EQ/IN an id matches records associated with it; datetime properties
// compare as instants (EQ, NEQ, GT, GTE, LT, LTE, BETWEEN value and highValue).
func matchFilter(r *record, f filter) bool {
	p := r.Properties
	v, has := p[f.PropertyName]
	has = has && v != ""
	val := ""
	if f.Value != nil {
		val = *f.Value
	}
	if assoc, ok := strings.CutPrefix(f.PropertyName, "associations."); ok {
		want := append([]string{val}, f.Values...)
		for _, a := range r.Associations {
			if a.ToType == assocObject(assoc) && slices.Contains(want, a.ToID) {
				return true
			}
		}
		return false
	}
	if datetimeProps[f.PropertyName] && f.Operator != "HAS_PROPERTY" && f.Operator != "NOT_HAS_PROPERTY" && f.Operator != "IN" && f.Operator != "NOT_IN" {
		have, ok := millis(v)
		want, _ := millis(val)
		if !has || !ok {
			return f.Operator == "NEQ"
		}
		switch f.Operator {
		case "EQ":
			return have == want
		case "NEQ":
			return have != want
		case "GT":
			return have > want
		case "GTE":
			return have >= want
		case "LT":
			return have < want
		case "LTE":
			return have <= want
		case "BETWEEN":
			high := want
			if f.HighValue != nil {
				high, _ = millis(*f.HighValue)
			}
			return have >= want && have <= high
		}
		return false
	}
	switch f.Operator {
	case "EQ":
		return has && strings.EqualFold(v, val)
	case "NEQ":
		return !has || !strings.EqualFold(v, val)
	case "IN", "NOT_IN":
		in := false
		for _, x := range f.Values {
			if has && strings.ToLower(v) == x {
				in = true
			}
		}
		return in == (f.Operator == "IN")
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	case "CONTAINS_TOKEN":
		for _, tok := range strings.Fields(strings.ToLower(v)) {
			if tok == strings.ToLower(val) {
				return true
			}
		}
	}
	return false
}

// assocObject is the object type an associations.<name> search filter names ("contact" -> "contacts"), or "".
func assocObject(name string) string {
	switch name {
	case "contact", "contacts":
		return "contacts"
	case "company", "companies":
		return "companies"
	}
	return ""
}

// batchRead implements POST /crm/v3/objects/{type}/batch/read, by id or by idProperty (email for contacts, the
// declared unique property for communications). Missing ids give a 207 with an OBJECT_NOT_FOUND error.
func (s *Server) batchRead(w http.ResponseWriter, body []byte, objectType string) {
	var req struct {
		IDProperty string `json:"idProperty"`
		Inputs     []struct {
			ID string `json:"id"`
		} `json:"inputs"`
		Properties []string `json:"properties"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	if len(req.Inputs) > maxBatch {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Batch input limit exceeded: at most 100 inputs"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.IDProperty == "" || req.IDProperty == "hs_object_id":
	case objectType == "contacts" && req.IDProperty == "email":
	case objectType != "contacts" && req.IDProperty == s.unique[objectType] && s.unique[objectType] != "":
	default:
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", req.IDProperty+" is not a unique identifier property"))
		return
	}
	res := []map[string]any{}
	var missing []string
	for _, in := range req.Inputs {
		found := false
		for _, o := range s.table(objectType) {
			if req.IDProperty == "" || req.IDProperty == "hs_object_id" {
				found = o.ID == in.ID
			} else {
				found = o.Properties[req.IDProperty] != "" && strings.EqualFold(o.Properties[req.IDProperty], in.ID)
			}
			if found {
				res = append(res, s.public(o.Object, req.Properties))
				break
			}
		}
		if !found {
			missing = append(missing, in.ID)
		}
	}
	s.rng.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
	out := map[string]any{"status": "COMPLETE", "results": res, "startedAt": s.stamp(s.now()), "completedAt": s.stamp(s.now())}
	if len(missing) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	e := newErr("OBJECT_NOT_FOUND", "Could not get some "+strings.TrimSuffix(objectType, "s")+" objects, they may be deleted or not exist. Check that ids are valid.")
	e.Context = map[string][]string{"ids": missing}
	out["numErrors"] = 1
	out["errors"] = []hsError{e}
	writeJSON(w, http.StatusMultiStatus, out)
}

type createInput struct {
	Properties   map[string]string `json:"properties"`
	Associations []struct {
		To struct {
			ID string `json:"id"`
		} `json:"to"`
		Types []struct {
			Category string `json:"associationCategory"`
			TypeID   int    `json:"associationTypeId"`
		} `json:"types"`
	} `json:"associations"`
	TraceID string `json:"objectWriteTraceId"`
}

// validate checks one communications or calls input; s.mu held. It returns the HTTP status and error of a bad
// input.
func (s *Server) validate(objectType string, in createInput, pending map[string]bool) (int, *hsError) {
	fail := func(status int, category, msg string) (int, *hsError) {
		e := newErr(category, msg)
		if in.TraceID != "" {
			e.Context = map[string][]string{"objectWriteTraceId": {in.TraceID}}
		}
		return status, &e
	}
	for k := range in.Properties {
		if s.bad[k] {
			return fail(400, "VALIDATION_ERROR", "Property values were not valid: "+k)
		}
	}
	if objectType == "calls" {
		if msg := s.badCallProperty(in.Properties); msg != "" {
			return fail(400, "VALIDATION_ERROR", msg)
		}
	}
	if prop := s.missingRequired(objectType, in.Properties); prop != "" {
		e := requiredErr(prop)
		if in.TraceID != "" {
			e.Context = map[string][]string{"objectWriteTraceId": {in.TraceID}}
		}
		return 400, &e
	}
	if in.Properties["hs_timestamp"] == "" {
		return fail(400, "VALIDATION_ERROR", "Property values were not valid: hs_timestamp is required")
	}
	if o := in.Properties["hubspot_owner_id"]; o != "" {
		known := false
		for _, ow := range s.owners {
			known = known || ow.ID == o
		}
		if !known {
			return fail(400, "VALIDATION_ERROR", "Property values were not valid: "+o+" is not a valid owner id")
		}
	}
	if u := s.unique[objectType]; u != "" && in.Properties[u] != "" {
		v := strings.ToLower(in.Properties[u])
		for _, c := range s.table(objectType) {
			if strings.ToLower(c.Properties[u]) == v {
				return s.uniqueConflict(in, u, c.ID)
			}
		}
		if pending[v] {
			return s.uniqueConflict(in, u, "")
		}
		pending[v] = true
	}
	for _, a := range in.Associations {
		for _, t := range a.Types {
			if _, ok := assocTypes[objectType][t.TypeID]; !ok {
				return fail(400, "VALIDATION_ERROR", "invalid association type "+strconv.Itoa(t.TypeID)+" from "+objectType)
			}
		}
	}
	return 0, nil
}

// assocTypes are the HUBSPOT_DEFINED association types the fake accepts from each object, and the object
// type each one points to.
var assocTypes = map[string]map[int]string{
	"communications": {81: "contacts", 87: "companies"},
	"calls":          {194: "contacts", 182: "companies"},
}

// bad is HubSpot's message for a property value it refuses: "Property values were not valid:
// [{"isValid":false,"message":...,"error":"PROPERTY_DOESNT_EXIST","name":...}]".
func bad(name, code, msg string) string {
	b, _ := json.Marshal([]map[string]any{{"isValid": false, "message": msg, "error": code, "name": name}})
	return "Property values were not valid: " + string(b)
}

// callStatuses are hs_call_status's options (shared/reference/hubspot.md, "Calls").
var callStatuses = []string{"BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS",
	"NO_ANSWER", "QUEUED", "RINGING"}

// badCallProperty returns HubSpot's message for the first property of a call input that does not exist on
// calls or holds a value HubSpot refuses, or ""; s.mu held. The message copies HubSpot's "Property values
// were not valid: [{...error: PROPERTY_DOESNT_EXIST / INVALID_OPTION ...}]" shape.
func (s *Server) badCallProperty(p map[string]string) string {
	names := keys(p)
	sort.Strings(names)
	for _, k := range names {
		v := p[k]
		if s.props["calls"][k] == nil {
			return bad(k, "PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property %q does not exist", k))
		}
		switch k {
		case "hs_call_direction":
			if v != "INBOUND" && v != "OUTBOUND" {
				return bad(k, "INVALID_OPTION", fmt.Sprintf("%s was not one of the allowed options: [INBOUND, OUTBOUND]", v))
			}
		case "hs_call_status":
			if !slices.Contains(callStatuses, v) {
				return bad(k, "INVALID_OPTION", fmt.Sprintf("%s was not one of the allowed options: %v", v, callStatuses))
			}
		case "hs_call_duration":
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return bad(k, "INVALID_INTEGER", fmt.Sprintf("%s is not a valid number of milliseconds", v))
			}
		case "hs_call_recording_url":
			if !strings.HasPrefix(strings.ToLower(v), "https://") {
				return bad(k, "INVALID_URL", "the recording URL must use HTTPS")
			}
		}
	}
	return ""
}

// uniqueConflict is HubSpot's answer to a write giving a unique-valued property a value another record holds
// (shared/reference/hubspot.md: UNIQUE_VALUE_CONFLICT, "Cannot set PropertyValueCoordinates{...} on X. Y
// already has that value."), not the contacts' "Existing ID: N" conflict. Where HubSpot puts the code
// (here errors[].code) is not confirmed. holder is "" for a clash inside one batch.
func (s *Server) uniqueConflict(in createInput, prop, holder string) (int, *hsError) {
	msg := fmt.Sprintf("Cannot set PropertyValueCoordinates{portalId=4242, objectTypeId=0-18, propertyName=%s, value=%s} on 0. ",
		prop, in.Properties[prop])
	if holder != "" {
		msg += holder + " already has that value."
	} else {
		msg += "Another input of this batch has that value."
	}
	e := newErr("VALIDATION_ERROR", msg)
	e.Errors = []map[string]any{{"message": msg, "code": "UNIQUE_VALUE_CONFLICT", "context": map[string][]string{"propertyName": {prop}}}}
	if in.TraceID != "" {
		e.Context = map[string][]string{"objectWriteTraceId": {in.TraceID}}
	}
	return http.StatusBadRequest, &e
}

// missingRequired returns the first property the admin requires on objectType that props lacks, from API
// version 2026-09 on (older versions do not enforce these rules); s.mu held.
func (s *Server) missingRequired(objectType string, props map[string]string) string {
	if s.opts.APIVersion != Version202609 {
		return ""
	}
	for _, p := range s.required[objectType] {
		if props[p] == "" {
			return p
		}
	}
	return ""
}

// requiredErr is the 400 of a write missing a property the account requires. HubSpot's changelog ("Breaking
// Change: CRM API Write Validation Enforcement Starting with the 2026-09 API Version") shows only
// {"category":"VALIDATION_ERROR","message":"...",...}; the detail here copies the shape of HubSpot's forms API
// for a missing required field (errorType REQUIRED_FIELD, "Required field 'x' is missing", as reported in
// verbb/formie#2618), which the CRM API may or may not share: not confirmed.
func requiredErr(prop string) hsError {
	e := newErr("VALIDATION_ERROR", "The request is not valid")
	e.Errors = []map[string]any{{"message": fmt.Sprintf("Error in 'properties.%s'. Required field '%s' is missing", prop, prop),
		"errorType": "REQUIRED_FIELD"}}
	return e
}

// invalidTargets lists the association targets of inputs that do not exist, in HubSpot's
// context.INVALID_OBJECT_IDS form ("CONTACT=424242 is not valid"); s.mu held. Companies are not stored by
// the fake: only contacts can be missing.
func (s *Server) invalidTargets(inputs []createInput) []string {
	var out []string
	for _, in := range inputs {
		for _, a := range in.Associations {
			for _, t := range a.Types {
				if t.TypeID != 81 && t.TypeID != 194 {
					continue
				}
				if _, ok := s.contacts[a.To.ID]; !ok {
					if v := "CONTACT=" + a.To.ID + " is not valid"; !slices.Contains(out, v) {
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

// invalidAssociations is HubSpot's answer to a create whose inline association names a deleted or merged
// record: the whole request fails, a batch too, naming the targets (shared/reference/hubspot.md).
func invalidAssociations(ids []string) hsError {
	e := newErr("VALIDATION_ERROR", "One or more associations are invalid")
	e.Context = map[string][]string{"INVALID_OBJECT_IDS": ids}
	return e
}

func (s *Server) putComm(objectType string, in createInput) map[string]any {
	now := s.now()
	id := s.newID()
	p := cloneMap(in.Properties)
	p["hs_object_id"] = id
	p["createdate"] = s.stamp(now)
	p["lastmodifieddate"] = s.stamp(now)
	r := &record{Object: Object{ID: id, Properties: p, CreatedAt: now}, indexedAt: now.Add(s.opts.SearchLag)}
	for _, a := range in.Associations {
		for _, t := range a.Types {
			r.Associations = append(r.Associations, Association{ToType: assocTypes[objectType][t.TypeID], ToID: a.To.ID, TypeID: t.TypeID})
		}
	}
	s.table(objectType)[id] = r
	out := s.public(r.Object, keys(in.Properties))
	if in.TraceID != "" {
		out["objectWriteTraceId"] = in.TraceID
	}
	return out
}

// batchCreate implements POST /crm/v3/objects/communications/batch/create: 201 when every input is created;
// 207 with per-input errors (context.objectWriteTraceId) when some fail; the failing input's status and
// error when every input fails; one 400 without detail for any bad input with Options.WholeBatchReject.
func (s *Server) batchCreate(w http.ResponseWriter, body []byte, objectType string) {
	var req struct {
		Inputs []createInput `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	if len(req.Inputs) > maxBatch || len(req.Inputs) == 0 {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Batch input must have between 1 and 100 inputs"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.invalidTargets(req.Inputs); len(ids) > 0 {
		writeJSON(w, http.StatusBadRequest, invalidAssociations(ids))
		return
	}
	type bad struct {
		status int
		err    *hsError
	}
	bads := make([]*bad, len(req.Inputs))
	nbad := 0
	pending := map[string]bool{}
	for i, in := range req.Inputs {
		if st, e := s.validate(objectType, in, pending); e != nil {
			bads[i] = &bad{st, e}
			nbad++
		}
	}
	if nbad > 0 && s.opts.WholeBatchReject {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Property values were not valid"))
		return
	}
	if nbad == len(req.Inputs) {
		writeJSON(w, bads[0].status, bads[0].err)
		return
	}
	res := []map[string]any{}
	var errs []hsError
	for i, in := range req.Inputs {
		if bads[i] != nil {
			errs = append(errs, *bads[i].err)
			continue
		}
		res = append(res, s.putComm(objectType, in))
	}
	// HubSpot returns batch results in any order ("in a random order", hubspot-api-nodejs#190).
	s.rng.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
	out := map[string]any{"status": "COMPLETE", "results": res, "startedAt": s.stamp(s.now()), "completedAt": s.stamp(s.now())}
	if nbad == 0 {
		writeJSON(w, http.StatusCreated, out)
		return
	}
	out["numErrors"] = len(errs)
	out["errors"] = errs
	writeJSON(w, http.StatusMultiStatus, out)
}

// createOne implements POST /crm/v3/objects/communications.
func (s *Server) createOne(w http.ResponseWriter, body []byte, objectType string) {
	var in createInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	in.TraceID = ""
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.invalidTargets([]createInput{in}); len(ids) > 0 {
		writeJSON(w, http.StatusBadRequest, invalidAssociations(ids))
		return
	}
	if st, e := s.validate(objectType, in, map[string]bool{}); e != nil {
		writeJSON(w, st, e)
		return
	}
	writeJSON(w, http.StatusCreated, s.putComm(objectType, in))
}

// associate implements PUT .../objects/communications/{id}/associations/default/{toObjectType}/{toId}.
func (s *Server) associate(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	i := 0
	for i < len(parts) && parts[i] != "associations" {
		i++
	}
	if i < 2 || i+3 != len(parts)-1 || parts[i+1] != "default" {
		writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "Resource not found"))
		return
	}
	id, to, toID := parts[i-1], parts[i+2], parts[i+3]
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comms[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "communication "+id+" does not exist"))
		return
	}
	typeID := 87
	switch to {
	case "contact", "contacts", "0-1":
		to, typeID = "contacts", 81
		if _, ok := s.contacts[toID]; !ok {
			writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "contact "+toID+" does not exist"))
			return
		}
	default:
		to = "companies"
	}
	c.Associations = append(c.Associations, Association{ToType: to, ToID: toID, TypeID: typeID})
	writeJSON(w, http.StatusOK, map[string]any{"status": "COMPLETE", "results": []any{}})
}
