package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// updateInput is one input of a contacts batch update (the specs' SimplePublicObjectBatchInput).
type updateInput struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
}

// UpdateContacts sets contact properties with POST /crm/objects/{v}/contacts/batch/update, at most 100
// contacts per call, by record id. HubSpot has no leads here: an update of a lead fails alone. A contact
// HubSpot does not find (the 207's OBJECT_NOT_FOUND error naming its id in context.ids) fails with
// CONTACT_GONE. A batch HubSpot refuses as a whole (400 for a property that does not exist or is read-only,
// whose message names it) is split in halves, recursively, so only the updates carrying the bad property fail.
// The error is non-nil only when the first, whole call fails (rate limit, auth, network, 5xx); sending an
// update again is harmless.
func (c *Client) UpdateContacts(ctx context.Context, ups []crm.ContactUpdate) ([]crm.Result, error) {
	res := make([]crm.Result, len(ups))
	seen := map[string]bool{}
	var idx []int
	for i, u := range ups {
		switch {
		case u.Kind == crm.KindLead:
			res[i].Err = &crm.Error{Action: crm.Permanent, Code: "BAD_KIND", Message: "HubSpot has no leads to update: " + u.ContactID}
		case u.ContactID == "" || seen[u.ContactID]:
			res[i].Err = &crm.Error{Action: crm.Permanent, Code: "BAD_INPUT", Message: fmt.Sprintf("contact %q is empty or named twice in one update", u.ContactID)}
		default:
			if err := checkNames(u.Fields); err != nil {
				res[i].Err = err
				continue
			}
			seen[u.ContactID] = true
			idx = append(idx, i)
		}
	}
	for start := 0; start < len(idx); start += writeBatch {
		if err := c.updateBatch(ctx, ups, idx[start:min(start+writeBatch, len(idx))], res, start == 0); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func checkNames(fields map[string]string) error {
	for k := range fields {
		if !propertyName.MatchString(k) {
			return &crm.Error{Action: crm.Permanent, Code: "BAD_FIELD", Message: fmt.Sprintf("field %q is not a HubSpot property name", k)}
		}
	}
	return nil
}

// updateBatch sends the updates ups[idx...] in one call and records each outcome in res. When top is set, a
// failure of the whole call is returned instead (nothing recorded).
func (c *Client) updateBatch(ctx context.Context, ups []crm.ContactUpdate, idx []int, res []crm.Result, top bool) error {
	inputs := make([]updateInput, len(idx))
	for i, j := range idx {
		inputs[i] = updateInput{ID: ups[j].ContactID, Properties: ups[j].Fields}
	}
	var resp batchResponse
	_, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects("contacts", "/batch/update"),
		body: map[string]any{"inputs": inputs}, write: true}, &resp)
	if err == nil {
		updated := map[string]bool{}
		for _, o := range resp.Results { // in any order: by id
			updated[o.ID] = true
		}
		gone := map[string]*apiError{}
		for i := range resp.Errors {
			for _, id := range resp.Errors[i].Context["ids"] {
				gone[id] = &resp.Errors[i]
			}
		}
		for _, j := range idx {
			id := ups[j].ContactID
			switch ae := gone[id]; {
			case updated[id]:
				res[j] = crm.Result{ID: id}
			case ae != nil:
				res[j].Err = &crm.Error{Action: crm.Permanent, Status: http.StatusMultiStatus, Code: crm.CodeContactGone,
					Message: fmt.Sprintf("HubSpot has no contact %s (deleted or merged): %s", id, ae.Message)}
			default: // neither result nor error: sending it again is harmless
				res[j].Err = &crm.Error{Action: crm.Retry, Status: http.StatusMultiStatus, Message: "HubSpot's answer did not mention contact " + id}
			}
		}
		return nil
	}
	var ce *crm.Error
	if !errors.As(err, &ce) || !rejected(ce.Status) {
		if top {
			return fmt.Errorf("update contacts: %w", err)
		}
		for _, j := range idx {
			res[j].Err = err
		}
		return nil
	}
	if len(idx) == 1 {
		e := *ce
		e.Action = crm.Permanent
		if e.Status == http.StatusNotFound || e.Code == "OBJECT_NOT_FOUND" {
			e.Code = crm.CodeContactGone
		} else if strings.Contains(e.Message, "PROPERTY_DOESNT_EXIST") || strings.Contains(e.Message, "does not exist") {
			e.Message = "a contact_updates field is not a HubSpot contact property (create it, or fix the mapping): " + e.Message
		}
		res[idx[0]].Err = &e
		return nil
	}
	half := len(idx) / 2
	if err := c.updateBatch(ctx, ups, idx[:half], res, false); err != nil {
		return err
	}
	return c.updateBatch(ctx, ups, idx[half:], res, false)
}
