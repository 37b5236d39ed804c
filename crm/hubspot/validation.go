package hubspot

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// CodeRequiredProperty is the crm.Error Code of a write HubSpot refused because the account requires a
// property the mapping does not set (an admin's conditional required property or a required field of the
// create form, enforced on API writes from version 2026-09). It is Permanent: the same write fails until the
// mapping changes.
const CodeRequiredProperty = "REQUIRED_PROPERTY"

// requiredName finds a property name in a "required" message: `Property "x" is required`, `x is required`,
// `required property 'x'`, and HubSpot's forms style `Required field '0-1/x' is missing` (object type prefix
// dropped).
var requiredName = regexp.MustCompile(`(?i)(?:propert(?:y|ies)\s*[:"'\x60]?\s*["'\x60]?([a-z0-9_]{1,100})["'\x60]?\s+(?:is|are)\s+required|\b([a-z0-9_]{1,100})["'\x60]?\s+is\s+required|required\s+(?:propert(?:y|ies)|field)\s*:?\s*["'\x60](?:\d+-\d+/)?([a-z0-9_]{1,100})["'\x60])`)

// requiredProperty reports whether ae is HubSpot refusing a write for a missing required property, and names
// the property when HubSpot's error does (errors[].context.propertyName, context.propertyName, or the
// message). HubSpot's 2026-09 changelog shows the category (VALIDATION_ERROR) but elides the rest of the body,
// so every place a name can sit is read. Errors about the request body's own shape (errors[].in = "body")
// are not this.
func requiredProperty(ae apiError) (string, bool) {
	if ae.Category != "VALIDATION_ERROR" {
		return "", false
	}
	found, name := false, ""
	consider := func(code, msg string, ctx map[string][]string) {
		if !strings.Contains(strings.ToUpper(code), "REQUIRED") && !strings.Contains(strings.ToLower(msg), "required") {
			return
		}
		found = true
		for _, k := range []string{"propertyName", "propertyNames", "property", "missingProperties", "requiredProperties"} {
			if v := ctx[k]; len(v) > 0 && name == "" && propertyName.MatchString(v[0]) {
				name = v[0]
			}
		}
		if name == "" {
			if m := requiredName.FindStringSubmatch(msg); m != nil {
				name = m[1] + m[2] + m[3]
			}
		}
	}
	for _, d := range ae.Errors {
		if d.In == "body" {
			return "", false // the request body's own shape, not an account rule
		}
		consider(d.Code+" "+d.ErrorType, d.Message, d.Context)
	}
	if !found || name == "" {
		consider(ae.SubCategory, ae.Message, ae.Context)
	}
	return name, found
}

// requiredError explains a refused write in mapping terms: which property to add, and where (key is
// "create.fields" or "activity.fields").
func requiredError(ce *crm.Error, ae apiError, key, object string) (*crm.Error, bool) {
	name, ok := requiredProperty(ae)
	if !ok {
		return ce, false
	}
	e := *ce
	e.Action, e.Code = crm.Permanent, CodeRequiredProperty
	if name != "" {
		e.Message = fmt.Sprintf("HubSpot requires property %q on %s (a rule of the account, enforced from API version 2026-09): add %s to %s in the mapping; HubSpot said: %s",
			name, object, name, key, ce.Message)
	} else {
		e.Message = fmt.Sprintf("HubSpot requires a property this mapping does not set on %s (a rule of the account, enforced from API version 2026-09): add it to %s in the mapping; HubSpot said: %s",
			object, key, ce.Message)
	}
	return &e, true
}

// uniqueHolder reads the record holding the value from HubSpot's unique clash message: "Cannot set
// PropertyValueCoordinates{...} on X. Y already has that value."
var uniqueHolder = regexp.MustCompile(`(\d+) already has that value`)

// uniqueProp reads the property from the PropertyValueCoordinates of the same message.
var uniqueProp = regexp.MustCompile(`propertyName=([a-z0-9_]{1,100})`)

// uniqueConflict reports whether ae is a UNIQUE_VALUE_CONFLICT (a unique-valued property given a value another
// record holds), with the property and the holding record's id when HubSpot names them. The code is looked
// for as category, subCategory, errors[].code and errors[].subCategory, and the message's "already has that
// value", since where HubSpot puts it is not documented.
func uniqueConflict(ae apiError) (prop, holder string, ok bool) {
	check := func(code, sub, msg string, ctx map[string][]string) {
		if code != "UNIQUE_VALUE_CONFLICT" && sub != "UNIQUE_VALUE_CONFLICT" && !strings.Contains(msg, "already has that value") {
			return
		}
		ok = true
		if m := uniqueHolder.FindStringSubmatch(msg); m != nil && holder == "" {
			holder = m[1]
		}
		if m := uniqueProp.FindStringSubmatch(msg); m != nil && prop == "" {
			prop = m[1]
		}
		if v := ctx["propertyName"]; len(v) > 0 && prop == "" {
			prop = v[0]
		}
	}
	check(ae.Category, ae.SubCategory, ae.Message, ae.Context)
	for _, d := range ae.Errors {
		check(d.Code, d.SubCategory, d.Message, d.Context)
	}
	return prop, holder, ok
}
