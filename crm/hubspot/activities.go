package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// HubSpot-defined association types from a communication, and from a call.
const (
	assocContact     = 81
	assocCompany     = 87
	assocCallContact = 194
	assocCallCompany = 182
	writeBatch       = 100
)

// Object types activities are logged as: an SMS is a communication, a call a call engagement.
const (
	objComms = "communications"
	objCalls = "calls"
)

// objectOf is the HubSpot object an activity is logged as.
func objectOf(a crm.Activity) string {
	if a.Call != nil {
		return objCalls
	}
	return objComms
}

type assocSpec struct {
	Category string `json:"associationCategory"`
	TypeID   int    `json:"associationTypeId"`
}

type association struct {
	To    batchReadID `json:"to"`
	Types []assocSpec `json:"types"`
}

type createInput struct {
	Properties   map[string]string `json:"properties"`
	Associations []association     `json:"associations"`
	TraceID      string            `json:"objectWriteTraceId,omitempty"`
}

// item is one activity on its way to HubSpot.
type item struct {
	idx int // position in the caller's slice
	act crm.Activity
	in  createInput
	obj string // objComms or objCalls
}

// LogActivities creates the activities as SMS communications with POST .../communications/batch/create,
// associated inline with their contact (type 81) and company (87). Each input carries a unique
// objectWriteTraceId (its SourceID) so a 207 says which inputs failed; only those fail. An input whose contact
// (or company) was deleted or merged fails the whole batch with 400 context.INVALID_OBJECT_IDS: the inputs
// naming those records fail Permanent with Code CONTACT_GONE, the others are sent again together. Any other
// batch HubSpot rejects as a whole (400/404/409) is split in halves, recursively, to isolate the bad inputs. The error is non-nil only when the first, whole call fails
// (rate limit, auth, network, 5xx): then nothing was logged, or, for a network error or 5xx, maybe everything
// (the loop asks FindActivity). Writes are plain creates: the loop's ledger and FindActivity prevent duplicates.
func (c *Client) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	res := make([]crm.Result, len(acts))
	seen := map[string]bool{}
	var items []item
	for i, a := range acts {
		in, err := c.input(a)
		if err != nil {
			res[i].Err = err
			continue
		}
		in.TraceID = a.SourceID
		if in.TraceID == "" || seen[in.TraceID] {
			in.TraceID = "input-" + strconv.Itoa(i)
		}
		seen[in.TraceID] = true
		items = append(items, item{idx: i, act: a, in: in, obj: objectOf(a)})
	}
	first := true
	for _, obj := range []string{objComms, objCalls} {
		var of []item
		for _, it := range items {
			if it.obj == obj {
				of = append(of, it)
			}
		}
		for start := 0; start < len(of); start += writeBatch {
			chunk := of[start:min(start+writeBatch, len(of))]
			if err := c.logBatch(ctx, chunk, res, first); err != nil {
				return nil, err
			}
			first = false
		}
	}
	return res, nil
}

// input builds the communication for a: the fixed SMS properties, owner, timestamp, then the mapping's
// fields (which win), then IDField = SourceID (the adapter owns it).
func (c *Client) input(a crm.Activity) (createInput, error) {
	ts := a.Timestamp
	if ts.IsZero() {
		ts = c.now()
	}
	p := map[string]string{"hs_timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z")}
	toContact, toCompany := assocContact, assocCompany
	if a.Call != nil {
		callProperties(p, a.Call)
		toContact, toCompany = assocCallContact, assocCallCompany
	} else {
		p["hs_communication_channel_type"] = "SMS"
		p["hs_communication_logged_from"] = "CRM"
	}
	if a.OwnerID != "" {
		p["hubspot_owner_id"] = a.OwnerID
	}
	for k, v := range a.Fields {
		if !propertyName.MatchString(k) {
			return createInput{}, &crm.Error{Action: crm.Permanent, Code: "BAD_FIELD", Message: fmt.Sprintf("field %q is not a HubSpot property name", k)}
		}
		p[k] = v
	}
	if a.IDField != "" {
		if !propertyName.MatchString(a.IDField) {
			return createInput{}, &crm.Error{Action: crm.Permanent, Code: "BAD_FIELD", Message: fmt.Sprintf("id field %q is not a HubSpot property name", a.IDField)}
		}
		p[a.IDField] = a.SourceID
	}
	in := createInput{Properties: p, Associations: []association{}}
	if a.ContactID != "" {
		in.Associations = append(in.Associations, association{To: batchReadID{ID: a.ContactID},
			Types: []assocSpec{{Category: "HUBSPOT_DEFINED", TypeID: toContact}}})
	}
	if a.CompanyID != "" {
		in.Associations = append(in.Associations, association{To: batchReadID{ID: a.CompanyID},
			Types: []assocSpec{{Category: "HUBSPOT_DEFINED", TypeID: toCompany}}})
	}
	return in, nil
}

// callStatuses maps Onoff's call outcomes to hs_call_status values.
var callStatuses = map[string]string{
	crm.OutcomeAnswered: "COMPLETED",
	crm.OutcomeMissed:   "NO_ANSWER",
	crm.OutcomeBusy:     "BUSY",
	crm.OutcomeFailed:   "FAILED",
}

// callProperties sets a call engagement's properties from the call: hs_call_direction, hs_call_duration in
// milliseconds, hs_call_status (left out for a status onoffsync does not know), the numbers, and
// hs_call_recording_url for a recording or voicemail link that is HTTPS (HubSpot plays only those).
func callProperties(p map[string]string, c *crm.Call) {
	p["hs_call_direction"] = c.Direction
	p["hs_call_duration"] = strconv.FormatInt(c.Duration.Milliseconds(), 10)
	if st := callStatuses[c.Outcome()]; st != "" {
		p["hs_call_status"] = st
	}
	for k, ph := range map[string]crm.Phone{"hs_call_from_number": c.From, "hs_call_to_number": c.To} {
		if v := cmpOr(ph.E164, strings.TrimSpace(ph.Raw)); v != "" {
			p[k] = v
		}
	}
	for _, u := range []string{c.RecordingURL, c.VoicemailURL} {
		if httpsURL(u) {
			p["hs_call_recording_url"] = u
			break
		}
	}
}

// httpsURL reports whether u is an absolute https URL with a host.
func httpsURL(u string) bool {
	pu, err := url.Parse(strings.TrimSpace(u))
	return err == nil && strings.EqualFold(pu.Scheme, "https") && pu.Host != ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// logBatch sends items in one batch create and records each outcome in res. When top is set, a failure of
// the whole call is returned instead (nothing recorded).
func (c *Client) logBatch(ctx context.Context, items []item, res []crm.Result, top bool) error {
	inputs := make([]createInput, len(items))
	for i, it := range items {
		inputs[i] = it.in
	}
	var resp batchResponse
	_, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects(items[0].obj, "/batch/create"),
		body: map[string]any{"inputs": inputs}, write: true}, &resp)
	if err == nil {
		c.assign(items, resp, res)
		return nil
	}
	var ce *crm.Error
	if !errors.As(err, &ce) || !rejected(ce.Status) {
		if top {
			return fmt.Errorf("log activities: %w", err)
		}
		for _, it := range items {
			res[it.idx].Err = err
		}
		return nil
	}
	// HubSpot rejected the batch as a whole: nothing was created.
	if len(items) == 1 && !invalidObjectIDs(apiErrorOf(err)).has(items[0].act) {
		res[items[0].idx].Err = inputError(ce, items[0])
		return nil
	}
	var ae *apiError
	named := map[string]bool{}
	var gone goneTargets
	if errors.As(err, &ae) {
		for _, t := range traceIDs(*ae) {
			named[t] = true
		}
		gone = invalidObjectIDs(*ae)
	}
	var rest []item
	for _, it := range items {
		switch {
		case gone.has(it.act):
			res[it.idx].Err = goneError(ce, it.act)
		case named[it.in.TraceID]:
			res[it.idx].Err = inputError(ce, it)
		default:
			rest = append(rest, it)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	if len(rest) < len(items) { // the culprits are known: send the others again together
		return c.logBatch(ctx, rest, res, false)
	}
	half := len(items) / 2
	if err := c.logBatch(ctx, items[:half], res, false); err != nil {
		return err
	}
	return c.logBatch(ctx, items[half:], res, false)
}

// rejected reports whether a batch create status means HubSpot refused the batch without applying it.
func rejected(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusConflict
}

// goneTargets are the records HubSpot named in context.INVALID_OBJECT_IDS, by object type ("CONTACT",
// "COMPANY") and id.
type goneTargets map[string]map[string]bool

// invalidObjectIDs reads context.INVALID_OBJECT_IDS (["CONTACT=424242 is not valid", ...]): HubSpot's answer
// when an inline association names a deleted or merged record, failing the whole batch.
func invalidObjectIDs(ae apiError) goneTargets {
	g := goneTargets{}
	for _, s := range ae.Context["INVALID_OBJECT_IDS"] {
		typ, rest, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		typ = strings.ToUpper(strings.TrimSpace(typ))
		if g[typ] == nil {
			g[typ] = map[string]bool{}
		}
		g[typ][strings.TrimSpace(id)] = true
	}
	return g
}

// has reports whether a names one of the gone records.
func (g goneTargets) has(a crm.Activity) bool {
	return (a.ContactID != "" && g["CONTACT"][a.ContactID]) || (a.CompanyID != "" && g["COMPANY"][a.CompanyID])
}

func apiErrorOf(err error) apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return *ae
	}
	return apiError{}
}

// goneError is the error of an activity whose contact (or company) HubSpot says no longer exists: Permanent
// with Code CONTACT_GONE, on which the loop forgets the cached contact and matches the SMS again.
func goneError(ce *crm.Error, a crm.Activity) *crm.Error {
	e := *ce
	e.Action, e.Code = crm.Permanent, crm.CodeContactGone
	e.Message = fmt.Sprintf("HubSpot says the associated record no longer exists (deleted or merged; contact %q, company %q): %s",
		a.ContactID, a.CompanyID, ce.Message)
	return &e
}

func traceIDs(ae apiError) []string {
	ids := ae.Context["objectWriteTraceId"]
	for _, d := range ae.Errors {
		ids = append(ids, d.Context["objectWriteTraceId"]...)
	}
	return ids
}

// assign maps a 201/207 response to the items: results and errors by objectWriteTraceId only, never by
// position, since HubSpot returns them in any order. An item with neither gets an ambiguous Retry (it may
// exist: the loop asks FindActivities before sending it again).
func (c *Client) assign(items []item, resp batchResponse, res []crm.Result) {
	byTrace := make(map[string]item, len(items))
	for _, it := range items {
		byTrace[it.in.TraceID] = it
	}
	done := map[int]bool{}
	for _, o := range resp.Results {
		// Results come back in any order (hubspot-api-nodejs#190): only the trace id says whose a result is.
		it, ok := byTrace[o.ObjectWriteTraceID]
		if ok && !done[it.idx] {
			res[it.idx] = crm.Result{ID: o.ID}
			done[it.idx] = true
		}
	}
	for _, ae := range resp.Errors {
		for _, t := range traceIDs(ae) {
			if it, ok := byTrace[t]; ok && !done[it.idx] {
				res[it.idx].Err = inputError(categoryError(ae), it)
				done[it.idx] = true
			}
		}
	}
	for _, it := range items {
		if !done[it.idx] {
			res[it.idx].Err = &crm.Error{Action: crm.Retry, Code: "NO_RESULT",
				Message: "HubSpot's batch response named neither a result nor an error for this input"}
		}
	}
}

// categoryError classifies one error of a 207 by its category.
func categoryError(ae apiError) *crm.Error {
	e := &crm.Error{Status: http.StatusMultiStatus, Code: ae.Category, Message: ae.Message, Action: crm.Permanent, Err: &ae}
	switch ae.Category {
	case "RATE_LIMITS":
		e.Action, e.RetryAfter, e.Limit = crm.RateLimited, time.Second, "requests"
	case "", "INTERNAL_ERROR", "LOCKED", "TIMEOUT":
		e.Action = crm.Retry
	}
	return e
}

// inputError is the error of one input: a property the account requires becomes REQUIRED_PROPERTY (say where
// to add it), an association to a missing object becomes CONTACT_GONE, a conflict naming the existing record
// (a unique IDField) becomes Done, and so does a UNIQUE_VALUE_CONFLICT on the IDField.
func inputError(ce *crm.Error, it item) *crm.Error {
	what, field := "SMS communications", "activity.fields"
	if it.obj == objCalls {
		what, field = "calls", "calls.activity.fields"
	}
	if re, ok := requiredError(ce, apiErrorOf(ce), field, what); ok {
		return re
	}
	if it.act.IDField != "" {
		if prop, holder, ok := uniqueConflict(apiErrorOf(ce)); ok && (prop == it.act.IDField || prop == "") {
			// The Onoff id is already on a record: this SMS was logged before (a retry after an ambiguous
			// failure, or a second delivery).
			e := *ce
			e.Action, e.ID, e.Code = crm.Done, holder, "UNIQUE_VALUE_CONFLICT"
			return &e
		}
	}
	e := *ce
	switch {
	case (e.Status == http.StatusNotFound || e.Code == "OBJECT_NOT_FOUND") && (it.act.ContactID != "" || it.act.CompanyID != ""):
		e.Action, e.Code = crm.Permanent, crm.CodeContactGone
	case e.Code == "CONFLICT":
		if m := existingID.FindStringSubmatch(e.Message); m != nil {
			e.Action, e.ID = crm.Done, m[1]
		}
	}
	return &e
}

// findChunk bounds the Onoff ids in one look-up: one IN filter stays well under the 3,000-character query
// limit, and a batch read takes at most 100 inputs.
const findChunk = 50

// FindActivities returns, for each activity, the communication holding its SourceID in the shared IDField, or
// "": by batch read on a unique-valued property (no index lag), else by one search with an IN filter per
// findChunk ids (subject to the search index's lag, which IndexLag covers).
func (c *Client) FindActivities(ctx context.Context, acts []crm.Activity) ([]string, error) {
	out := make([]string, len(acts))
	if len(acts) == 0 {
		return out, nil
	}
	idf := acts[0].IDField
	if idf == "" || !propertyName.MatchString(idf) {
		return nil, &crm.Error{Action: crm.Permanent, Code: "NO_ID_FIELD", Message: fmt.Sprintf("cannot find an activity without a valid IDField (got %q)", idf)}
	}
	for start := 0; start < len(acts); start += findChunk {
		chunk := acts[start:min(start+findChunk, len(acts))]
		var ids []string
		for _, a := range chunk {
			if a.SourceID != "" {
				ids = append(ids, a.SourceID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		found, err := c.findByIDs(ctx, objectOf(acts[0]), idf, acts[0].IDFieldUnique, ids)
		if err != nil {
			return nil, fmt.Errorf("find activities: %w", err)
		}
		for i, a := range chunk {
			out[start+i] = found[a.SourceID]
		}
	}
	return out, nil
}

// findByIDs is findByID over as many calls as the search size limit needs: long Onoff ids halve the chunk.
func (c *Client) findByIDs(ctx context.Context, obj, idf string, unique bool, ids []string) (map[string]string, error) {
	if !unique && len(ids) > 1 && !searchFits(idSearch(idf, ids)) {
		a, err := c.findByIDs(ctx, obj, idf, unique, ids[:len(ids)/2])
		if err != nil {
			return nil, err
		}
		b, err := c.findByIDs(ctx, obj, idf, unique, ids[len(ids)/2:])
		if err != nil {
			return nil, err
		}
		for k, v := range b {
			a[k] = v
		}
		return a, nil
	}
	return c.findByID(ctx, obj, idf, unique, ids)
}

// idSearch is the search for communications whose idf is one of ids.
func idSearch(idf string, ids []string) searchRequest {
	values := make([]string, len(ids))
	for i, id := range ids {
		values[i] = strings.ToLower(id) // HubSpot wants IN values of string properties in lower case
	}
	return searchRequest{FilterGroups: []filterGroup{{Filters: []filter{{PropertyName: idf, Operator: "IN", Values: values}}}},
		Properties: []string{idf}, Limit: 200}
}

// findByID maps each of ids to the communication whose idf holds exactly it.
func (c *Client) findByID(ctx context.Context, obj, idf string, unique bool, ids []string) (map[string]string, error) {
	found := map[string]string{}
	var objs []object
	if unique {
		var resp batchResponse
		req := batchReadRequest{IDProperty: idf, Properties: []string{idf}, PropertiesWithHistory: []string{}}
		for _, id := range ids {
			req.Inputs = append(req.Inputs, batchReadID{ID: id})
		}
		if _, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects(obj, "/batch/read"), body: req}, &resp); err != nil {
			return nil, err
		}
		objs = resp.Results
	} else {
		req := idSearch(idf, ids)
		var resp searchResponse
		if _, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects(obj, "/search"), body: req, search: true}, &resp); err != nil {
			return nil, err
		}
		objs = resp.Results
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, o := range objs {
		if v := o.prop(idf); want[v] && found[v] == "" { // IN and batch read ignore case; Onoff ids do not
			found[v] = o.ID
		}
	}
	return found, nil
}

// IndexLag is how long FindActivity may miss a write: 0 with a unique IDField (read without the index), else
// the configured index_lag.
func (c *Client) IndexLag(a crm.Activity) time.Duration {
	if a.IDFieldUnique {
		return 0
	}
	return c.cfg.IndexLag
}
