package hubspottest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
)

// HubSpot's own OpenAPI specs (2026-09), from which the fake validates every request body; see
// testdata/README.md for their source.
//
//go:embed testdata/contacts.json testdata/communications.json testdata/calls.json testdata/oauth.json testdata/properties.json
var specFiles embed.FS

// schemaNode is one JSON Schema object of a spec.
type schemaNode = map[string]any

// openAPI is a loaded spec: its document, for resolving $ref.
type openAPI struct{ doc map[string]any }

func loadSpec(name string) *openAPI {
	b, err := specFiles.ReadFile("testdata/" + name)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return &openAPI{doc: doc}
}

// requestSchema is the schema of an operation's request body for a content type, or nil.
func (o *openAPI) requestSchema(path, method, contentType string) schemaNode {
	op, _ := dig(o.doc, "paths", path, method).(map[string]any)
	s, _ := dig(op, "requestBody", "content", contentType, "schema").(map[string]any)
	return s
}

func (o *openAPI) component(name string) schemaNode {
	s, _ := dig(o.doc, "components", "schemas", name).(map[string]any)
	return s
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolve follows a local $ref ("#/components/schemas/X").
func (o *openAPI) resolve(s schemaNode) schemaNode {
	for i := 0; i < 16; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		path := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		next, _ := dig(o.doc, path...).(map[string]any)
		if next == nil {
			return schemaNode{}
		}
		s = next
	}
	return s
}

// violation is one way a body breaks its schema, in HubSpot's ErrorDetail shape.
type violation struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	In      string `json:"in"`
}

// validate checks v (decoded with UseNumber) against s. It knows the subset of JSON Schema HubSpot's specs
// use: $ref, type, nullable, required, properties, additionalProperties (a schema or a boolean), items, enum,
// and integer formats. Properties the schema does not name are allowed, as JSON Schema says, unless
// additionalProperties is false.
func (o *openAPI) validate(s schemaNode, v any, at string, out *[]violation) {
	s = o.resolve(s)
	bad := func(code, format string, args ...any) {
		*out = append(*out, violation{Message: fmt.Sprintf(format, args...), Code: code, In: "body"})
	}
	if v == nil {
		if n, _ := s["nullable"].(bool); !n && s["type"] != nil {
			bad("INVALID_TYPE", "%s: null is not allowed (want %v)", at, s["type"])
		}
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			bad("INVALID_ENUM", "%s: %v is not one of %v", at, v, enum)
		}
	}
	switch t, _ := s["type"].(string); t {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("INVALID_TYPE", "%s: want an object, got %s", at, kind(v))
			return
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, has := m[r.(string)]; !has {
					bad("MISSING_REQUIRED_PROPERTY", "Required property '%s' is missing at %s", r, at)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				o.validate(ps, m[k], at+"."+k, out)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("UNKNOWN_PROPERTY", "%s: unknown property '%s'", at, k)
				}
			case map[string]any:
				o.validate(ap, m[k], at+"."+k, out)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("INVALID_TYPE", "%s: want an array, got %s", at, kind(v))
			return
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range a {
				o.validate(items, e, fmt.Sprintf("%s[%d]", at, i), out)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			bad("INVALID_TYPE", "%s: want a string, got %s", at, kind(v))
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			bad("INVALID_TYPE", "%s: want an integer, got %s", at, kind(v))
			return
		}
		i, err := n.Int64()
		if err != nil {
			bad("INVALID_TYPE", "%s: want an integer, got %s", at, n)
		} else if s["format"] == "int32" && (i > math.MaxInt32 || i < math.MinInt32) {
			bad("INVALID_TYPE", "%s: %d does not fit int32", at, i)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			bad("INVALID_TYPE", "%s: want a number, got %s", at, kind(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("INVALID_TYPE", "%s: want a boolean, got %s", at, kind(v))
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// bodySchema is the schema a request body must follow, and the spec it resolves in.
type bodySchema struct {
	spec   *openAPI
	schema schemaNode
	form   bool // a form body (application/x-www-form-urlencoded), not JSON
}

// specs holds, per endpoint key, the schema its request body must follow.
type specs struct{ bodies map[string]bodySchema }

// objectPath is the 2026-09 spec's path template for an objects endpoint.
const objectPath = "/crm/objects/2026-09/{objectType}"

func loadSpecs() *specs {
	contacts, comms, oauth := loadSpec("contacts.json"), loadSpec("communications.json"), loadSpec("oauth.json")
	calls, props := loadSpec("calls.json"), loadSpec("properties.json")
	for _, o := range []*openAPI{contacts, comms, calls} {
		patchQuirks(o)
	}
	sp := &specs{bodies: map[string]bodySchema{}}
	add := func(key string, o *openAPI, path, ct string) {
		s := o.requestSchema(path, "post", ct)
		if s == nil {
			panic("no request schema for " + key + " at " + path)
		}
		sp.bodies[key] = bodySchema{o, s, ct != "application/json"}
	}
	add(ContactsCreate, contacts, objectPath, "application/json")
	add(ContactsSearch, contacts, objectPath+"/search", "application/json")
	add(ContactsBatchRead, contacts, objectPath+"/batch/read", "application/json")
	add(ContactsBatchUpdate, contacts, objectPath+"/batch/update", "application/json")
	add(CommsCreate, comms, objectPath, "application/json")
	add(CommsBatchCreate, comms, objectPath+"/batch/create", "application/json")
	add(CommsSearch, comms, objectPath+"/search", "application/json")
	add(CommsBatchRead, comms, objectPath+"/batch/read", "application/json")
	add(CallsCreate, calls, objectPath, "application/json")
	add(CallsBatchCreate, calls, objectPath+"/batch/create", "application/json")
	add(CallsSearch, calls, objectPath+"/search", "application/json")
	add(CallsBatchRead, calls, objectPath+"/batch/read", "application/json")
	add(PropertiesCreate, props, "/crm/properties/2026-09/{objectType}", "application/json")
	add(OAuthToken, oauth, "/oauth/2026-09/token", "application/x-www-form-urlencoded")
	add(OAuthIntrospect, oauth, "/oauth/2026-09/token/introspect", "application/x-www-form-urlencoded")
	return sp
}

// patchQuirks corrects the spec where HubSpot's real API differs from it (shared/reference/hubspot.md,
// "Known quirks of the OpenAPI specs"): search sorts are objects, not strings; after and sorts are optional;
// a single create needs no associations.
func patchQuirks(o *openAPI) {
	if s := o.component("PublicObjectSearchRequest"); s != nil {
		s["required"] = without(s["required"], "after", "sorts")
		if p, ok := s["properties"].(map[string]any); ok {
			p["sorts"] = map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []any{"propertyName"},
				"properties": map[string]any{
					"propertyName": map[string]any{"type": "string"},
					"direction":    map[string]any{"type": "string", "enum": []any{"ASCENDING", "DESCENDING"}},
				}}}
		}
	}
	if s := o.component("SimplePublicObjectInputForCreate"); s != nil {
		s["required"] = without(s["required"], "associations")
	}
}

func without(list any, names ...string) []any {
	var out []any
	l, _ := list.([]any)
	for _, x := range l {
		keep := true
		for _, n := range names {
			keep = keep && x != n
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// check validates the body of a request on key, returning HubSpot's 400 error when it breaks the spec, or nil
// (also for endpoints without a body schema).
func (sp *specs) check(key, contentType string, body []byte) *hsError {
	b, ok := sp.bodies[key]
	if !ok {
		return nil
	}
	var v any
	if b.form {
		if !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
			return nil // the handler answers the content type
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			e := newErr("VALIDATION_ERROR", "Invalid form body: "+err.Error())
			return &e
		}
		m := map[string]any{}
		for k := range vals {
			m[k] = vals.Get(k)
		}
		v = m
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			e := newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error())
			return &e
		}
	}
	var out []violation
	b.spec.validate(b.schema, v, "body", &out)
	if len(out) == 0 {
		return nil
	}
	e := newErr("VALIDATION_ERROR", fmt.Sprintf("Invalid input (%d problem(s)): %s", len(out), out[0].Message))
	for _, x := range out {
		e.Errors = append(e.Errors, map[string]any{"message": x.Message, "code": x.Code, "in": x.In})
	}
	return &e
}
