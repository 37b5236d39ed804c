package hubspot

import (
	"fmt"
	"net/url"
)

// API versions the adapter speaks (the destination's api_version key).
const (
	// Version202609 is the default: HubSpot's date-versioned API of September 2026, which also enforces the
	// account admin's validation rules on writes.
	Version202609 = "2026-09"
	// Version202603 is the date-versioned API of March 2026.
	Version202603 = "2026-03"
	// VersionV3 is the legacy numeric API (/crm/v3, /crm/v4), unsupported by HubSpot from September 2027.
	VersionV3 = "v3"
)

// api builds every HubSpot path from the configured version, so that no request escapes it. API.md lists
// the paths and the spec operations they come from.
type api struct{ version string }

func validVersion(v string) bool { return v == Version202609 || v == Version202603 || v == VersionV3 }

func (a api) dated() bool { return a.version != VersionV3 }

// objects is the objects API root of objectType: /crm/objects/2026-09/contacts or /crm/v3/objects/contacts,
// then rest ("/search", "/batch/create", ...).
func (a api) objects(objectType, rest string) string {
	if a.dated() {
		return "/crm/objects/" + a.version + "/" + objectType + rest
	}
	return "/crm/v3/objects/" + objectType + rest
}

// owners is the owners list: /crm/owners/2026-09 or /crm/v3/owners.
func (a api) owners() string {
	if a.dated() {
		return "/crm/owners/" + a.version
	}
	return "/crm/v3/owners"
}

// property reads one property definition: /crm/properties/2026-09/{objectType}/{name}.
func (a api) property(objectType, name string) string {
	name = url.PathEscape(name)
	if a.dated() {
		return "/crm/properties/" + a.version + "/" + objectType + "/" + name
	}
	return "/crm/v3/properties/" + objectType + "/" + name
}

// properties is an object's properties collection (POST creates one): /crm/properties/2026-09/{objectType},
// then rest ("/groups").
func (a api) properties(objectType, rest string) string {
	if a.dated() {
		return "/crm/properties/" + a.version + "/" + objectType + rest
	}
	return "/crm/v3/properties/" + objectType + rest
}

// associateDefault is the per-record default association:
// PUT /crm/objects/2026-09/{from}/{id}/associations/default/{to}/{toId}, or the v4 form.
func (a api) associateDefault(from, id, to, toID string) string {
	tail := fmt.Sprintf("/%s/%s/associations/default/%s/%s", from, url.PathEscape(id), to, url.PathEscape(toID))
	if a.dated() {
		return "/crm/objects/" + a.version + tail
	}
	return "/crm/v4/objects" + tail
}

// accountDetails is the account info (time zone, portal id): /account-info/2026-09/details.
func (a api) accountDetails() string {
	if a.dated() {
		return "/account-info/" + a.version + "/details"
	}
	return "/account-info/v3/details"
}

// oauthToken is the OAuth token endpoint. The v1 endpoint is removed on 16 Feb 2027, before the numeric CRM
// versions (September 2027), so the legacy version refreshes at /oauth/2026-03/token too.
func (a api) oauthToken() string {
	if a.dated() {
		return "/oauth/" + a.version + "/token"
	}
	return "/oauth/" + Version202603 + "/token"
}

// introspect is where an OAuth access token's scopes are read (form body: token, client_id, client_secret):
// POST /oauth/2026-09/token/introspect (2026-09 spec), /oauth/2026-03/token/introspect for 2026-03 and the
// legacy version (integrators' code; not in the specs we hold), like the token endpoint.
func (a api) introspect() string { return a.oauthToken() + "/introspect" }
