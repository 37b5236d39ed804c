// Package hubspottest is a stateful fake of the HubSpot CRM API for tests: contacts, owners, communications,
// calls and their associations, OAuth refresh, rate limits with HubSpot's headers and 429 bodies, a lagging search
// index, and fault injection. It runs on loopback (httptest) and is safe for concurrent use.
//
// It follows HubSpot's documented shapes, statuses and error bodies (see shared/reference/hubspot.md): it
// serves only the paths of one API version (Options.APIVersion, default the date-versioned 2026-09), checks
// every request body against HubSpot's own OpenAPI schemas (testdata/, see schema.go) and answers HubSpot's
// 400 when one breaks them, returns batch results in shuffled order, fails a whole batch naming deleted
// association targets (INVALID_OBJECT_IDS), and enforces the admin's required properties (2026-09) and the
// scopes the specs name. A call engagement must name only properties the calls object has (HubSpot's
// PROPERTY_DOESNT_EXIST otherwise) with valid values (hs_call_direction, hs_call_status options, whole
// milliseconds in hs_call_duration, an HTTPS hs_call_recording_url) and associate with types 194 and 182. It is not HubSpot: only the endpoints and behaviours the onoffsync adapter relies on
// are implemented.
// It imports no onoffsync package: it must behave like HubSpot, not like our adapter.
package hubspottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint keys, for Calls, Fail, Drop and SetLatency: "METHOD path" with the API version left out, so a key
// names the same endpoint whichever version the server serves (POST /crm/objects/2026-09/contacts/search and
// POST /crm/v3/objects/contacts/search are both ContactsSearch).
const (
	OAuthToken          = "POST oauth/token"
	OAuthIntrospect     = "POST oauth/token/introspect"
	AccountDetails      = "GET account-info/details"
	Owners              = "GET owners"
	Properties          = "GET properties/{objectType}/{propertyName}"
	PropertiesCreate    = "POST properties/{objectType}"
	PropertyGroups      = "GET properties/{objectType}/groups"
	ContactsList        = "GET objects/contacts"
	ContactsCreate      = "POST objects/contacts"
	ContactsSearch      = "POST objects/contacts/search"
	ContactsBatchRead   = "POST objects/contacts/batch/read"
	ContactsBatchUpdate = "POST objects/contacts/batch/update"
	CommsList           = "GET objects/communications"
	CommsCreate         = "POST objects/communications"
	CommsBatchCreate    = "POST objects/communications/batch/create"
	CommsSearch         = "POST objects/communications/search"
	CommsBatchRead      = "POST objects/communications/batch/read"
	AssociationsDefault = "PUT objects/communications/{id}/associations/default/{toObjectType}/{toId}"
	CallsCreate         = "POST objects/calls"
	CallsBatchCreate    = "POST objects/calls/batch/create"
	CallsSearch         = "POST objects/calls/search"
	CallsBatchRead      = "POST objects/calls/batch/read"
)

// API versions the fake can serve (Options.APIVersion).
const (
	Version202609 = "2026-09"
	Version202603 = "2026-03"
	VersionV3     = "v3"
)

// Options configures a Server. Zero values mean HubSpot's documented defaults (Free/Starter private app).
type Options struct {
	// APIVersion is the only API version served: "2026-09" (default) or "2026-03" serve the date-versioned
	// paths (/crm/objects/2026-09/..., /crm/owners/2026-09, /oauth/2026-09/token, ...); "v3" serves the legacy
	// /crm/v3 and /crm/v4 paths, with OAuth (token, introspection) at /oauth/2026-03/token. Any other
	// path answers 404, so a client that strays from its version fails a test.
	APIVersion string
	Now        func() time.Time // clock for windows, lags and expiries; nil: time.Now
	// Tokens are the valid bearer tokens (private app tokens); nil: {"pat-test"}.
	Tokens []string
	// OAuth client accepted by the token endpoint; empty ClientID disables it (400).
	ClientID, ClientSecret, RefreshToken string
	TokenTTL                             time.Duration // lifetime of issued access tokens; 0: 1800s
	// Requests per 10-second rolling window; 0: 100; negative: unlimited.
	MaxPer10s int
	// Search requests per second; 0: 5; negative: unlimited.
	SearchPerSecond int
	// Daily request cap, reset at midnight in Location; 0: 250,000; negative: unlimited.
	DailyCap int
	Location *time.Location // account time zone; nil: UTC
	// SearchLag is how long after a write a record stays invisible to search; Settle ends it early.
	SearchLag time.Duration
	// Scopes are the scopes granted to every token (private app or OAuth); nil grants all. A call needing a
	// scope not granted answers 403 MISSING_SCOPES, as HubSpot does.
	Scopes []string
	// WholeBatchReject makes a batch create with any bad input fail as a whole with one 400 and no
	// per-input detail (a behaviour integrators report), instead of a 207.
	WholeBatchReject bool
}

// Association is one association of a stored communication.
type Association struct {
	ToType string // "contacts" or "companies"
	ToID   string
	TypeID int
}

// Object is a stored CRM record.
type Object struct {
	ID           string
	Properties   map[string]string
	Associations []Association
	CreatedAt    time.Time
}

// Owner is a HubSpot owner.
type Owner struct {
	ID, UserID, Email, FirstName, LastName string
	Archived                               bool
}

type fault struct {
	n      int
	status int
	body   string
	drop   bool
}

type record struct {
	Object
	indexedAt time.Time
}

// Server is the fake. Create it with New and Close it when done.
type Server struct {
	URL string
	srv *httptest.Server

	opts Options
	now  func() time.Time

	specs *specs // request body schemas, read-only

	mu        sync.Mutex
	rng       *rand.Rand                      // batch result order; fixed seed, so a failure replays
	props     map[string]map[string]*Property // object type -> name -> definition
	required  map[string][]string             // object type -> properties the admin requires on create
	nextID    int
	tokens    map[string]time.Time // token -> expiry (zero: never)
	contacts  map[string]*record
	comms     map[string]*record
	callRecs  map[string]*record // call engagements
	owners    []Owner
	unique    map[string]string // object type -> its property declared unique-valued (communications, calls)
	bad       map[string]bool   // communications property names whose inputs are rejected
	calls     map[string]int
	faults    map[string][]*fault
	latency   map[string]time.Duration
	window    []time.Time // accepted requests in the rolling window
	searches  []time.Time
	searchLog []time.Time    // every search request received, on the fake's clock (SearchTimes)
	limited   map[string]int // 429 answers by policy name (RateLimited)
	dayKey    string
	dayCount  int
	issued    int
	refreshes int
	writes    map[string]int // contact id -> how many batch updates changed it
}

// New starts a fake HubSpot on loopback.
func New(opts Options) *Server {
	s := &Server{opts: opts, now: opts.Now, nextID: 1000, specs: loadSpecs(), props: defaultProperties(), rng: rand.New(rand.NewPCG(1, 2)),
		tokens: map[string]time.Time{}, contacts: map[string]*record{}, comms: map[string]*record{},
		callRecs: map[string]*record{}, unique: map[string]string{},
		bad: map[string]bool{}, calls: map[string]int{}, writes: map[string]int{}, faults: map[string][]*fault{}, latency: map[string]time.Duration{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.APIVersion == "" {
		s.opts.APIVersion = Version202609
	}
	if s.opts.Location == nil {
		s.opts.Location = time.UTC
	}
	if s.opts.TokenTTL == 0 {
		s.opts.TokenTTL = 1800 * time.Second
	}
	if s.opts.MaxPer10s == 0 {
		s.opts.MaxPer10s = 100
	}
	if s.opts.SearchPerSecond == 0 {
		s.opts.SearchPerSecond = 5
	}
	if s.opts.DailyCap == 0 {
		s.opts.DailyCap = 250000
	}
	tokens := opts.Tokens
	if tokens == nil {
		tokens = []string{"pat-test"}
	}
	for _, t := range tokens {
		s.tokens[t] = time.Time{}
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AddToken accepts token until expiry (zero: forever).
func (s *Server) AddToken(token string, expiry time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = expiry
}

// ExpireToken makes token expired (401 EXPIRED_AUTHENTICATION) from now on.
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = s.now().Add(-time.Second)
}

// ExpireAllTokens expires every token issued or accepted so far.
func (s *Server) ExpireAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = s.now().Add(-time.Second)
	}
}

// Refreshes counts successful OAuth refreshes.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// SeedContact stores a contact with these properties (phone, mobilephone, email, firstname, lastname,
// hubspot_owner_id, associatedcompanyid, lastmodifieddate, ...) and returns its id. The searchable phone
// properties are derived from phone and mobilephone. The contact is visible to search after SearchLag.
func (s *Server) SeedContact(props map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putContact(props).ID
}

// DeleteContact removes a contact, so associating to it fails.
func (s *Server) DeleteContact(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.contacts, id)
}

// SeedOwner stores an owner and returns its id (an owner id, distinct from its userId).
func (s *Server) SeedOwner(o Owner) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.ID == "" {
		o.ID = s.newID()
	}
	if o.UserID == "" {
		o.UserID = "9" + o.ID
	}
	s.owners = append(s.owners, o)
	return o.ID
}

// DeclareUnique declares a communications property unique-valued (hasUniqueValue), so batch/read accepts it as
// idProperty and a second record with the same value is rejected.
func (s *Server) DeclareUnique(property string) { s.DeclareUniqueOn("communications", property) }

// DeclareUniqueOn is DeclareUnique for an object type: "communications" or "calls".
func (s *Server) DeclareUniqueOn(objectType, property string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unique[objectType] = property
	s.props[objectType][property] = &Property{Name: property, Type: "string", HasUniqueValue: true}
}

// MarkBadProperty makes every communications input setting property fail validation.
func (s *Server) MarkBadProperty(property string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bad[property] = true
}

// Settle makes every record written so far visible to search.
func (s *Server) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*record{s.contacts, s.comms, s.callRecs} {
		for _, r := range m {
			r.indexedAt = time.Time{}
		}
	}
}

// Contacts returns the stored contacts, by id.
func (s *Server) Contacts() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot(s.contacts)
}

// Communications returns the stored communications with their associations, by id.
func (s *Server) Communications() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot(s.comms)
}

// CallEngagements returns the stored call engagements (object calls) with their associations, by id.
func (s *Server) CallEngagements() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot(s.callRecs)
}

// Calls counts the requests received on an endpoint key (e.g. ContactsSearch), whatever their outcome.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// Unserved lists the requests received on paths outside the served API version ("METHOD path"), in no order.
func (s *Server) Unserved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.calls {
		if rest, ok := strings.CutPrefix(k, "unserved "); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// SearchTimes returns when each search request (any object) was received, on the server's clock, in order.
func (s *Server) SearchTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.searchLog...)
}

// RateLimited counts the 429 answers given under a rate-limit policy: "SECONDLY" (search),
// "TEN_SECONDLY_ROLLING" or "DAILY".
func (s *Server) RateLimited(policy string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited[policy]
}

// TotalCalls counts every request received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Fail makes the next n calls of endpoint answer status with body (a HubSpot error body when body is "").
// The request is not applied.
func (s *Server) Fail(endpoint string, n, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = append(s.faults[endpoint], &fault{n: n, status: status, body: body})
}

// Drop makes the next n calls of endpoint be applied, then the connection closed without a response, so the
// client sees an ambiguous failure.
func (s *Server) Drop(endpoint string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = append(s.faults[endpoint], &fault{n: n, drop: true})
}

// SetLatency delays every response of endpoint by d (real time).
func (s *Server) SetLatency(endpoint string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency[endpoint] = d
}

func snapshot(m map[string]*record) []Object {
	out := make([]Object, 0, len(m))
	for _, r := range m {
		o := r.Object
		o.Properties = cloneMap(r.Properties)
		o.Associations = append([]Association(nil), r.Associations...)
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	return out
}

func idLess(a, b string) bool {
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	if x != y {
		return x < y
	}
	return a < b
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (s *Server) newID() string {
	s.nextID++
	return strconv.Itoa(s.nextID)
}

func (s *Server) stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// putContact stores a new contact; s.mu held.
func (s *Server) putContact(props map[string]string) *record {
	now := s.now()
	p := cloneMap(props)
	id := s.newID()
	p["hs_object_id"] = id
	if p["createdate"] == "" {
		p["createdate"] = s.stamp(now)
	}
	if p["lastmodifieddate"] == "" {
		p["lastmodifieddate"] = s.stamp(now)
	}
	derivePhones(p)
	r := &record{Object: Object{ID: id, Properties: p, CreatedAt: now}, indexedAt: now.Add(s.opts.SearchLag)}
	s.contacts[id] = r
	return r
}

// derivePhones fills HubSpot's calculated searchable phone properties: the national number without the
// country code, digits only.
func derivePhones(p map[string]string) {
	p["hs_searchable_calculated_phone_number"] = nationalDigits(p["phone"])
	p["hs_searchable_calculated_mobile_number"] = nationalDigits(p["mobilephone"])
}

// nationalDigits strips a country code (for a number written with + or 00) or a trunk 0, leaving the national
// significant number's digits. Country codes are matched against a short table, enough for tests.
func nationalDigits(v string) string {
	intl := strings.HasPrefix(strings.TrimSpace(v), "+") || strings.HasPrefix(strings.TrimSpace(v), "00")
	var b strings.Builder
	for _, r := range v {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	if d == "" {
		return ""
	}
	if intl {
		d = strings.TrimPrefix(d, "00")
		for _, cc := range []string{"1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44",
			"45", "46", "47", "48", "49", "51", "52", "54", "55", "56", "57", "60", "61", "62", "63", "64", "65", "66",
			"81", "82", "84", "86", "90", "91", "212", "213", "216", "351", "352", "353", "354", "358", "420", "971", "972"} {
			if strings.HasPrefix(d, cc) {
				return strings.TrimPrefix(d, cc)
			}
		}
		return d
	}
	return strings.TrimLeft(d, "0")
}

// hsError is HubSpot's error body.
type hsError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category,omitempty"`
	ErrorType     string              `json:"errorType,omitempty"`
	PolicyName    string              `json:"policyName,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Errors        []map[string]any    `json:"errors,omitempty"`
}

func newErr(category, msg string) hsError {
	return hsError{Status: "error", Message: msg, CorrelationID: "c0ffee00-0000-4000-8000-000000000000", Category: category}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// endpointKey maps a request to its endpoint key, or "" when the path is not one of the served version's.
func (s *Server) endpointKey(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/")
	v := s.opts.APIVersion
	var prefixes [][2]string // path prefix, key prefix
	if v == VersionV3 {
		prefixes = [][2]string{{"/crm/v3/objects/", "objects/"}, {"/crm/v4/objects/", "objects/"}, {"/crm/v3/owners", "owners"},
			{"/crm/v3/properties/", "properties/"}, {"/account-info/v3/details", "account-info/details"},
			{"/oauth/" + Version202603 + "/token", "oauth/token"}}
	} else {
		prefixes = [][2]string{{"/crm/objects/" + v + "/", "objects/"}, {"/crm/owners/" + v, "owners"},
			{"/crm/properties/" + v + "/", "properties/"}, {"/account-info/" + v + "/details", "account-info/details"},
			{"/oauth/" + v + "/token", "oauth/token"}}
	}
	for _, pre := range prefixes {
		rest, ok := strings.CutPrefix(p, pre[0])
		if !ok {
			continue
		}
		k := pre[1] + rest
		if strings.HasPrefix(pre[0], "/crm/v4/") && !strings.Contains(k, "/associations/") {
			return "" // v4 serves associations only
		}
		switch {
		case strings.HasPrefix(k, "objects/communications/") && strings.Contains(k, "/associations/default/") && r.Method == http.MethodPut:
			if strings.HasPrefix(pre[0], "/crm/v3/") {
				return "" // per-record associations are v4 in the legacy API
			}
			return AssociationsDefault
		case strings.HasPrefix(k, "properties/") && strings.Count(k, "/") == 2 && strings.HasSuffix(k, "/groups"):
			return r.Method + " properties/{objectType}/groups"
		case strings.HasPrefix(k, "properties/") && strings.Count(k, "/") == 2:
			return r.Method + " properties/{objectType}/{propertyName}"
		case strings.HasPrefix(k, "properties/") && strings.Count(k, "/") == 1:
			return r.Method + " properties/{objectType}"
		}
		return r.Method + " " + k
	}
	return ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key := s.endpointKey(r)
	if key == "" {
		s.mu.Lock()
		s.calls["unserved "+r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "Resource not found: "+r.URL.Path+" is not served in API version "+s.opts.APIVersion))
		return
	}
	s.mu.Lock()
	s.calls[key]++
	var f *fault
	if q := s.faults[key]; len(q) > 0 {
		f = q[0]
		f.n--
		if f.n <= 0 {
			s.faults[key] = q[1:]
		}
	}
	lat := s.latency[key]
	s.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}
	if f != nil && !f.drop {
		body := f.body
		if body == "" {
			b, _ := json.Marshal(newErr(statusCategory(f.status), http.StatusText(f.status)))
			body = string(b)
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(body))
		return
	}
	rec := httptest.NewRecorder()
	s.route(rec, r, key)
	if f != nil && f.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func statusCategory(status int) string {
	switch status {
	case 400:
		return "VALIDATION_ERROR"
	case 401:
		return "INVALID_AUTHENTICATION"
	case 403:
		return "MISSING_SCOPES"
	case 404:
		return "OBJECT_NOT_FOUND"
	case 409:
		return "CONFLICT"
	case 423:
		return "LOCKED"
	case 429:
		return "RATE_LIMITS"
	}
	return "INTERNAL_ERROR"
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, key string) {
	body, _ := readAll(r)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if key == OAuthToken || key == OAuthIntrospect {
		if e := s.specs.check(key, r.Header.Get("Content-Type"), body); e != nil {
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		if key == OAuthToken {
			s.token(w, r)
		} else {
			s.introspect(w, r)
		}
		return
	}
	if !s.authorize(w, r) || !s.limit(w, key) || !s.scoped(w, r, key) {
		return
	}
	if e := s.specs.check(key, r.Header.Get("Content-Type"), body); e != nil {
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	switch key {
	case AccountDetails:
		s.accountDetails(w)
	case Properties:
		s.property(w, r)
	case PropertiesCreate:
		s.createProperty(w, r, body)
	case PropertyGroups:
		s.propertyGroups(w, r)
	case CommsList:
		s.listComms(w, r)
	case Owners:
		s.listOwners(w, r)
	case ContactsList:
		s.listContacts(w, r)
	case ContactsCreate:
		s.createContact(w, body)
	case ContactsSearch:
		s.search(w, body, "contacts")
	case ContactsBatchRead:
		s.batchRead(w, body, "contacts")
	case ContactsBatchUpdate:
		s.batchUpdateContacts(w, body)
	case CommsBatchCreate:
		s.batchCreate(w, body, "communications")
	case CommsCreate:
		s.createOne(w, body, "communications")
	case CallsBatchCreate:
		s.batchCreate(w, body, "calls")
	case CallsCreate:
		s.createOne(w, body, "calls")
	case CallsSearch:
		s.search(w, body, "calls")
	case CallsBatchRead:
		s.batchRead(w, body, "calls")
	case CommsSearch:
		s.search(w, body, "communications")
	case CommsBatchRead:
		s.batchRead(w, body, "communications")
	case AssociationsDefault:
		s.associate(w, r)
	default:
		writeJSON(w, http.StatusNotFound, newErr("OBJECT_NOT_FOUND", "Resource not found"))
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	now := s.now()
	s.mu.Unlock()
	switch {
	case !ok || !known:
		writeJSON(w, http.StatusUnauthorized, newErr("INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"))
		return false
	case !exp.IsZero() && !now.Before(exp):
		writeJSON(w, http.StatusUnauthorized, newErr("EXPIRED_AUTHENTICATION",
			"The OAuth token used to make this call expired "+strconv.FormatInt(int64(now.Sub(exp)/time.Millisecond), 10)+" millisecond(s) ago."))
		return false
	}
	return true
}

// limit enforces the daily cap, the 10-second rolling window and the search rate, and sets the rate-limit
// headers (search responses carry none).
func (s *Server) limit(w http.ResponseWriter, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	search := strings.HasSuffix(key, "/search")
	day := now.In(s.opts.Location).Format("2006-01-02")
	if day != s.dayKey {
		s.dayKey, s.dayCount = day, 0
	}
	cut := 0
	for cut < len(s.window) && !s.window[cut].After(now.Add(-10*time.Second)) {
		cut++
	}
	s.window = s.window[cut:]
	cut = 0
	for cut < len(s.searches) && !s.searches[cut].After(now.Add(-time.Second)) {
		cut++
	}
	s.searches = s.searches[cut:]

	if search {
		s.searchLog = append(s.searchLog, now)
	}
	reject := func(policy, msg string) bool {
		if s.limited == nil {
			s.limited = map[string]int{}
		}
		s.limited[policy]++
		e := newErr("", msg)
		e.ErrorType, e.PolicyName = "RATE_LIMIT", policy
		writeJSON(w, http.StatusTooManyRequests, e)
		return false
	}
	if s.opts.DailyCap > 0 && s.dayCount >= s.opts.DailyCap {
		return reject("DAILY", "You have reached your daily limit.")
	}
	if search {
		// Search has its own per-second limit, separate from the 10-second window, and no headers.
		if s.opts.SearchPerSecond > 0 && len(s.searches) >= s.opts.SearchPerSecond {
			return reject("SECONDLY", "You have reached your secondly limit.")
		}
		s.searches = append(s.searches, now)
		s.dayCount++
		return true
	}
	if s.opts.MaxPer10s > 0 && len(s.window) >= s.opts.MaxPer10s {
		s.headers(w)
		return reject("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
	}
	s.window = append(s.window, now)
	s.dayCount++
	s.headers(w)
	return true
}

// headers sets X-HubSpot-RateLimit-*; s.mu held.
func (s *Server) headers(w http.ResponseWriter) {
	if s.opts.MaxPer10s <= 0 {
		return
	}
	h := w.Header()
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.opts.MaxPer10s))
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, s.opts.MaxPer10s-len(s.window))))
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	if s.opts.DailyCap > 0 {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(s.opts.DailyCap))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(0, s.opts.DailyCap-s.dayCount)))
	}
}

// oauthError is HubSpot's token endpoint error: RFC 6749 error and error_description, plus HubSpot's own
// status and message.
func oauthError(code, status, msg string) map[string]string {
	return map[string]string{"error": code, "error_description": msg, "status": status, "message": msg,
		"correlationId": "c0ffee00-0000-4000-8000-000000000000"}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "BAD_REQUEST", "the token request must be a form (application/x-www-form-urlencoded)"))
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, oauthError("unsupported_grant_type", "BAD_GRANT_TYPE", "grant_type must be refresh_token"))
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ClientID == "" || f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_client", "BAD_CLIENT_ID", "missing or invalid client_id/client_secret"))
		return
	}
	if f.Get("refresh_token") != s.opts.RefreshToken {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", "BAD_REFRESH_TOKEN", "missing or unknown refresh token"))
		return
	}
	s.issued++
	s.refreshes++
	tok := fmt.Sprintf("oauth-%d", s.issued)
	s.tokens[tok] = s.now().Add(s.opts.TokenTTL)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "bearer", "refresh_token": s.opts.RefreshToken,
		"access_token": tok, "expires_in": int(s.opts.TokenTTL / time.Second)})
}

func (s *Server) listOwners(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	email := strings.ToLower(q.Get("email"))
	s.mu.Lock()
	defer s.mu.Unlock()
	res := []map[string]any{}
	for _, o := range s.owners {
		if o.Archived || (email != "" && strings.ToLower(o.Email) != email) {
			continue
		}
		if len(res) == limit {
			break
		}
		uid, _ := strconv.Atoi(o.UserID)
		res = append(res, map[string]any{"id": o.ID, "email": o.Email, "type": "PERSON", "firstName": o.FirstName,
			"lastName": o.LastName, "userId": uid, "createdAt": s.stamp(s.now()), "updatedAt": s.stamp(s.now()), "archived": false})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := snapshot(s.contacts)
	res := []map[string]any{}
	for i, o := range all {
		if i == limit {
			break
		}
		res = append(res, s.public(o, []string{"firstname", "lastname", "email"}))
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
}

// public renders a record as a SimplePublicObject with the requested properties (plus HubSpot's defaults).
func (s *Server) public(o Object, props []string) map[string]any {
	p := map[string]any{}
	for _, k := range append([]string{"hs_object_id", "createdate", "lastmodifieddate"}, props...) {
		if v, ok := o.Properties[k]; ok {
			p[k] = v
		} else {
			p[k] = nil
		}
	}
	return map[string]any{"id": o.ID, "properties": p, "createdAt": s.stamp(o.CreatedAt), "updatedAt": s.stamp(o.CreatedAt),
		"archived": false}
}

func (s *Server) createContact(w http.ResponseWriter, body []byte) {
	var in struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if email := strings.ToLower(in.Properties["email"]); email != "" {
		for _, c := range s.contacts {
			if strings.ToLower(c.Properties["email"]) == email {
				writeJSON(w, http.StatusConflict, newErr("CONFLICT", "Contact already exists. Existing ID: "+c.ID))
				return
			}
		}
	}
	for _, k := range []string{"hs_searchable_calculated_phone_number", "hs_searchable_calculated_mobile_number"} {
		if _, ok := in.Properties[k]; ok {
			writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Property values were not valid: "+k+" is a calculated property"))
			return
		}
	}
	if prop := s.missingRequired("contacts", in.Properties); prop != "" {
		writeJSON(w, http.StatusBadRequest, requiredErr(prop))
		return
	}
	r := s.putContact(in.Properties)
	writeJSON(w, http.StatusCreated, s.public(r.Object, keys(in.Properties)))
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
