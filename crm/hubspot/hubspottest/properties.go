package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// propertyNameRE is what HubSpot accepts as an internal property name: lower case letters, digits and
// underscores, starting with a letter.
var propertyNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// fieldTypes are the fieldType values each property type allows (HubSpot's properties guide: a string
// property is text, textarea, html, phonenumber or file; ...). Creating a property with another pair is a 400.
var fieldTypes = map[string][]string{
	"string":       {"text", "textarea", "html", "phonenumber", "file"},
	"number":       {"number", "calculation_equation"},
	"bool":         {"booleancheckbox", "calculation_equation"},
	"enumeration":  {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
	"date":         {"date"},
	"datetime":     {"date"},
	"phone_number": {"phonenumber"},
}

// createProperty implements POST /crm/properties/{version}/{objectType} (PropertyCreate -> 201 Property). The
// body has passed the spec's schema (required name, label, type, fieldType, groupName; the enums). Then, as
// HubSpot: a name already taken on the object answers 409 OBJECT_ALREADY_EXISTS; an invalid name, a type
// and fieldType that do not go together, or a group the object does not have answer 400 VALIDATION_ERROR.
func (s *Server) createProperty(w http.ResponseWriter, r *http.Request, body []byte) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	objectType := objectTypeName(parts[len(parts)-1])
	var in struct {
		Name, Label, Type, FieldType, GroupName string
		HasUniqueValue                          bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	props, ok := s.props[objectType]
	if !ok {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Unable to infer object type from: %s", objectType)))
		return
	}
	switch {
	case props[in.Name] != nil:
		writeJSON(w, http.StatusConflict, newErr("OBJECT_ALREADY_EXISTS", fmt.Sprintf("Property named '%s' already exists.", in.Name)))
		return
	case !propertyNameRE.MatchString(in.Name):
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Property name '%s' is invalid: use lower case letters, digits and underscores, starting with a letter.", in.Name)))
		return
	case !slices.Contains(fieldTypes[in.Type], in.FieldType):
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Property type %s cannot have field type %s.", in.Type, in.FieldType)))
		return
	case in.GroupName != infoGroup(objectType):
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Property group %s does not exist on object type %s.", in.GroupName, objectType)))
		return
	}
	p := &Property{Name: in.Name, Type: in.Type, HasUniqueValue: in.HasUniqueValue, Label: in.Label, FieldType: in.FieldType, GroupName: in.GroupName}
	props[in.Name] = p
	if p.HasUniqueValue && objectType != "contacts" {
		s.unique[objectType] = p.Name
	}
	writeJSON(w, http.StatusCreated, propertyJSON(objectType, p))
}

// propertyGroups implements GET /crm/properties/{version}/{objectType}/groups
// (CollectionResponsePropertyGroupNoPaging): the object's information group.
func (s *Server) propertyGroups(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	objectType := objectTypeName(parts[len(parts)-2])
	s.mu.Lock()
	_, ok := s.props[objectType]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Unable to infer object type from: %s", objectType)))
		return
	}
	label := strings.ToUpper(objectType[:1]) + strings.TrimSuffix(objectType[1:], "s") + " information"
	writeJSON(w, http.StatusOK, map[string]any{"results": []map[string]any{
		{"name": infoGroup(objectType), "label": label, "displayOrder": 0, "archived": false}}})
}

// Property returns the definition of a property, and whether the object has it.
func (s *Server) Property(objectType, name string) (Property, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.props[objectType][name]
	if p == nil {
		return Property{}, false
	}
	return *p, true
}
