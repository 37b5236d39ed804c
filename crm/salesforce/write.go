package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/onoffsync/onoffsync/crm"
)

const (
	maxSubject     = 255
	maxDescription = 32000
	notProvided    = "[not provided]" // Salesforce's own filler for required fields (Web-to-Lead)
	ownerTTL       = time.Hour
)

// CreateContact creates a Lead (LastName, Company, FirstName, Email, Phone in E.164, OwnerId, plus
// c.Fields, which win) or, when c.Kind is crm.KindContact, a Contact. A duplicate rule's
// DUPLICATES_DETECTED returns the matched record with a nil error. It is never resent by the HTTP client
// (a resent create could duplicate); other failures are classified *crm.Error.
func (c *Client) CreateContact(ctx context.Context, nc crm.NewContact) (crm.Contact, error) {
	if err := c.admit(); err != nil {
		return crm.Contact{}, err
	}
	obj, kind := "Lead", crm.KindLead
	if nc.Kind == crm.KindContact {
		obj, kind = "Contact", crm.KindContact
	}
	phone := nc.Phone.E164
	if phone == "" {
		phone = nc.Phone.Raw
	}
	rec := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			rec[k] = v
		}
	}
	last := nc.LastName
	if last == "" {
		last = cmpOr(phone, notProvided)
	}
	set("LastName", last)
	set("FirstName", nc.FirstName)
	set("Email", nc.Email)
	set("Phone", phone)
	set("OwnerId", nc.OwnerID)
	if obj == "Lead" {
		set("Company", cmpOr(nc.Company, notProvided))
	}
	for k, v := range nc.Fields {
		set(k, v)
	}
	resp, err := c.do(ctx, call{method: http.MethodPost, path: "/sobjects/" + obj, body: rec, noRetry: true})
	if err != nil {
		return crm.Contact{}, fmt.Errorf("create %s: %w", obj, err)
	}
	if resp.status == http.StatusBadRequest {
		if m, ok := duplicateMatch(resp.body); ok {
			c.log.Info("salesforce duplicate rule matched an existing record", "object", obj, "id", m.ID)
			return m, nil
		}
	}
	if resp.status != http.StatusCreated && resp.status != http.StatusOK {
		return crm.Contact{}, fmt.Errorf("create %s: %w", obj, c.classify(resp))
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.body, &res); err != nil || res.ID == "" {
		return crm.Contact{}, &crm.Error{Action: crm.Retry, Status: resp.status, Message: "create " + obj + ": no id in response"}
	}
	ct := crm.Contact{ID: res.ID, Kind: kind, FirstName: str(rec, "FirstName"), LastName: str(rec, "LastName"),
		Email: str(rec, "Email"), OwnerID: str(rec, "OwnerId"), LastModified: c.now()}
	ct.Name = strings.TrimSpace(ct.FirstName + " " + ct.LastName)
	if p := str(rec, "Phone"); p != "" {
		ct.Phones = []string{p}
	}
	return ct, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// duplicateMatch reads a DUPLICATES_DETECTED body (the key is misspelled "duplicateResut" in real responses;
// both spellings are accepted) and returns the first matched Contact or Lead.
func duplicateMatch(body []byte) (crm.Contact, bool) {
	type dupResult struct {
		MatchResults []struct {
			EntityType   string `json:"entityType"`
			MatchRecords []struct {
				Record map[string]any `json:"record"`
			} `json:"matchRecords"`
		} `json:"matchResults"`
	}
	var errs []struct {
		ErrorCode string     `json:"errorCode"`
		Resut     *dupResult `json:"duplicateResut"`
		Result    *dupResult `json:"duplicateResult"`
	}
	if json.Unmarshal(body, &errs) != nil {
		return crm.Contact{}, false
	}
	for _, e := range errs {
		if e.ErrorCode != "DUPLICATES_DETECTED" {
			continue
		}
		for _, d := range []*dupResult{e.Resut, e.Result} {
			if d == nil {
				continue
			}
			for _, mr := range d.MatchResults {
				for _, r := range mr.MatchRecords {
					ct := toContact(r.Record)
					typ := mr.EntityType
					if a, ok := r.Record["attributes"].(map[string]any); ok && a["type"] != nil {
						typ, _ = a["type"].(string)
					}
					if ct.ID == "" || (typ != "Contact" && typ != "Lead") {
						continue
					}
					ct.Kind = crm.KindContact
					if typ == "Lead" {
						ct.Kind = crm.KindLead
					}
					return ct, true
				}
			}
		}
	}
	return crm.Contact{}, false
}

// ResolveOwner returns the active User whose Email is email, or "" when none. Answers (including "none")
// are cached in memory for an hour per email.
func (c *Client) ResolveOwner(ctx context.Context, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", nil
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.owners[email]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < ownerTTL {
		return e.id, nil
	}
	if err := c.admit(); err != nil {
		return "", err
	}
	recs, err := c.query(ctx, "SELECT Id FROM User WHERE Email = "+quoteSOQL(email)+" AND IsActive = true LIMIT 1")
	if err != nil {
		return "", fmt.Errorf("resolve owner: %w", err)
	}
	id := ""
	if len(recs) > 0 {
		id = str(recs[0], "Id")
	}
	c.mu.Lock()
	c.owners[email] = ownerEntry{id: id, at: now}
	c.mu.Unlock()
	return id, nil
}

// saveResult is one element of an sObject Collections answer.
type saveResult struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
	Created *bool      `json:"created"`
}

// LogActivities writes Tasks through sObject Collections, 200 per call: an upsert on Activity.IDField when
// it is set (a retry can never duplicate), else a plain create (never resent by the HTTP client). Per-record
// errors become Result.Err (UNABLE_TO_LOCK_ROW Retry, a deleted/invalid WhoId Permanent CONTACT_GONE,
// others Permanent). TaskSubtype is create-only: when an upsert finds the Task already there, Salesforce
// refuses TaskSubtype on its update branch; the adapter then reads the existing Task's id and reports it
// as logged (the earlier attempt wrote it whole). The error is non-nil only when no call succeeded.
func (c *Client) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.admit(); err != nil {
		return nil, err
	}
	results := make([]crm.Result, len(acts))
	var order []string
	groups := map[string][]int{}
	for i, a := range acts {
		if a.IDField != "" && !identRE.MatchString(a.IDField) {
			results[i].Err = &crm.Error{Action: crm.Permanent, Code: "INVALID_ID_FIELD",
				Message: fmt.Sprintf("id field %q is not a Salesforce field name", a.IDField)}
			continue
		}
		if _, ok := groups[a.IDField]; !ok {
			order = append(order, a.IDField)
		}
		groups[a.IDField] = append(groups[a.IDField], i)
	}
	var firstErr error
	succeeded := false
	for _, idf := range order {
		idx := groups[idf]
		for start := 0; start < len(idx); start += WriteBatch {
			chunk := idx[start:min(start+WriteBatch, len(idx))]
			if err := c.writeTasks(ctx, acts, chunk, idf, results); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				for _, i := range chunk {
					results[i].Err = err
				}
				continue
			}
			succeeded = true
		}
	}
	if !succeeded && firstErr != nil {
		return nil, firstErr
	}
	return results, nil
}

func (c *Client) writeTasks(ctx context.Context, acts []crm.Activity, chunk []int, idf string, results []crm.Result) error {
	records := make([]map[string]any, len(chunk))
	for j, i := range chunk {
		records[j] = c.taskRecord(acts[i])
	}
	body := map[string]any{"allOrNone": false, "records": records}
	cl := call{method: http.MethodPost, path: "/composite/sobjects", body: body, noRetry: true}
	if idf != "" {
		cl = call{method: http.MethodPatch, path: "/composite/sobjects/Task/" + idf, body: body}
	}
	var res []saveResult
	if err := c.doJSON(ctx, cl, &res); err != nil {
		return fmt.Errorf("log tasks: %w", err)
	}
	if len(res) != len(chunk) {
		return &crm.Error{Action: crm.Retry, Message: fmt.Sprintf("log tasks: %d results for %d records", len(res), len(chunk))}
	}
	var existing []int // upserts whose update branch refused TaskSubtype: the Task is already there
	for j, i := range chunk {
		r := res[j]
		switch {
		case r.Success:
			results[i] = crm.Result{ID: r.ID}
		case len(r.Errors) == 0:
			results[i].Err = &crm.Error{Action: crm.Retry, Message: "record failed without an error"}
		case idf != "" && subtypeRefused(r.Errors[0]) && records[j]["TaskSubtype"] != nil:
			existing = append(existing, i)
		default:
			results[i].Err = recordError(r.Errors[0], &acts[i])
		}
	}
	if len(existing) > 0 {
		c.readExisting(ctx, acts, existing, idf, results)
	}
	return nil
}

func subtypeRefused(e apiError) bool {
	return e.code() == "INVALID_FIELD_FOR_INSERT_UPDATE" &&
		(slices.Contains(e.Fields, "TaskSubtype") || strings.Contains(e.Message, "TaskSubtype"))
}

// readExisting finds the ids of Tasks already holding the activities' SourceIDs.
func (c *Client) readExisting(ctx context.Context, acts []crm.Activity, idx []int, idf string, results []crm.Result) {
	lits := make([]string, len(idx))
	for j, i := range idx {
		lits[j] = quoteSOQL(acts[i].SourceID)
	}
	recs, err := c.query(ctx, "SELECT Id, "+idf+" FROM Task WHERE "+idf+" IN ("+strings.Join(lits, ",")+")")
	if err != nil {
		for _, i := range idx {
			results[i].Err = fmt.Errorf("read existing task: %w", err)
		}
		return
	}
	byKey := map[string]string{}
	for _, r := range recs {
		byKey[fmt.Sprint(r[idf])] = str(r, "Id")
	}
	for _, i := range idx {
		if id := byKey[acts[i].SourceID]; id != "" {
			results[i] = crm.Result{ID: id}
		} else {
			results[i].Err = &crm.Error{Action: crm.Retry, Code: "INVALID_FIELD_FOR_INSERT_UPDATE",
				Message: "TaskSubtype refused on update but no Task holds " + idf + " = " + acts[i].SourceID}
		}
	}
}

// taskRecord builds the Task: the mapping's Fields, plus what the adapter owns (WhoId, WhatId for Contacts
// only, OwnerId, ActivityDate, Status, the id field).
func (c *Client) taskRecord(a crm.Activity) map[string]any {
	rec := map[string]any{"attributes": map[string]string{"type": "Task"}}
	for k, v := range a.Fields {
		if v != "" {
			rec[k] = v
		}
	}
	if s, ok := rec["Subject"].(string); ok {
		rec["Subject"] = truncate(s, maxSubject)
	} else {
		rec["Subject"] = "SMS"
	}
	if s, ok := rec["Description"].(string); ok {
		rec["Description"] = truncate(s, maxDescription)
	}
	if _, ok := rec["Status"]; !ok {
		rec["Status"] = "Completed"
	}
	if _, ok := rec["ActivityDate"]; !ok && !a.Timestamp.IsZero() {
		rec["ActivityDate"] = a.Timestamp.In(c.loc).Format(time.DateOnly)
	}
	if a.OwnerID != "" {
		if _, ok := rec["OwnerId"]; !ok {
			rec["OwnerId"] = a.OwnerID
		}
	}
	if a.ContactID != "" {
		rec["WhoId"] = a.ContactID
	}
	isLead := a.ContactKind == crm.KindLead || strings.HasPrefix(a.ContactID, "00Q")
	switch {
	case isLead:
		delete(rec, "WhatId") // FIELD_INTEGRITY_EXCEPTION: a Task on a Lead relates to nothing else
	case a.ContactKind == crm.KindContact && a.CompanyID != "":
		if _, ok := rec["WhatId"]; !ok {
			rec["WhatId"] = a.CompanyID
		}
	}
	if a.IDField != "" {
		rec[a.IDField] = a.SourceID
	}
	return rec
}

// truncate cuts s to at most n UTF-16 code units, as Salesforce counts string lengths (a character outside
// the Basic Multilingual Plane, an emoji, counts two), without splitting a surrogate pair.
func truncate(s string, n int) string {
	units := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if w < 0 {
			w = 1 // invalid UTF-8 or a lone surrogate: JSON sends U+FFFD, one unit
		}
		if units+w > n {
			return s[:i]
		}
		units += w
	}
	return s
}

// FindActivity returns the Task holding a.SourceID in a.IDField (SOQL, no index lag), or "" when there is
// none or a.IDField is empty.
func (c *Client) FindActivity(ctx context.Context, a crm.Activity) (string, error) {
	ids, err := c.FindActivities(ctx, []crm.Activity{a})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// FindActivities returns the Tasks holding the activities' SourceIDs in their IDField, in one SOQL query per
// 200 (no index lag); "" for each one there is none, and for all when IDField is empty.
func (c *Client) FindActivities(ctx context.Context, acts []crm.Activity) ([]string, error) {
	out := make([]string, len(acts))
	if len(acts) == 0 || acts[0].IDField == "" {
		return out, nil
	}
	idf := acts[0].IDField
	if !identRE.MatchString(idf) {
		return nil, &crm.Error{Action: crm.Permanent, Code: "INVALID_ID_FIELD", Message: fmt.Sprintf("id field %q is not a Salesforce field name", idf)}
	}
	for start := 0; start < len(acts); start += WriteBatch {
		chunk := acts[start:min(start+WriteBatch, len(acts))]
		if err := c.admit(); err != nil {
			return nil, err
		}
		lits := make([]string, len(chunk))
		for i, a := range chunk {
			lits[i] = quoteSOQL(a.SourceID)
		}
		recs, err := c.query(ctx, "SELECT Id, "+idf+" FROM Task WHERE "+idf+" IN ("+strings.Join(lits, ",")+")")
		if err != nil {
			return nil, fmt.Errorf("find activities: %w", err)
		}
		byKey := map[string]string{}
		for _, r := range recs {
			byKey[fmt.Sprint(r[idf])] = str(r, "Id")
		}
		for i, a := range chunk {
			out[start+i] = byKey[a.SourceID]
		}
	}
	return out, nil
}

// IndexLag is 0: FindActivity reads by SOQL on the external-ID field, which has no search-index lag.
func (c *Client) IndexLag(crm.Activity) time.Duration { return 0 }

// Check gets a token and runs SELECT Id FROM User LIMIT 1. The summary names the instance, auth flow, API
// version and daily usage; never a credential.
func (c *Client) Check(ctx context.Context) (string, error) {
	s, err := c.reauth(ctx, "")
	if err != nil {
		return "", fmt.Errorf("check: %w", err)
	}
	if _, err := c.query(ctx, "SELECT Id FROM User LIMIT 1"); err != nil {
		return "", fmt.Errorf("check: %w", err)
	}
	used, max := c.Usage()
	return fmt.Sprintf("salesforce: %s auth ok, instance %s, API %s, daily API usage %d/%d (reserve %d%%)",
		c.cfg.Auth, s.instanceURL, c.cfg.APIVersion, used, max, *c.cfg.DailyReservePercent), nil
}
