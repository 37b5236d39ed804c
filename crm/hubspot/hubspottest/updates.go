package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// readOnlyContactProperties are contact properties HubSpot computes: a write to one is refused like a
// property that does not exist (READ_ONLY_VALUE).
var readOnlyContactProperties = []string{"hs_object_id", "createdate", "lastmodifieddate"}

// batchUpdateContacts implements POST /crm/objects/{v}/contacts/batch/update by record id (the specs'
// BatchInputSimplePublicObjectBatchInput). As HubSpot does: more than 100 inputs, an id named twice
// ("Duplicate IDs found in batch input"), or any property that does not exist on contacts or is read-only
// refuses the whole batch with 400 VALIDATION_ERROR, the property named in HubSpot's "Property values were
// not valid" message; ids it does not hold answer a 207 with an OBJECT_NOT_FOUND error listing them in
// context.ids, the others being updated. Results come back shuffled.
func (s *Server) batchUpdateContacts(w http.ResponseWriter, body []byte) {
	var req struct {
		Inputs []struct {
			ID         string            `json:"id"`
			IDProperty string            `json:"idProperty"`
			Properties map[string]string `json:"properties"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Invalid input JSON on line 1: "+err.Error()))
		return
	}
	if len(req.Inputs) > maxBatch {
		writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Batch input limit exceeded: at most 100 inputs"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, in := range req.Inputs {
		if in.IDProperty != "" && in.IDProperty != "hs_object_id" {
			writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", "Unable to perform update/upsert by non-unique 0-1 property "+in.IDProperty))
			return
		}
		if seen[in.ID] {
			writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", fmt.Sprintf("Duplicate IDs found in batch input: [%s]. IDs must be unique", in.ID)))
			return
		}
		seen[in.ID] = true
		names := keys(in.Properties)
		sort.Strings(names)
		for _, k := range names {
			p := s.props["contacts"][k]
			switch {
			case p == nil:
				writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", bad(k, "PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property %q does not exist", k))))
				return
			case p.Calculated || slices.Contains(readOnlyContactProperties, k):
				writeJSON(w, http.StatusBadRequest, newErr("VALIDATION_ERROR", bad(k, "READ_ONLY_VALUE", fmt.Sprintf("%s is a read only property; its value cannot be set.", k))))
				return
			}
		}
	}
	now := s.now()
	res := []map[string]any{}
	var missing []string
	for _, in := range req.Inputs {
		r := s.contacts[in.ID]
		if r == nil {
			missing = append(missing, in.ID)
			continue
		}
		for k, v := range in.Properties {
			r.Properties[k] = v
		}
		r.Properties["lastmodifieddate"] = s.stamp(now)
		derivePhones(r.Properties)
		s.writes[in.ID]++
		res = append(res, s.public(r.Object, keys(in.Properties)))
	}
	s.rng.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
	out := map[string]any{"status": "COMPLETE", "results": res, "startedAt": s.stamp(now), "completedAt": s.stamp(now)}
	if len(missing) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	e := newErr("OBJECT_NOT_FOUND", "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.")
	e.Context = map[string][]string{"ids": missing}
	out["numErrors"] = 1
	out["errors"] = []hsError{e}
	writeJSON(w, http.StatusMultiStatus, out)
}

// ContactWrites returns how many batch updates changed the contact.
func (s *Server) ContactWrites(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes[strings.TrimSpace(id)]
}
