package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// UpdateContacts sets Contact and Lead fields with an sObject Collections update (PATCH
// /composite/sobjects, allOrNone false), 200 records per call, Contacts before Leads so that a call is at most
// two of Salesforce's per-type chunks. Results come back in request order. A record deleted or unknown
// (ENTITY_IS_DELETED, INVALID_CROSS_REFERENCE_KEY, MALFORMED_ID) fails with CONTACT_GONE. Salesforce
// deserializes every record before saving any, so a field the object lacks (400 INVALID_FIELD "No such
// column") refuses the whole call: the adapter splits it in halves, recursively, so only the records carrying
// that field fail. The error is non-nil only when no call succeeded; an update sent twice is harmless, so the
// HTTP client may resend it.
func (c *Client) UpdateContacts(ctx context.Context, ups []crm.ContactUpdate) ([]crm.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.admit(); err != nil {
		return nil, err
	}
	res := make([]crm.Result, len(ups))
	seen := map[string]bool{}
	var contacts, leads []int
	for i, u := range ups {
		if err := checkUpdate(u, seen); err != nil {
			res[i].Err = err
			continue
		}
		seen[u.ContactID] = true
		if u.Kind == crm.KindLead {
			leads = append(leads, i)
		} else {
			contacts = append(contacts, i)
		}
	}
	idx := append(contacts, leads...)
	var firstErr error
	succeeded := false
	for start := 0; start < len(idx); start += WriteBatch {
		chunk := idx[start:min(start+WriteBatch, len(idx))]
		if err := c.updateRecords(ctx, ups, chunk, res); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			for _, i := range chunk {
				res[i].Err = err
			}
			continue
		}
		succeeded = true
	}
	if !succeeded && firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// checkUpdate refuses what Salesforce would refuse before the call: no id, a contact named twice, a field
// name that cannot be one, the record's Id.
func checkUpdate(u crm.ContactUpdate, seen map[string]bool) error {
	if u.ContactID == "" || seen[u.ContactID] {
		return &crm.Error{Action: crm.Permanent, Code: "BAD_INPUT", Message: fmt.Sprintf("record %q is empty or named twice in one update", u.ContactID)}
	}
	for k := range u.Fields {
		if !identRE.MatchString(k) || strings.EqualFold(k, "Id") {
			return &crm.Error{Action: crm.Permanent, Code: "INVALID_FIELD", Message: fmt.Sprintf("field %q cannot be set on a Salesforce record", k)}
		}
	}
	return nil
}

// updateRecords sends ups[chunk...] in one call and records each outcome in res. The error is the whole
// call's, when it failed for a reason splitting cannot help (rate limit, auth, network, 5xx).
func (c *Client) updateRecords(ctx context.Context, ups []crm.ContactUpdate, chunk []int, res []crm.Result) error {
	records := make([]map[string]any, len(chunk))
	for j, i := range chunk {
		typ := "Contact"
		if ups[i].Kind == crm.KindLead {
			typ = "Lead"
		}
		rec := map[string]any{"attributes": map[string]string{"type": typ}, "id": ups[i].ContactID}
		for k, v := range ups[i].Fields {
			rec[k] = v
		}
		records[j] = rec
	}
	var out []saveResult
	err := c.doJSON(ctx, call{method: http.MethodPatch, path: "/composite/sobjects",
		body: map[string]any{"allOrNone": false, "records": records}}, &out)
	if err != nil {
		var ce *crm.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
			return fmt.Errorf("update contacts: %w", err)
		}
		if len(chunk) == 1 { // the record that carries the field Salesforce refused
			e := *ce
			e.Action = crm.Permanent
			if e.Code == "INVALID_FIELD" {
				e.Message = "a contact_updates field is not on " + recordType(ups[chunk[0]]) + " (create it, or fix the mapping): " + e.Message
			}
			res[chunk[0]].Err = &e
			return nil
		}
		half := len(chunk) / 2
		for _, part := range [][]int{chunk[:half], chunk[half:]} {
			if err := c.updateRecords(ctx, ups, part, res); err != nil {
				for _, i := range part {
					res[i].Err = err
				}
			}
		}
		return nil
	}
	if len(out) != len(chunk) {
		return &crm.Error{Action: crm.Retry, Message: fmt.Sprintf("update contacts: %d results for %d records", len(out), len(chunk))}
	}
	for j, i := range chunk {
		r := out[j]
		switch {
		case r.Success:
			res[i] = crm.Result{ID: ups[i].ContactID}
		case len(r.Errors) == 0:
			res[i].Err = &crm.Error{Action: crm.Retry, Message: "record failed without an error"}
		case slices.Contains([]string{"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID"}, r.Errors[0].code()):
			res[i].Err = &crm.Error{Action: crm.Permanent, Code: crm.CodeContactGone,
				Message: fmt.Sprintf("%s %s: %s: %s", recordType(ups[i]), ups[i].ContactID, r.Errors[0].code(), r.Errors[0].Message)}
		default:
			res[i].Err = recordError(r.Errors[0], nil)
		}
	}
	return nil
}

func recordType(u crm.ContactUpdate) string {
	if u.Kind == crm.KindLead {
		return "Lead"
	}
	return "Contact"
}
