package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// Search limits HubSpot documents, the lower figures (a 2024 changelog raised some; we do not rely on it).
const (
	maxGroups      = 5
	maxFilters     = 18
	maxQueryChars  = 3000 // the documented limit on a search request, applied to the whole JSON body
	searchPageSize = 200
	// searchBatch French mobile queries (each in three forms, on four properties with the default phone
	// fields) fit one search; packPhones splits further for longer numbers or more phone fields.
	searchBatch = 14
	readBatch   = 100
)

var (
	defaultPhoneFields = []string{"phone", "mobilephone"}
	calculatedPhones   = []string{"hs_searchable_calculated_phone_number", "hs_searchable_calculated_mobile_number"}
	contactProperties  = []string{"email", "firstname", "lastname", "phone", "mobilephone", "hubspot_owner_id",
		"associatedcompanyid", "lastmodifieddate"}
	existingID = regexp.MustCompile(`Existing ID: (\d+)`)
)

// object is HubSpot's SimplePublicObject; property values may be null.
type object struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId"`
}

func (o object) prop(name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

func (o object) contact() crm.Contact {
	c := crm.Contact{ID: o.ID, Kind: crm.KindContact, FirstName: o.prop("firstname"), LastName: o.prop("lastname"),
		Email: o.prop("email"), OwnerID: o.prop("hubspot_owner_id"), CompanyID: o.prop("associatedcompanyid")}
	c.Name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	c.LastModified = parseTime(o.prop("lastmodifieddate"))
	for name, v := range o.Properties {
		if v != nil && *v != "" && isPhoneProp(name) {
			c.Phones = append(c.Phones, *v)
		}
	}
	slices.Sort(c.Phones)
	c.Phones = slices.Compact(c.Phones)
	return c
}

// isPhoneProp reports whether a returned property holds a phone as stored (not HubSpot's calculated copies).
func isPhoneProp(name string) bool {
	return name == "phone" || name == "mobilephone" || (strings.Contains(name, "phone") && !strings.HasPrefix(name, "hs_searchable"))
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC()
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

type filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        string   `json:"value,omitempty"`
	Values       []string `json:"values,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type sortSpec struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Properties   []string      `json:"properties"`
	Sorts        []sortSpec    `json:"sorts,omitempty"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

type searchResponse struct {
	Total   int      `json:"total"`
	Results []object `json:"results"`
	Paging  struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

// FindContacts answers each query with the contacts that really match it. Email queries are read by email
// without the search index (batch/read, idProperty email). Phone queries sharing phone fields are packed
// into as few searches as HubSpot's filter limits allow (IN filters on the calculated national-number
// properties and on each phone field with the E.164 form), and every hit is confirmed with crm.SamePhone.
// Numbers that do not parse match nothing. It fails as a whole on any HubSpot error, or when a phone field
// name is not a HubSpot property name.
func (c *Client) FindContacts(ctx context.Context, queries []crm.ContactQuery) ([][]crm.Contact, error) {
	out := make([][]crm.Contact, len(queries))
	for i := range out {
		out[i] = []crm.Contact{}
	}
	var emails []int
	byFields := map[string][]int{}
	var order []string
	for i, q := range queries {
		switch {
		case q.Email != "":
			emails = append(emails, i)
		case q.Phone.Valid():
			fields := q.PhoneFields
			if len(fields) == 0 {
				fields = defaultPhoneFields
			}
			for _, f := range fields {
				if !propertyName.MatchString(f) {
					return nil, &crm.Error{Action: crm.Permanent, Code: "BAD_PHONE_FIELD", Message: fmt.Sprintf("phone field %q is not a HubSpot property name", f)}
				}
			}
			key := strings.Join(fields, ",")
			if _, ok := byFields[key]; !ok {
				order = append(order, key)
			}
			byFields[key] = append(byFields[key], i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("find contacts: %w", err)
	}
	if err := c.findByEmail(ctx, queries, emails, out); err != nil {
		return nil, err
	}
	for _, key := range order {
		fields := strings.Split(key, ",")
		idx := byFields[key]
		for len(idx) > 0 {
			n := packPhones(queries, idx, fields)
			if err := c.findByPhone(ctx, queries, idx[:n], fields, out); err != nil {
				return nil, err
			}
			idx = idx[n:]
		}
	}
	return out, nil
}

// phoneFilters builds one IN filter per property. Each holds every form a number may be stored in, at no extra
// request: on the calculated properties the national digits (what HubSpot keeps when it knows the country
// code), the trunk-prefix form and the international digits (what it keeps when the number was typed without
// "+"); on the phone fields, which are matched as stored, the E.164 form, the trunk-prefix form and the
// international digits. API.md says what the calculated properties hold and why. Values only ever go in JSON
// values.
func phoneFilters(queries []crm.ContactQuery, idx []int, fields []string) []filter {
	var calculated, stored []string
	add := func(list *[]string, vs ...string) {
		for _, v := range vs {
			v = strings.ToLower(v) // IN values must be lower case; these are digits and "+", lowered anyway
			if v != "" && !slices.Contains(*list, v) {
				*list = append(*list, v)
			}
		}
	}
	for _, i := range idx {
		p := queries[i].Phone
		intl := strings.TrimPrefix(p.E164, "+")
		add(&calculated, p.National, p.Trunk, intl)
		add(&stored, p.E164, p.Trunk, intl)
	}
	var fs []filter
	for _, prop := range calculatedPhones {
		fs = append(fs, filter{PropertyName: prop, Operator: "IN", Values: calculated})
	}
	for _, prop := range fields {
		fs = append(fs, filter{PropertyName: prop, Operator: "IN", Values: stored})
	}
	return fs
}

// groupsFor puts each filter in its own group (groups are ORed), at most maxGroups per search.
func groupsFor(fs []filter) [][]filterGroup {
	var out [][]filterGroup
	for len(fs) > 0 {
		n := min(len(fs), maxGroups, maxFilters)
		var gs []filterGroup
		for _, f := range fs[:n] {
			gs = append(gs, filterGroup{Filters: []filter{f}})
		}
		out = append(out, gs)
		fs = fs[n:]
	}
	return out
}

// packPhones returns how many of idx fit one search's size limit (at least one): every search the batch
// needs, marshalled whole (filters, properties, sorts and a paging cursor), stays under 3,000 characters.
func packPhones(queries []crm.ContactQuery, idx []int, fields []string) int {
	props := contactProps(fields)
	n := 1
	for n < len(idx) && n < searchBatch {
		fits := true
		for _, gs := range groupsFor(phoneFilters(queries, idx[:n+1], fields)) {
			fits = fits && searchFits(phoneSearch(gs, props))
		}
		if !fits {
			break
		}
		n++
	}
	return n
}

// phoneSearch is the search request for one set of phone filter groups.
func phoneSearch(groups []filterGroup, props []string) searchRequest {
	return searchRequest{FilterGroups: groups, Properties: props, Limit: searchPageSize,
		Sorts: []sortSpec{{PropertyName: "lastmodifieddate", Direction: "DESCENDING"}}}
}

// searchFits reports whether req, with the longest paging cursor it may carry, marshals under HubSpot's
// 3,000-character limit on a search request, measured on the whole body.
func searchFits(req searchRequest) bool {
	req.After = "9999999999"
	b, err := json.Marshal(req)
	return err == nil && len(b) < maxQueryChars
}

func contactProps(fields []string) []string {
	props := slices.Clone(contactProperties)
	for _, f := range fields {
		if !slices.Contains(props, f) {
			props = append(props, f)
		}
	}
	return props
}

// findByPhone runs the searches for idx and adds confirmed hits to out.
func (c *Client) findByPhone(ctx context.Context, queries []crm.ContactQuery, idx []int, fields []string, out [][]crm.Contact) error {
	props := contactProps(fields)
	seen := map[string]bool{}
	for _, groups := range groupsFor(phoneFilters(queries, idx, fields)) {
		req := phoneSearch(groups, props)
		for {
			var resp searchResponse
			if _, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects("contacts", "/search"), body: req, search: true}, &resp); err != nil {
				return fmt.Errorf("search contacts by phone: %w", err)
			}
			for _, o := range resp.Results {
				if seen[o.ID] {
					continue
				}
				seen[o.ID] = true
				ct := o.contact()
				for _, i := range idx {
					if matchesPhone(o, props, fields, queries[i].Phone) {
						out[i] = append(out[i], ct)
					}
				}
			}
			if resp.Paging.Next.After == "" || len(resp.Results) == 0 {
				break
			}
			req.After = resp.Paging.Next.After
		}
	}
	return nil
}

// matchesPhone confirms a search hit: one of its phone properties (or of the mapping's phone fields, whatever
// their names) is the same number as p.
func matchesPhone(o object, props, fields []string, p crm.Phone) bool {
	for _, name := range props {
		if (isPhoneProp(name) || slices.Contains(fields, name)) && crm.SamePhone(o.prop(name), p) {
			return true
		}
	}
	return false
}

type batchReadRequest struct {
	IDProperty            string        `json:"idProperty,omitempty"`
	Inputs                []batchReadID `json:"inputs"`
	Properties            []string      `json:"properties"`
	PropertiesWithHistory []string      `json:"propertiesWithHistory"`
}

type batchReadID struct {
	ID string `json:"id"`
}

type batchResponse struct {
	Status  string     `json:"status"`
	Results []object   `json:"results"`
	Errors  []apiError `json:"errors"`
}

// findByEmail reads the email queries by email, without the search index.
func (c *Client) findByEmail(ctx context.Context, queries []crm.ContactQuery, idx []int, out [][]crm.Contact) error {
	for len(idx) > 0 {
		var chunk []int
		var inputs []batchReadID
		for len(idx) > 0 && len(inputs) < readBatch {
			i := idx[0]
			e := strings.ToLower(strings.TrimSpace(queries[i].Email))
			if !slices.Contains(inputs, batchReadID{ID: e}) {
				inputs = append(inputs, batchReadID{ID: e})
			}
			chunk = append(chunk, i)
			idx = idx[1:]
		}
		var resp batchResponse
		req := batchReadRequest{IDProperty: "email", Inputs: inputs, Properties: contactProperties, PropertiesWithHistory: []string{}}
		if _, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects("contacts", "/batch/read"), body: req}, &resp); err != nil {
			return fmt.Errorf("read contacts by email: %w", err)
		}
		for _, o := range resp.Results {
			for _, i := range chunk {
				if strings.EqualFold(o.prop("email"), strings.TrimSpace(queries[i].Email)) {
					out[i] = append(out[i], o.contact())
				}
			}
		}
	}
	return nil
}

// CreateContact creates a contact with the name, E.164 phone, email, company and owner of nc, then
// nc.Fields (which win). When HubSpot answers 409 "Contact already exists. Existing ID: N" it returns
// Contact{ID: N} and a nil error. Other failures are *crm.Error.
func (c *Client) CreateContact(ctx context.Context, nc crm.NewContact) (crm.Contact, error) {
	props := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	set("firstname", nc.FirstName)
	set("lastname", nc.LastName)
	set("email", strings.TrimSpace(nc.Email))
	set("company", nc.Company)
	set("hubspot_owner_id", nc.OwnerID)
	if nc.Phone.Valid() {
		set("phone", nc.Phone.E164)
	} else {
		set("phone", strings.TrimSpace(nc.Phone.Raw))
	}
	for k, v := range nc.Fields {
		if !propertyName.MatchString(k) {
			return crm.Contact{}, &crm.Error{Action: crm.Permanent, Code: "BAD_FIELD", Message: fmt.Sprintf("contact field %q is not a HubSpot property name", k)}
		}
		props[k] = v
	}
	var o object
	status, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects("contacts", ""), body: map[string]any{"properties": props}, write: true}, &o)
	if status == http.StatusConflict {
		if ce := crm.Classify(err); ce != nil {
			if m := existingID.FindStringSubmatch(ce.Message); m != nil {
				return crm.Contact{ID: m[1], Kind: crm.KindContact}, nil
			}
		}
	}
	if err != nil {
		if ce := crm.Classify(err); ce != nil && status == http.StatusBadRequest {
			if re, ok := requiredError(ce, apiErrorOf(err), "create.fields", "new contacts"); ok {
				err = re
			}
		}
		return crm.Contact{}, fmt.Errorf("create contact: %w", err)
	}
	ct := o.contact()
	if ct.FirstName == "" && ct.LastName == "" && ct.Phones == nil { // a response echoing no properties
		ct.FirstName, ct.LastName, ct.Email = nc.FirstName, nc.LastName, nc.Email
		ct.Name = strings.TrimSpace(nc.FirstName + " " + nc.LastName)
	}
	return ct, nil
}

type ownerEntry struct {
	id      string
	expires time.Time // zero: never
}

// ownerMissTTL is how long "no such owner" is remembered, so a user added to HubSpot is picked up later.
const ownerMissTTL = 10 * time.Minute

// ResolveOwner returns the owner id (never the userId) of the active HubSpot owner with this email, or "" when
// there is none. Answers are cached in memory (misses for ownerMissTTL). Failures are *crm.Error.
func (c *Client) ResolveOwner(ctx context.Context, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", nil
	}
	c.mu.Lock()
	e, ok := c.owners[email]
	c.mu.Unlock()
	if ok && (e.expires.IsZero() || c.now().Before(e.expires)) {
		return e.id, nil
	}
	var resp struct {
		Results []struct {
			ID       string `json:"id"`
			Email    string `json:"email"`
			Archived bool   `json:"archived"`
		} `json:"results"`
	}
	q := url.Values{"email": {email}, "limit": {"100"}}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: c.api.owners(), query: q}, &resp); err != nil {
		return "", fmt.Errorf("resolve owner: %w", err)
	}
	entry := ownerEntry{expires: c.now().Add(ownerMissTTL)}
	for _, o := range resp.Results {
		if !o.Archived && strings.EqualFold(o.Email, email) && o.ID != "" {
			entry = ownerEntry{id: o.ID}
			break
		}
	}
	c.mu.Lock()
	c.owners[email] = entry
	c.mu.Unlock()
	return entry.id, nil
}

// Check makes one cheap call (GET .../objects/contacts?limit=1) proving the credentials and the contacts read
// scope, reads the account's time zone, and summarises it. Failures are *crm.Error. CheckMapping checks the
// mapping's fields and scopes.
func (c *Client) Check(ctx context.Context) (string, error) {
	var resp struct {
		Results []object `json:"results"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: c.api.objects("contacts", ""), query: url.Values{"limit": {"1"}}}, &resp); err != nil {
		return "", fmt.Errorf("check: %w", err)
	}
	how := "private app token"
	if c.auth.canRefresh() {
		how = "OAuth refresh token"
	}
	zone := "unknown (daily limit resets are timed in the destination's zone)"
	c.mu.Lock()
	if c.zone != nil {
		zone = c.zone.String()
	}
	c.mu.Unlock()
	return fmt.Sprintf("HubSpot %s (API %s): %s accepted, contacts readable, account time zone %s", c.cfg.BaseURL, c.cfg.APIVersion, how, zone), nil
}
