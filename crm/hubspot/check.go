package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// Scopes the adapter needs, from the security sections of HubSpot's 2026-09 specs (API.md): contacts and
// communications are read and written under the contacts scopes; owners have their own.
const (
	ScopeContactsRead  = "crm.objects.contacts.read"
	ScopeContactsWrite = "crm.objects.contacts.write"
	ScopeOwnersRead    = "crm.objects.owners.read"
)

// MappingFields are the CRM fields and needs of a destination's mapping, for CheckMapping.
type MappingFields struct {
	PhoneFields    []string // match.phone_fields, on contacts; empty: phone, mobilephone
	CreateFields   []string // create.fields, on contacts (when the mapping creates contacts)
	ActivityFields []string // activity.fields, on communications
	IDField        string   // activity.id_field, on communications; "" for none
	IDFieldUnique  bool     // activity.id_field_unique as configured
	ResolveOwners  bool     // the mapping resolves owners by the Onoff user's email
	// CallFields and CallIDField are the calls section's activity.fields and activity.id_field, on calls
	// (when the destination syncs calls; the id field defaults to the SMS section's).
	CallFields  []string
	CallIDField string
	// ContactUpdateFields are the contact properties contact_updates set.
	ContactUpdateFields []string
}

// Finding is one problem with a field the mapping names. Key is the mapping key that names it
// ("match.phone_fields", "create.fields", "activity.fields", "activity.id_field", "activity.id_field_unique"),
// so the caller can print "file:line: key.field: problem" with the line of that key.
type Finding struct {
	Key     string
	Object  string // "contacts", "communications" or "calls"
	Field   string
	Problem string
}

// ScopeCheck says whether the credentials carry the scopes the mapping needs.
type ScopeCheck struct {
	How        string   // "token introspection" (OAuth) or "read probes" (private app token)
	Needed     []string // scopes the mapping needs
	Missing    []string // needed scopes HubSpot says are not granted
	Unverified []string // needed scopes the check could not prove either way
	Note       string   // why some are unverified
}

// Report is what CheckMapping found.
type Report struct {
	Findings []Finding
	Scopes   ScopeCheck
	// IDField is what HubSpot says of activity.id_field ("" when the mapping has none).
	IDFieldExists, IDFieldUnique bool
}

// propertyInfo is the part of a property definition the check reads.
type propertyInfo struct {
	Name           string `json:"name"`
	Type           string `json:"type"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	Calculated     bool   `json:"calculated"`
}

// property reads one property definition; ok is false when HubSpot says it does not exist (404).
func (c *Client) property(ctx context.Context, objectType, name string) (propertyInfo, bool, error) {
	var p propertyInfo
	status, err := c.do(ctx, call{method: http.MethodGet, path: c.api.property(objectType, name)}, &p)
	if status == http.StatusNotFound {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	return p, true, nil
}

// CheckMapping verifies the mapping against the HubSpot account: every field it names exists on its object
// (reading each property definition), the id field is unique-valued exactly when id_field_unique says so
// (a UNIQUE_VALUE_CONFLICT then means "already logged", and look-ups skip the search index), and the
// credentials carry the scopes the mapping needs. Problems are Findings and ScopeCheck entries; the error is
// non-nil only when the check itself could not run (network, credentials).
func (c *Client) CheckMapping(ctx context.Context, m MappingFields) (Report, error) {
	var r Report
	phone := m.PhoneFields
	if len(phone) == 0 {
		phone = defaultPhoneFields
	}
	type ref struct{ key, object, name string }
	var refs []ref
	for _, f := range phone {
		refs = append(refs, ref{"match.phone_fields", "contacts", f})
	}
	for _, f := range m.CreateFields {
		refs = append(refs, ref{"create.fields", "contacts", f})
	}
	for _, f := range m.ActivityFields {
		refs = append(refs, ref{"activity.fields", "communications", f})
	}
	if m.IDField != "" {
		refs = append(refs, ref{"activity.id_field", "communications", m.IDField})
	}
	for _, f := range m.CallFields {
		refs = append(refs, ref{"calls.activity.fields", "calls", f})
	}
	if m.CallIDField != "" {
		refs = append(refs, ref{"calls.activity.id_field", "calls", m.CallIDField})
	}
	for _, f := range m.ContactUpdateFields {
		refs = append(refs, ref{"contact_updates", "contacts", f})
	}
	unreadable := false
	for _, f := range refs {
		if !propertyName.MatchString(f.name) {
			r.Findings = append(r.Findings, Finding{f.key, f.object, f.name, fmt.Sprintf("%q is not a HubSpot property name", f.name)})
			continue
		}
		p, ok, err := c.property(ctx, f.object, f.name)
		var ce *crm.Error
		switch {
		case err != nil && errors.As(err, &ce) && ce.Status == http.StatusForbidden:
			if !unreadable {
				r.Findings = append(r.Findings, Finding{f.key, f.object, f.name,
					"cannot verify fields: the credentials may not read property definitions (HubSpot: " + ce.Message + ")"})
			}
			unreadable = true
			continue
		case err != nil:
			return r, fmt.Errorf("check field %s.%s: %w", f.object, f.name, err)
		case !ok:
			r.Findings = append(r.Findings, Finding{f.key, f.object, f.name, fmt.Sprintf("no property %q on HubSpot %s", f.name, f.object)})
			continue
		case p.Calculated && f.key != "match.phone_fields":
			r.Findings = append(r.Findings, Finding{f.key, f.object, f.name, fmt.Sprintf("%q is calculated by HubSpot and cannot be written", f.name)})
		}
		if f.key == "activity.id_field" {
			r.IDFieldExists, r.IDFieldUnique = true, p.HasUniqueValue
			switch {
			case m.IDFieldUnique && !p.HasUniqueValue:
				r.Findings = append(r.Findings, Finding{"activity.id_field_unique", f.object, f.name,
					fmt.Sprintf("id_field_unique is true but HubSpot's %q does not require unique values (hasUniqueValue false): set it to false, or make the property unique", f.name)})
			case !m.IDFieldUnique && p.HasUniqueValue:
				r.Findings = append(r.Findings, Finding{"activity.id_field_unique", f.object, f.name,
					fmt.Sprintf("HubSpot's %q requires unique values: set id_field_unique to true to find logged SMS without the search index's lag", f.name)})
			}
		}
	}
	sc, err := c.checkScopes(ctx, m)
	if err != nil {
		return r, err
	}
	r.Scopes = sc
	return r, nil
}

// CheckContactFields checks contact_updates properties on contacts (crm.ContactFieldChecker): each must
// exist and not be calculated by HubSpot.
func (c *Client) CheckContactFields(ctx context.Context, names []string) ([][]string, error) {
	out := make([][]string, len(names))
	for i, n := range names {
		if !propertyName.MatchString(n) {
			out[i] = []string{fmt.Sprintf("%q is not a HubSpot property name", n)}
			continue
		}
		p, ok, err := c.property(ctx, "contacts", n)
		switch {
		case err != nil:
			return nil, fmt.Errorf("check contact property %s: %w", n, err)
		case !ok:
			out[i] = []string{fmt.Sprintf("no property %q on HubSpot contacts: create it (Settings > Properties > Contact properties), or fix the mapping", n)}
		case p.Calculated || slices.Contains([]string{"hs_object_id", "createdate", "lastmodifieddate"}, n):
			out[i] = []string{fmt.Sprintf("%q is calculated by HubSpot and cannot be written", n)}
		}
	}
	return out, nil
}

// neededScopes are the scopes a mapping needs.
func neededScopes(m MappingFields) []string {
	s := []string{ScopeContactsRead, ScopeContactsWrite}
	if m.ResolveOwners {
		s = append(s, ScopeOwnersRead)
	}
	return s
}

// checkScopes proves the scopes: by token introspection with OAuth; with a private app token, by cheap reads
// that would answer 403 MISSING_SCOPES (a write scope cannot be proved without writing: it is Unverified).
func (c *Client) checkScopes(ctx context.Context, m MappingFields) (ScopeCheck, error) {
	sc := ScopeCheck{Needed: neededScopes(m)}
	if c.auth.canRefresh() {
		sc.How = "token introspection"
		granted, known, err := c.introspect(ctx)
		if err != nil {
			return sc, fmt.Errorf("check scopes: %w", err)
		}
		if !known {
			sc.Unverified, sc.Note = sc.Needed, "HubSpot's introspection answer lists no scopes"
			return sc, nil
		}
		for _, s := range sc.Needed {
			if !slices.Contains(granted, s) {
				sc.Missing = append(sc.Missing, s)
			}
		}
		return sc, nil
	}
	sc.How = "read probes"
	probes := []struct {
		scope string
		path  string
	}{{ScopeContactsRead, c.api.objects("contacts", "")}, {ScopeContactsRead, c.api.objects("communications", "")}}
	if m.ResolveOwners {
		probes = append(probes, struct{ scope, path string }{ScopeOwnersRead, c.api.owners()})
	}
	for _, p := range probes {
		_, err := c.do(ctx, call{method: http.MethodGet, path: p.path, query: url.Values{"limit": {"1"}}}, nil)
		var ce *crm.Error
		switch {
		case err == nil:
		case errors.As(err, &ce) && ce.Status == http.StatusForbidden:
			missing := missingScopes(apiErrorOf(err))
			if len(missing) == 0 {
				missing = []string{p.scope}
			}
			for _, s := range missing {
				if !slices.Contains(sc.Missing, s) {
					sc.Missing = append(sc.Missing, s)
				}
			}
		default:
			return sc, fmt.Errorf("check scopes: %w", err)
		}
	}
	sc.Unverified = []string{ScopeContactsWrite}
	sc.Note = "a private app token's write scope cannot be proved without writing"
	return sc, nil
}

// missingScopes reads errors[].context.requiredGranularScopes (or missingScopes) of a 403 MISSING_SCOPES.
func missingScopes(ae apiError) []string {
	var out []string
	for _, d := range ae.Errors {
		out = append(out, d.Context["requiredGranularScopes"]...)
		out = append(out, d.Context["missingScopes"]...)
	}
	out = append(out, ae.Context["requiredGranularScopes"]...)
	return append(out, ae.Context["missingScopes"]...)
}

// introspect reads the OAuth access token's scopes: POST /oauth/{version}/token/introspect (form). known is
// false when the answer lists no scopes (the 2026-09 spec types the answer as {"active"} only; scope, as in
// RFC 7662, and scopes, as the v1 token-info endpoint answers, are both read).
func (c *Client) introspect(ctx context.Context) (scopes []string, known bool, err error) {
	tok, err := c.auth.token(ctx, false)
	if err != nil {
		return nil, false, err
	}
	if err := c.throttle.Wait(ctx, "requests"); err != nil {
		return nil, false, fmt.Errorf("wait for request limit: %w", err)
	}
	path := c.api.introspect()
	form := url.Values{"token": {tok}, "client_id": {c.cfg.OAuth.ClientID}, "client_secret": {c.cfg.OAuth.ClientSecret},
		"token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, false, fmt.Errorf("build introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, false, crm.TransportError("POST "+path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		ae := &apiError{}
		_ = json.Unmarshal(body, ae)
		return nil, false, &crm.Error{Action: crm.Permanent, Status: resp.StatusCode, Code: ae.Category,
			Message: "HubSpot token introspection failed: " + ae.Message}
	}
	var out struct {
		Active *bool    `json:"active"`
		Scope  string   `json:"scope"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, false, &crm.Error{Action: crm.Retry, Status: resp.StatusCode, Message: "undecodable introspection answer", Err: err}
	}
	if out.Active != nil && !*out.Active {
		return nil, false, &crm.Error{Action: crm.Pause, Status: resp.StatusCode, Code: "INACTIVE_TOKEN", Message: "HubSpot says the OAuth access token is not active"}
	}
	scopes = append(strings.Fields(out.Scope), out.Scopes...)
	return scopes, len(scopes) > 0, nil
}
