package salesforce

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/onoffsync/onoffsync/crm"
)

var (
	defaultPhoneFields = []string{"Phone", "MobilePhone"}
	identRE            = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
	// contactFields and leadFields are the standard fields the adapter reads (Lead has no AccountId).
	contactFields = []string{"Id", "Name", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "AccountId", "OwnerId", "LastModifiedDate"}
	leadFields    = []string{"Id", "Name", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "OwnerId", "LastModifiedDate"}
)

const sfTimeLayout = "2006-01-02T15:04:05.000-0700"

// soslReserved are the characters SOSL gives a meaning to inside FIND {...}.
const soslReserved = `&|!(){}[]^"~*?:\'+-`

// EscapeSOSL backslash-escapes every SOSL reserved character (& | ! ( ) { } [ ] ^ " ~ * ? : \ ' + -), so no
// character of s can end the FIND clause or change the query's structure. Whitespace still separates terms and a
// bare OR, AND or NOT is still an operator: the adapter only ever searches digit strings.
func EscapeSOSL(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(soslReserved, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EscapeSOQL escapes s for use inside a single-quoted SOQL string literal: backslash and quotes, and the
// control characters SOQL has escapes for.
func EscapeSOQL(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\b", `\b`, "\f", `\f`)
	return r.Replace(s)
}

// quoteSOQL returns s as an escaped SOQL string literal.
func quoteSOQL(s string) string { return "'" + EscapeSOQL(s) + "'" }

// FindContacts answers phone queries with SOSL (several queries per FIND, hits attributed back and confirmed
// with crm.SamePhone) and email queries with SOQL on Contact and non-converted Lead. Contacts come before
// Leads, then the most recently modified. It fails as a whole on any failed call.
func (c *Client) FindContacts(ctx context.Context, queries []crm.ContactQuery) ([][]crm.Contact, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.admit(); err != nil {
		return nil, err
	}
	out := make([][]crm.Contact, len(queries))
	var phones, emails []int
	for i, q := range queries {
		out[i] = []crm.Contact{}
		switch {
		case q.Email != "":
			emails = append(emails, i)
		case len(q.Phone.Digits()) > 0:
			phones = append(phones, i)
		}
	}
	for _, group := range c.phoneGroups(queries, phones) {
		if err := c.searchPhones(ctx, queries, group, out); err != nil {
			return nil, err
		}
	}
	for start := 0; start < len(emails); start += SearchBatch {
		group := emails[start:min(start+SearchBatch, len(emails))]
		if err := c.searchEmails(ctx, queries, group, out); err != nil {
			return nil, err
		}
	}
	for _, m := range out {
		sortContacts(m)
	}
	return out, nil
}

func sortContacts(m []crm.Contact) {
	slices.SortStableFunc(m, func(a, b crm.Contact) int {
		if a.Kind != b.Kind {
			if a.Kind == crm.KindContact {
				return -1
			}
			if b.Kind == crm.KindContact {
				return 1
			}
		}
		return b.LastModified.Compare(a.LastModified)
	})
}

// searchTerms are a query's escaped digit variants (digits only: SOSL's handling of "+" is undocumented).
func searchTerms(q crm.ContactQuery) []string {
	var terms []string
	for _, d := range q.Phone.Digits() {
		if len(d) >= 3 {
			terms = append(terms, EscapeSOSL(d))
		}
	}
	return terms
}

// phoneGroups splits phone queries into SOSL calls of at most SearchBatch queries and maxSearchLen characters.
func (c *Client) phoneGroups(queries []crm.ContactQuery, idx []int) [][]int {
	var groups [][]int
	var cur []int
	size := 0
	for _, i := range idx {
		n := 0
		for _, t := range searchTerms(queries[i]) {
			n += len(t) + len(" OR ")
		}
		if n == 0 {
			continue
		}
		if len(cur) > 0 && (len(cur) >= SearchBatch || size+n > maxSearchLen) {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += n
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// phoneFields returns the fields to confirm hits on (mapping's PhoneFields or Phone, MobilePhone).
func phoneFields(q crm.ContactQuery) ([]string, error) {
	if len(q.PhoneFields) == 0 {
		return defaultPhoneFields, nil
	}
	for _, f := range q.PhoneFields {
		if !identRE.MatchString(f) {
			return nil, &crm.Error{Action: crm.Pause, Code: "INVALID_PHONE_FIELD",
				Message: fmt.Sprintf("mapping phone field %q is not a Salesforce field name", f)}
		}
	}
	return q.PhoneFields, nil
}

func (c *Client) searchPhones(ctx context.Context, queries []crm.ContactQuery, group []int, out [][]crm.Contact) error {
	seen := map[string]bool{}
	var terms, extra []string
	for _, i := range group {
		fs, err := phoneFields(queries[i])
		if err != nil {
			return err
		}
		for _, f := range fs {
			if !slices.Contains(defaultPhoneFields, f) && !slices.Contains(extra, f) {
				extra = append(extra, f)
			}
		}
		for _, t := range searchTerms(queries[i]) {
			if !seen[t] {
				seen[t] = true
				terms = append(terms, t)
			}
		}
	}
	var res struct {
		SearchRecords []map[string]any `json:"searchRecords"`
	}
	for attempt := 0; ; attempt++ {
		returning, err := c.returning(ctx, extra)
		if err != nil {
			return fmt.Errorf("search phones: %w", err)
		}
		if returning == "" {
			return nil // neither Contact nor Lead is readable: nothing can match
		}
		sosl := "FIND {" + strings.Join(terms, " OR ") + "} IN PHONE FIELDS RETURNING " + returning
		err = c.doJSON(ctx, call{method: http.MethodGet, path: "/search", query: url.Values{"q": {sosl}}}, &res)
		var ce *crm.Error
		if err != nil && attempt == 0 && len(extra) > 0 && errors.As(err, &ce) && ce.Code == "INVALID_FIELD" {
			// The cached describe is stale (a field deleted or hidden since): read it again, once.
			c.log.Info("salesforce search refused a field; reading the describe again", "err", ce.Message)
			c.Reload()
			continue
		}
		if err != nil {
			return fmt.Errorf("search phones: %w", err)
		}
		break
	}
	memo := map[[2]string]string{} // (stored, region) -> E.164: each stored number parsed once per region
	for _, rec := range res.SearchRecords {
		ct := toContact(rec)
		for _, i := range group {
			fs, _ := phoneFields(queries[i])
			if phoneHit(rec, fs, queries[i].Phone, memo) {
				out[i] = append(out[i], ct)
			}
		}
	}
	return nil
}

// phoneHit confirms a SOSL hit: one of the phone fields holds the same number (crm.SamePhone, memoised).
func phoneHit(rec map[string]any, fields []string, p crm.Phone, memo map[[2]string]string) bool {
	for _, f := range fields {
		s, _ := rec[f].(string)
		if s == "" {
			continue
		}
		if p.Valid() {
			k := [2]string{s, p.Region}
			e164, ok := memo[k]
			if !ok {
				if crm.SamePhone(s, p) {
					e164 = p.E164
				} else {
					e164 = crm.ParsePhone(s, p.Region).E164
				}
				memo[k] = e164
			}
			if e164 == p.E164 {
				return true
			}
		} else if d := phonenumbers.NormalizeDigitsOnly(p.Raw); d != "" && phonenumbers.NormalizeDigitsOnly(s) == d {
			return true
		}
	}
	return false
}

// returning builds the RETURNING clause of a phone search. The mapping's phone fields beyond Phone and
// MobilePhone are requested only from the objects that have them (their describe, read once): SOSL fails
// as a whole with INVALID_FIELD when one object lacks a field it names. A field neither object has is
// left out, with a warning once ("onoffsync check --online" reports it).
func (c *Client) returning(ctx context.Context, extra []string) (string, error) {
	var contact, lead *objectInfo
	if len(extra) > 0 {
		var err error
		if contact, err = c.describe(ctx, "Contact"); err != nil {
			return "", err
		}
		if lead, err = c.describe(ctx, "Lead"); err != nil {
			return "", err
		}
		for _, f := range extra {
			if !contact.has(f) && !lead.has(f) {
				c.warnOnce("phone:"+f, "salesforce: mapping phone field exists on neither Contact nor Lead (or is hidden from the integration user); not searched", "field", f)
			}
		}
	} else {
		contact, lead = c.cachedDescribe("Contact"), c.cachedDescribe("Lead")
	}
	var parts []string
	if contact == nil || !contact.missing {
		parts = append(parts, "Contact("+joinFields(selectFields(contact, contactFields, extra))+")")
	}
	if lead == nil || !lead.missing {
		parts = append(parts, "Lead("+joinFields(selectFields(lead, leadFields, extra))+" WHERE IsConverted = false)")
	}
	return strings.Join(parts, ", "), nil
}

func (c *Client) searchEmails(ctx context.Context, queries []crm.ContactQuery, group []int, out [][]crm.Contact) error {
	var lits []string
	seen := map[string]bool{}
	for _, i := range group {
		e := strings.ToLower(queries[i].Email)
		if !seen[e] {
			seen[e] = true
			lits = append(lits, quoteSOQL(e))
		}
	}
	in := "(" + strings.Join(lits, ",") + ")"
	var soqls []string
	if ci := c.cachedDescribe("Contact"); ci == nil || !ci.missing {
		soqls = append(soqls, "SELECT "+joinFields(selectFields(ci, contactFields, nil))+" FROM Contact WHERE Email IN "+in)
	}
	if li := c.cachedDescribe("Lead"); li == nil || !li.missing {
		soqls = append(soqls, "SELECT "+joinFields(selectFields(li, leadFields, nil))+" FROM Lead WHERE Email IN "+in+" AND IsConverted = false")
	}
	for _, q := range soqls {
		recs, err := c.query(ctx, q)
		if err != nil {
			return fmt.Errorf("search emails: %w", err)
		}
		for _, rec := range recs {
			ct := toContact(rec)
			for _, i := range group {
				if strings.EqualFold(ct.Email, queries[i].Email) {
					out[i] = append(out[i], ct)
				}
			}
		}
	}
	return nil
}

// query runs one SOQL query and returns its records (first page: the adapter's queries are small).
func (c *Client) query(ctx context.Context, soql string) ([]map[string]any, error) {
	var res struct {
		Records []map[string]any `json:"records"`
	}
	if err := c.doJSON(ctx, call{method: http.MethodGet, path: "/query", query: url.Values{"q": {soql}}}, &res); err != nil {
		return nil, err
	}
	return res.Records, nil
}

func str(rec map[string]any, k string) string {
	s, _ := rec[k].(string)
	return s
}

func toContact(rec map[string]any) crm.Contact {
	var typ string
	if a, ok := rec["attributes"].(map[string]any); ok {
		typ, _ = a["type"].(string)
	}
	ct := crm.Contact{ID: str(rec, "Id"), Kind: crm.KindContact, Name: str(rec, "Name"), FirstName: str(rec, "FirstName"),
		LastName: str(rec, "LastName"), Email: str(rec, "Email"), OwnerID: str(rec, "OwnerId")}
	if typ == "Lead" {
		ct.Kind = crm.KindLead
	} else {
		ct.CompanyID = str(rec, "AccountId")
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(phoneRank(a), phoneRank(b)) })
	for _, k := range keys {
		if phoneRank(k) < 99 || strings.HasSuffix(k, "Phone") || strings.HasSuffix(k, "Phone__c") {
			if s := str(rec, k); s != "" {
				ct.Phones = append(ct.Phones, s)
			}
		}
	}
	if t, err := time.Parse(sfTimeLayout, str(rec, "LastModifiedDate")); err == nil {
		ct.LastModified = t
	}
	return ct
}

func phoneRank(k string) int {
	switch k {
	case "Phone":
		return 0
	case "MobilePhone":
		return 1
	}
	return 99
}
