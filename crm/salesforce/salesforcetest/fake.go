// Package salesforcetest is a stateful fake Salesforce for tests in any package: OAuth token endpoint (client
// credentials, JWT bearer, refresh token), SOSL phone search with index lag, the SOQL the adapter sends,
// per-object describe (fields exist on the objects that declare them; types and lengths are enforced),
// Lead/Contact/Task writes with duplicate rules, restricted picklists and Task rules, sObject Collections
// (create and upsert by external id), Sforce-Limit-Info and a daily allocation, session expiry, and fault
// injection. Time comes from Options.Now, so tests advance a clock instead of sleeping.
// It imports no onoffsync package: it must behave like Salesforce, not like our adapter.
package salesforcetest

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Endpoints, as counted by Calls and targeted by FailNext and DropNext.
const (
	EndpointToken            = "token"             // POST /services/oauth2/token
	EndpointSearch           = "search"            // GET  .../search
	EndpointQuery            = "query"             // GET  .../query
	EndpointCreate           = "create"            // POST .../sobjects/{type}
	EndpointGet              = "get"               // GET  .../sobjects/{type}/{id}
	EndpointDescribe         = "describe"          // GET  .../sobjects/{type}/describe
	EndpointUpsert           = "upsert"            // PATCH .../sobjects/{type}/{field}/{value}
	EndpointCollection       = "collection"        // POST .../composite/sobjects
	EndpointCollectionUpsert = "collection_upsert" // PATCH .../composite/sobjects/{type}/{field}
	EndpointToolingQuery     = "tooling_query"     // GET  .../tooling/query
	// EndpointCustomFieldCreate is POST .../tooling/sobjects/CustomField.
	EndpointCustomFieldCreate = "custom_field_create"
	EndpointCollectionUpdate  = "collection_update" // PATCH .../composite/sobjects
)

// Options configure the fake. Zero values give an org that accepts nothing but seeded data until
// credentials are set.
type Options struct {
	Now          func() time.Time // nil: time.Now
	ClientID     string           // consumer key accepted by every grant
	ClientSecret string           // client_credentials and refresh_token
	RefreshToken string           // the refresh token accepted
	Username     string           // JWT sub
	PublicKey    *rsa.PublicKey   // JWT signature key
	Audience     string           // JWT aud accepted; "": https://login.salesforce.com
	// LoginDomain makes the token endpoint behave as login.salesforce.com: client_credentials is refused.
	LoginDomain bool
	// SessionLife is how long a session survives without use (Salesforce default 2 h); 0: forever.
	SessionLife time.Duration
	DailyLimit  int           // daily API allocation; 0: 100000
	IndexLag    time.Duration // how long API-created records stay out of SOSL results
	// TaskIDField is the external-ID field on Task (e.g. Onoff_Message_Id__c); "": none.
	TaskIDField string
	// DuplicateRules: creating a Lead or Contact whose email or phone digits match an existing Lead or
	// Contact answers 400 DUPLICATES_DETECTED.
	DuplicateRules bool
	// DuplicateKey is the duplicate body's key: "" gives Salesforce's real misspelling "duplicateResut".
	DuplicateKey string
	// TaskTypes are the restricted picklist values of Task.Type; nil: Call, Email, Meeting, Other, SMS.
	TaskTypes []string
	// Fields adds fields (custom ones, WhatsApp__c say) to objects, by object name. A field exists only on the
	// objects that list it: queries and writes naming it elsewhere are refused with INVALID_FIELD.
	Fields map[string][]Field
	// Hidden removes fields from objects, as field-level security hides them from the integration user.
	Hidden map[string][]string
	// ReadOnlyObjects are objects the integration user cannot create or update (describe says so).
	ReadOnlyObjects []string
	// LacksCustomizeApplication refuses the Tooling API's CustomField create, as for a user without the
	// "Customize Application" permission.
	LacksCustomizeApplication bool
	// LacksManagePermissionSets refuses creating PermissionSet, FieldPermissions and
	// PermissionSetAssignment records ("Manage Profiles and Permission Sets", "Assign Permission Sets").
	LacksManagePermissionSets bool
}

// Fault is an injected failure: the next Times calls of an endpoint answer Status with Body and Header
// (before anything is applied).
type Fault struct {
	Times  int
	Status int
	Body   string
	Header http.Header
}

// Salesforce's REQUEST_LIMIT_EXCEEDED messages. Only TotalRequests is the daily allocation; the
// concurrency limits clear in seconds. Sources: SalesforceLabs/OrgCheck#181 and #432, mautic/mautic#5006.
const (
	MsgTotalRequests      = "TotalRequests Limit exceeded."
	MsgConcurrentLongTxn  = "ConcurrentPerOrgLongTxn Limit exceeded."
	MsgConcurrentRequests = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
)

// RequestLimit is a Fault answering 403 REQUEST_LIMIT_EXCEEDED with msg (one of the Msg constants) times
// times, in Salesforce's error shape.
func RequestLimit(msg string, times int) Fault {
	b, _ := json.Marshal([]apiError{{Message: msg, ErrorCode: "REQUEST_LIMIT_EXCEEDED"}})
	return Fault{Times: times, Status: http.StatusForbidden, Body: string(b)}
}

// Record is a stored record.
type Record struct {
	ID     string
	Type   string
	Fields map[string]any
}

type record struct {
	typ     string
	fields  map[string]any
	created time.Time
	indexed bool
	deleted bool
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	srv      *httptest.Server
	opts     Options
	schemaMu sync.RWMutex
	schema   map[string]map[string]Field // object -> field name -> field; schemaMu

	mu       sync.Mutex
	recs     map[string]*record
	order    []string
	seq      int
	sessions map[string]time.Time // token -> last use
	usage    int
	calls    map[string]int
	faults   map[string][]Fault
	drops    map[string]int
	latency  time.Duration
	extIndex map[string][]string // Task external id value -> ids
	byType   map[string][]string // type -> ids in creation order
	phones   map[string][]string // phone digits -> ids (phone fields at creation)
	custom   []customField       // custom fields created through the Tooling API (setup.go)
	writes   map[string]int      // record id -> how many collection updates changed it
}

// New starts a fake on a loopback port. Close it when done.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Audience == "" {
		opts.Audience = "https://login.salesforce.com"
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = 100000
	}
	if opts.DuplicateKey == "" {
		opts.DuplicateKey = "duplicateResut"
	}
	if opts.TaskTypes == nil {
		opts.TaskTypes = []string{"Call", "Email", "Meeting", "Other", "SMS"}
	}
	s := &Server{opts: opts, schema: buildSchema(opts), recs: map[string]*record{}, sessions: map[string]time.Time{}, calls: map[string]int{},
		faults: map[string][]Fault{}, drops: map[string]int{},
		extIndex: map[string][]string{}, writes: map[string]int{}, byType: map[string][]string{}, phones: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", s.wrap(EndpointToken, false, s.token))
	mux.HandleFunc("GET /services/data/{v}/search", s.wrap(EndpointSearch, true, s.search))
	mux.HandleFunc("GET /services/data/{v}/query", s.wrap(EndpointQuery, true, s.query))
	mux.HandleFunc("POST /services/data/{v}/sobjects/{type}", s.wrap(EndpointCreate, true, s.create))
	mux.HandleFunc("GET /services/data/{v}/sobjects/{type}/{id}", s.wrap(EndpointGet, true, s.get))
	mux.HandleFunc("GET /services/data/{v}/tooling/query", s.wrap(EndpointToolingQuery, true, s.toolingQuery))
	mux.HandleFunc("POST /services/data/{v}/tooling/sobjects/CustomField", s.wrap(EndpointCustomFieldCreate, true, s.createCustomField))
	mux.HandleFunc("GET /services/data/{v}/sobjects/{type}/describe", s.wrap(EndpointDescribe, true, s.describe))
	mux.HandleFunc("PATCH /services/data/{v}/sobjects/{type}/{field}/{value}", s.wrap(EndpointUpsert, true, s.upsert))
	mux.HandleFunc("POST /services/data/{v}/composite/sobjects", s.wrap(EndpointCollection, true, s.collection))
	mux.HandleFunc("PATCH /services/data/{v}/composite/sobjects/{type}/{field}", s.wrap(EndpointCollectionUpsert, true, s.collectionUpsert))
	mux.HandleFunc("PATCH /services/data/{v}/composite/sobjects", s.wrap(EndpointCollectionUpdate, true, s.collectionUpdate))
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the fake's base URL: its login URL and the instance_url it hands out.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) now() time.Time { return s.opts.Now() }

// Calls returns how many requests an endpoint received (refused ones included).
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// DataCalls returns how many requests hit the data API (everything but the token endpoint).
func (s *Server) DataCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.calls {
		if k != EndpointToken {
			n += v
		}
	}
	return n
}

// FailNext makes the next f.Times calls of endpoint answer f.Status/f.Body without applying anything.
func (s *Server) FailNext(endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = append(s.faults[endpoint], f)
}

// DropNext makes the next n calls of endpoint apply the request, then close the connection without an
// answer (an ambiguous failure for the client).
func (s *Server) DropNext(endpoint string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[endpoint] += n
}

// SetLatency delays every answer by d (real time).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetUsage sets the API calls counted against today's allocation.
func (s *Server) SetUsage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = n
}

// Usage returns the API calls counted so far.
func (s *Server) Usage() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// ExpireSessions invalidates every access token (as an admin revoking sessions, or their timeout).
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// Settle puts every record in the search index.
func (s *Server) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		r.indexed = true
	}
}

// wrap counts, delays, authenticates, meters and fault-injects around a handler, which writes into a
// recorder so the answer can be dropped after the request was applied.
func (s *Server) wrap(endpoint string, data bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[endpoint]++
		lat := s.latency
		s.mu.Unlock()
		if lat > 0 {
			select {
			case <-time.After(lat):
			case <-r.Context().Done():
				return
			}
		}
		s.mu.Lock()
		if data {
			if !apiVersionOK(r.PathValue("v")) {
				s.mu.Unlock()
				writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
				return
			}
			if !s.authorized(r) {
				s.mu.Unlock()
				writeErr(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
				return
			}
			if s.usage >= s.opts.DailyLimit {
				w.Header().Set("Sforce-Limit-Info", s.limitInfo())
				s.mu.Unlock()
				writeErr(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", MsgTotalRequests)
				return
			}
			s.usage++
			w.Header().Set("Sforce-Limit-Info", s.limitInfo())
		}
		if fs := s.faults[endpoint]; len(fs) > 0 {
			f := fs[0]
			if f.Times--; f.Times <= 0 {
				s.faults[endpoint] = fs[1:]
			} else {
				fs[0] = f
			}
			s.mu.Unlock()
			for k, v := range f.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		drop := s.drops[endpoint] > 0
		if drop {
			s.drops[endpoint]--
		}
		s.mu.Unlock()

		rec := httptest.NewRecorder()
		h(rec, r)
		if drop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

func apiVersionOK(v string) bool {
	if len(v) < 4 || v[0] != 'v' {
		return false
	}
	for _, c := range v[1:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

func (s *Server) limitInfo() string {
	return fmt.Sprintf("api-usage=%d/%d", s.usage, s.opts.DailyLimit)
}

// authorized checks the bearer token; s.mu held.
func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	last, ok := s.sessions[tok]
	if !ok {
		return false
	}
	now := s.now()
	if s.opts.SessionLife > 0 && now.Sub(last) >= s.opts.SessionLife {
		delete(s.sessions, tok)
		return false
	}
	s.sessions[tok] = now
	return true
}

type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	writeJSON(w, status, []apiError{{Message: msg, ErrorCode: code, Fields: fields}})
}

// Person is a Contact or Lead to seed.
type Person struct {
	FirstName, LastName, Email, Phone, MobilePhone string
	Company                                        string // Lead
	AccountID                                      string // Contact
	OwnerID                                        string
	Converted                                      bool      // Lead.IsConverted
	Modified                                       time.Time // LastModifiedDate; zero: now
	Fields                                         map[string]any
}

// SeedContact stores a Contact (already indexed) and returns its id.
func (s *Server) SeedContact(p Person) string { return s.seedPerson("Contact", p) }

// SeedLead stores a Lead (already indexed) and returns its id.
func (s *Server) SeedLead(p Person) string { return s.seedPerson("Lead", p) }

func (s *Server) seedPerson(typ string, p Person) string {
	f := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("FirstName", p.FirstName)
	set("LastName", p.LastName)
	set("Email", p.Email)
	set("Phone", p.Phone)
	set("MobilePhone", p.MobilePhone)
	set("OwnerId", p.OwnerID)
	if typ == "Lead" {
		set("Company", p.Company)
		f["IsConverted"] = p.Converted
	} else {
		set("AccountId", p.AccountID)
	}
	maps.Copy(f, p.Fields)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.insert(typ, f)
	r := s.recs[id]
	r.indexed = true
	if !p.Modified.IsZero() {
		r.fields["LastModifiedDate"] = sfTime(p.Modified)
	}
	return id
}

// SeedUser stores a User and returns its id.
func (s *Server) SeedUser(email string, active bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insert("User", map[string]any{"Email": email, "IsActive": active, "Username": email})
}

// SeedAccount stores an Account and returns its id.
func (s *Server) SeedAccount(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insert("Account", map[string]any{"Name": name})
}

// SeedTask stores a Task as given (no validation), e.g. to create two Tasks with one external id.
func (s *Server) SeedTask(fields map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insert("Task", maps.Clone(fields))
}

// Delete marks a record deleted (in the recycle bin: references to it answer ENTITY_IS_DELETED).
func (s *Server) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[id]; ok {
		r.deleted = true
	}
}

// Get returns a stored record (deleted ones too).
func (s *Server) Get(id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok {
		return Record{}, false
	}
	return Record{ID: id, Type: r.typ, Fields: s.view(id, r)}, true
}

// Records returns the live records of a type (Contact, Lead, Task, User, Account) in creation order.
func (s *Server) Records(typ string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, id := range s.byType[typ] {
		if r := s.recs[id]; !r.deleted {
			out = append(out, Record{ID: id, Type: typ, Fields: s.view(id, r)})
		}
	}
	return out
}

// Tasks returns the live Tasks in creation order.
func (s *Server) Tasks() []Record { return s.Records("Task") }

// IntegrationUser is the id of the user every token of the fake stands for (the last segment of the token
// answer's identity URL): records created through the API have it as CreatedById, as do seeded ones unless
// their fields name another.
const IntegrationUser = "005000000000000AAA"

var idPrefix = map[string]string{"Account": "001", "Contact": "003", "User": "005", "Lead": "00Q", "Task": "00T"}

// insert stores a new record; s.mu held.
func (s *Server) insert(typ string, f map[string]any) string {
	s.seq++
	id := fmt.Sprintf("%s%012dAAA", idPrefix[typ], s.seq)
	now := s.now()
	f["CreatedDate"] = sfTime(now)
	if _, ok := f["CreatedById"]; !ok {
		f["CreatedById"] = IntegrationUser
	}
	f["LastModifiedDate"] = sfTime(now)
	s.recs[id] = &record{typ: typ, fields: f, created: now}
	s.order = append(s.order, id)
	s.byType[typ] = append(s.byType[typ], id)
	for _, pf := range s.phoneFields(typ) {
		if d := digits(fmt.Sprint(f[pf])); d != "" && f[pf] != nil {
			s.phones[d] = append(s.phones[d], id)
		}
	}
	if v, ok := f[s.opts.TaskIDField]; ok && typ == "Task" && s.opts.TaskIDField != "" {
		k := fmt.Sprint(v)
		s.extIndex[k] = append(s.extIndex[k], id)
	}
	return id
}

func sfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

// view is a record's fields as the API shows them (Id, computed Name); s.mu held.
func (s *Server) view(id string, r *record) map[string]any {
	f := maps.Clone(r.fields)
	f["Id"] = id
	if r.typ == "Contact" || r.typ == "Lead" || r.typ == "User" {
		first, _ := f["FirstName"].(string)
		last, _ := f["LastName"].(string)
		f["Name"] = strings.TrimSpace(first + " " + last)
	}
	return f
}

// searchable reports whether SOSL sees r; s.mu held.
func (s *Server) searchable(r *record) bool {
	return !r.deleted && (r.indexed || !s.now().Before(r.created.Add(s.opts.IndexLag)))
}

// Clock is a settable clock for Options.Now, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
