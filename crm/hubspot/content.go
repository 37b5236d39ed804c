package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// contentGroups is how many activities one content search carries: one filter group each (contact,
// hs_timestamp and, for an SMS, the channel: 3 filters), within the lower documented limits of 5 groups and
// 18 filters.
const contentGroups = 5

// clockSkew widens a content look-up's window: a record created up to this long before the first attempt (by
// HubSpot's clock) may still be it.
const clockSkew = time.Minute

// hubspotID is a HubSpot record id: digits only.
var hubspotID = regexp.MustCompile(`^[0-9]{1,20}$`)

// bodyProperty is the property holding an activity's rendered body: hs_call_body for a call,
// hs_communication_body for an SMS.
func bodyProperty(a crm.Activity) string {
	if a.Call != nil {
		return "hs_call_body"
	}
	return "hs_communication_body"
}

// FindByContent looks, for each attempt, for the communication (an SMS) or call that is exactly its activity,
// without an id field: a search of the object for records associated with the attempt's contact whose
// hs_timestamp is the activity's (and, for an SMS, channel SMS), five activities per search (one filter group
// each, ORed); then, in code, the body (hs_communication_body, hs_call_body) must equal the one the adapter
// would send now, and the record must have been created since the first attempt less a minute. Search does
// not say which group a result matched, so two activities of different contacts with the same timestamp never
// share a search. Each record answers for one attempt at most. An attempt without a contact gets "" (nothing
// tells its record apart). Searches wait for the search limit like any other; the index lag (ContentLag) is
// the loop's to wait out.
func (c *Client) FindByContent(ctx context.Context, atts []crm.Attempt) ([]string, error) {
	out := make([]string, len(atts))
	type want struct {
		i     int
		obj   string
		body  string // the rendered body property
		ts    int64  // hs_timestamp in milliseconds
		key   string // contact and timestamp: one filter group
		since time.Time
	}
	byObj := map[string][]want{}
	for i, at := range atts {
		a := at.Activity
		if !hubspotID.MatchString(a.ContactID) {
			continue
		}
		in, err := c.input(a)
		if err != nil {
			continue // it cannot have been sent either
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", in.Properties["hs_timestamp"])
		if err != nil {
			continue
		}
		obj := objectOf(a)
		w := want{i: i, obj: obj, body: in.Properties[bodyProperty(a)], ts: ts.UnixMilli(), since: at.Since.Add(-clockSkew)}
		w.key = a.ContactID + "@" + strconv.FormatInt(w.ts, 10)
		byObj[obj] = append(byObj[obj], w)
	}
	used := map[string]bool{}
	for _, obj := range []string{objComms, objCalls} {
		ws := byObj[obj]
		// Pack filter groups into searches: at most contentGroups groups each, never two groups with one
		// timestamp (their results could not be told apart).
		type search struct {
			groups []string         // keys, in order
			byKey  map[string]int64 // key -> timestamp
			times  map[int64]bool
		}
		var searches []*search
		placed := map[string]*search{}
		contact := map[string]string{}
		for _, w := range ws {
			if placed[w.key] != nil {
				continue
			}
			contact[w.key] = atts[w.i].Activity.ContactID
			var s *search
			for _, cand := range searches {
				if len(cand.groups) < contentGroups && !cand.times[w.ts] {
					s = cand
					break
				}
			}
			if s == nil {
				s = &search{byKey: map[string]int64{}, times: map[int64]bool{}}
				searches = append(searches, s)
			}
			s.groups = append(s.groups, w.key)
			s.byKey[w.key], s.times[w.ts] = w.ts, true
			placed[w.key] = s
		}
		found := map[*search][]object{}
		for _, s := range searches {
			req := searchRequest{Properties: []string{"hs_timestamp", "createdate", bodyProperty(crm.Activity{Call: callIf(obj)})}, Limit: 200}
			for _, k := range s.groups {
				fs := []filter{
					{PropertyName: "associations.contact", Operator: "EQ", Value: contact[k]},
					{PropertyName: "hs_timestamp", Operator: "EQ", Value: strconv.FormatInt(s.byKey[k], 10)},
				}
				if obj == objComms {
					fs = append(fs, filter{PropertyName: "hs_communication_channel_type", Operator: "EQ", Value: "SMS"})
				}
				req.FilterGroups = append(req.FilterGroups, filterGroup{Filters: fs})
			}
			for {
				var resp searchResponse
				if _, err := c.do(ctx, call{method: http.MethodPost, path: c.api.objects(obj, "/search"), body: req, search: true}, &resp); err != nil {
					return nil, fmt.Errorf("find by content: %w", err)
				}
				found[s] = append(found[s], resp.Results...)
				if resp.Paging.Next.After == "" || len(resp.Results) == 0 {
					break
				}
				req.After = resp.Paging.Next.After
			}
		}
		for _, w := range ws {
			for _, o := range found[placed[w.key]] {
				if used[o.ID] || o.prop(bodyProperty(atts[w.i].Activity)) != w.body {
					continue
				}
				if ts, ok := millisOf(o.prop("hs_timestamp")); !ok || ts != w.ts {
					continue
				}
				if created, err := time.Parse(time.RFC3339Nano, o.prop("createdate")); err == nil && created.Before(w.since) {
					continue
				}
				used[o.ID], out[w.i] = true, o.ID
				break
			}
		}
	}
	return out, nil
}

// callIf is a stand-in call for objCalls, nil for objComms.
func callIf(obj string) *crm.Call {
	if obj == objCalls {
		return &crm.Call{}
	}
	return nil
}

// millisOf reads a datetime property as HubSpot returns it (ISO 8601; milliseconds since the epoch accepted).
func millisOf(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// ContentLag is the configured index_lag: FindByContent searches, and search lags behind writes.
func (c *Client) ContentLag(crm.Activity) time.Duration { return c.cfg.IndexLag }
