package hubspottest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Property is a property definition as the properties API returns it (the fields the adapter reads).
type Property struct {
	Name           string
	Type           string // "string", "number", "datetime", "enumeration", ...
	HasUniqueValue bool
	Calculated     bool
	// Label, FieldType and GroupName as created through the API; "" reads as the name, "text" and the
	// object's information group.
	Label, FieldType, GroupName string
}

// defaultProperties are the HubSpot-defined properties the fake knows on each object.
func defaultProperties() map[string]map[string]*Property {
	out := map[string]map[string]*Property{"contacts": {}, "communications": {}, "calls": {}}
	for _, n := range []string{"hs_timestamp", "hs_call_title", "hs_call_body", "hs_call_direction", "hs_call_duration",
		"hs_call_status", "hs_call_from_number", "hs_call_to_number", "hs_call_recording_url", "hs_call_disposition",
		"hubspot_owner_id", "hs_object_id", "createdate", "lastmodifieddate"} {
		out["calls"][n] = &Property{Name: n, Type: "string"}
	}
	for _, n := range []string{"email", "firstname", "lastname", "phone", "mobilephone", "company", "hubspot_owner_id",
		"associatedcompanyid", "lastmodifieddate", "createdate", "hs_object_id"} {
		out["contacts"][n] = &Property{Name: n, Type: "string"}
	}
	out["contacts"]["email"].HasUniqueValue = false // unique in effect, but HubSpot reports hasUniqueValue false for email
	for _, n := range []string{"hs_searchable_calculated_phone_number", "hs_searchable_calculated_mobile_number"} {
		out["contacts"][n] = &Property{Name: n, Type: "string", Calculated: true}
	}
	for _, n := range []string{"hs_communication_body", "hs_communication_channel_type", "hs_communication_logged_from",
		"hs_timestamp", "hubspot_owner_id", "hs_object_id", "createdate", "lastmodifieddate"} {
		out["communications"][n] = &Property{Name: n, Type: "string"}
	}
	return out
}

// DeclareProperty adds (or replaces) a property on an object type ("contacts", "communications", "calls"), as an admin
// creating a custom property would.
func (s *Server) DeclareProperty(objectType string, p Property) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.props[objectType] == nil {
		s.props[objectType] = map[string]*Property{}
	}
	if p.Type == "" {
		p.Type = "string"
	}
	s.props[objectType][p.Name] = &p
	if p.HasUniqueValue && objectType != "contacts" {
		s.unique[objectType] = p.Name
	}
}

// RequireProperty makes property required on create for objectType, as an admin's conditional required
// property or a required field of the create form does from API version 2026-09: a create without it answers
// 400 VALIDATION_ERROR (older versions ignore the rule).
func (s *Server) RequireProperty(objectType, property string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.required == nil {
		s.required = map[string][]string{}
	}
	s.required[objectType] = append(s.required[objectType], property)
}

// endpointScopes are the scopes each endpoint needs, from the security sections of HubSpot's 2026-09 specs
// (communications are covered by the contacts scopes; properties accept any of many scopes, among them the
// contacts schema scope).
var endpointScopes = map[string][]string{
	ContactsList: {"crm.objects.contacts.read"}, ContactsSearch: {"crm.objects.contacts.read"},
	ContactsBatchRead: {"crm.objects.contacts.read"}, ContactsCreate: {"crm.objects.contacts.write"},
	ContactsBatchUpdate: {"crm.objects.contacts.write"},
	CommsList:           {"crm.objects.contacts.read"}, CommsSearch: {"crm.objects.contacts.read"},
	CommsBatchRead: {"crm.objects.contacts.read"}, CommsCreate: {"crm.objects.contacts.write"},
	CommsBatchCreate: {"crm.objects.contacts.write"}, AssociationsDefault: {"crm.objects.contacts.write"},
	CallsSearch: {"crm.objects.contacts.read"}, CallsBatchRead: {"crm.objects.contacts.read"},
	CallsCreate: {"crm.objects.contacts.write"}, CallsBatchCreate: {"crm.objects.contacts.write"},
	Owners:         {"crm.objects.owners.read"},
	Properties:     {"crm.schemas.contacts.read", "crm.objects.contacts.read"},
	PropertyGroups: {"crm.schemas.contacts.read", "crm.objects.contacts.read"},
	// Creating a property (on contacts, communications or calls) needs the contacts schema write scope.
	PropertiesCreate: {"crm.schemas.contacts.write"},
	// AccountDetails needs "oauth", which every app has.
}

// scoped answers 403 MISSING_SCOPES when the granted scopes do not cover key.
func (s *Server) scoped(w http.ResponseWriter, r *http.Request, key string) bool {
	need := endpointScopes[key]
	if s.opts.Scopes == nil || len(need) == 0 {
		return true
	}
	for _, n := range need {
		if slices.Contains(s.opts.Scopes, n) {
			return true
		}
	}
	e := newErr("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.")
	e.Errors = []map[string]any{{"message": "One or more of the following scopes are required.",
		"context": map[string][]string{"requiredGranularScopes": need}}}
	writeJSON(w, http.StatusForbidden, e)
	return false
}

// accountDetails implements GET /account-info/{version}/details (PortalInformationResponse).
func (s *Server) accountDetails(w http.ResponseWriter) {
	now := s.now().In(s.opts.Location)
	_, off := now.Zone()
	sign, abs := "+", off
	if off < 0 {
		sign, abs = "-", -off
	}
	writeJSON(w, http.StatusOK, map[string]any{"portalId": 4242, "accountType": "STANDARD", "timeZone": s.opts.Location.String(),
		"companyCurrency": "EUR", "additionalCurrencies": []string{}, "utcOffset": sign + pad2(abs/3600) + ":" + pad2(abs%3600/60),
		"utcOffsetMilliseconds": off * 1000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"})
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// property implements GET /crm/properties/{version}/{objectType}/{propertyName}.
func (s *Server) property(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	objectType, name := objectTypeName(parts[len(parts)-2]), parts[len(parts)-1]
	s.mu.Lock()
	p := s.props[objectType][name]
	s.mu.Unlock()
	if p == nil {
		writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "Unable to find property "+name+" on object type "+objectType))
		return
	}
	writeJSON(w, http.StatusOK, propertyJSON(objectType, p))
}

// objectTypeName reads a path's objectType: a plural name, a singular one or an objectTypeId.
func objectTypeName(t string) string {
	switch t {
	case "0-1", "contact":
		return "contacts"
	case "0-18", "communication":
		return "communications"
	case "0-48", "call":
		return "calls"
	}
	return t
}

// infoGroup is the property group HubSpot files an object's own properties in (contactinformation, ...).
func infoGroup(objectType string) string { return strings.TrimSuffix(objectType, "s") + "information" }

// propertyJSON is a Property as the properties API answers it.
func propertyJSON(objectType string, p *Property) map[string]any {
	label, fieldType, group := p.Label, p.FieldType, p.GroupName
	if label == "" {
		label = p.Name
	}
	if fieldType == "" {
		fieldType = "text"
	}
	if group == "" {
		group = infoGroup(objectType)
	}
	return map[string]any{"name": p.Name, "label": label, "type": p.Type, "fieldType": fieldType,
		"groupName": group, "description": "", "options": []any{}, "displayOrder": -1,
		"hasUniqueValue": p.HasUniqueValue, "calculated": p.Calculated, "externalOptions": false,
		"archived": false, "hidden": false, "formField": false,
		"modificationMetadata": map[string]any{"archivable": true, "readOnlyDefinition": false, "readOnlyValue": false}}
}

// listComms implements GET /crm/objects/{version}/communications.
func (s *Server) listComms(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := []map[string]any{}
	for i, o := range snapshot(s.comms) {
		if i == 1 {
			break
		}
		res = append(res, s.public(o, nil))
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
}

// introspect implements POST /oauth/{version}/token/introspect (form: token, client_id, client_secret): whether
// the token is active and its scopes (as RFC 7662's space-separated scope; HubSpot's spec types only active).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.PostForm.Get("client_id") != s.opts.ClientID || r.PostForm.Get("client_secret") != s.opts.ClientSecret || s.opts.ClientID == "" {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_client", "BAD_CLIENT_ID", "missing or invalid client_id/client_secret"))
		return
	}
	tok := r.PostForm.Get("token")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	active := known && (exp.IsZero() || s.now().Before(exp))
	s.mu.Unlock()
	if !active {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	scopes := s.opts.Scopes
	if scopes == nil {
		scopes = []string{"oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.owners.read", "crm.schemas.contacts.read"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "scope": strings.Join(scopes, " "), "client_id": s.opts.ClientID,
		"token_type": "Bearer", "hub_id": 4242})
}
