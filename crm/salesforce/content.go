package salesforce

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// clockSkew widens a content look-up's window: a Task created up to this long before the first attempt (by
// Salesforce's clock) may still be it.
const clockSkew = time.Minute

// maxQueryURL bounds a content look-up's URL-encoded SOQL, well under the 16,384 characters Salesforce takes
// in a request URI.
const maxQueryURL = 12000

// recordID is a Salesforce record id: 15 case-sensitive or 18 case-insensitive characters.
var recordID = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

// contentFields are the Task fields a content look-up reads; Description is compared in code (a long text
// area cannot be filtered on in SOQL).
var contentFields = []string{"Id", "WhoId", "Subject", "ActivityDate", "Description", "TaskSubtype", "CreatedDate"}

// FindByContent looks, for each attempt, for the Task that is exactly its activity, without an id field: SOQL
// (no index lag) for Tasks the integration user created since the earliest attempt less a minute, on the
// attempts' WhoIds with their Subjects and ActivityDates, as few queries as the URI length allows (one for a
// whole batch, usually); then it compares, in code, WhoId, Subject, ActivityDate, TaskSubtype and Description
// with the Task this adapter would send now, and CreatedDate with the attempt's own first try. Each Task
// answers for one attempt at most. An attempt without a WhoId, or with an ActivityDate that is not a date,
// gets "" (it cannot be told apart). Every value in the query comes escaped (quoteSOQL) or validated (ids,
// dates).
func (c *Client) FindByContent(ctx context.Context, atts []crm.Attempt) ([]string, error) {
	out := make([]string, len(atts))
	type want struct {
		i     int
		rec   map[string]any
		since time.Time
	}
	var wants []want
	for i, at := range atts {
		a := at.Activity
		if !recordID.MatchString(a.ContactID) {
			continue
		}
		rec := c.taskRecord(a)
		if d, _ := rec["ActivityDate"].(string); !isDate(d) {
			continue
		}
		wants = append(wants, want{i: i, rec: rec, since: at.Since.Add(-clockSkew)})
	}
	if len(wants) == 0 {
		return out, nil
	}
	if err := c.admit(); err != nil {
		return nil, err
	}
	s, err := c.reauth(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("find by content: %w", err)
	}
	if s.userID == "" {
		// Without the integration user a human's identical Task could pass for ours: send again instead.
		c.warnOnce("no-user-id", "salesforce token answer named no user (id): ambiguous Tasks are sent again without a look-up")
		return out, nil
	}
	query := func(ws []want) string {
		since := ws[0].since
		var who, subj, dates []string
		for _, w := range ws {
			since = minTime(since, w.since)
			who = appendNew(who, quoteSOQL(w.rec["WhoId"].(string)))
			subj = appendNew(subj, quoteSOQL(w.rec["Subject"].(string)))
			dates = appendNew(dates, w.rec["ActivityDate"].(string))
		}
		return "SELECT " + strings.Join(contentFields, ", ") + " FROM Task WHERE CreatedById = " + quoteSOQL(s.userID) +
			" AND CreatedDate >= " + since.UTC().Format("2006-01-02T15:04:05Z") +
			" AND WhoId IN (" + strings.Join(who, ",") + ") AND Subject IN (" + strings.Join(subj, ",") +
			") AND ActivityDate IN (" + strings.Join(dates, ",") + ")"
	}
	used := map[string]bool{}
	for start := 0; start < len(wants); {
		end := start + 1
		for end < len(wants) && len(url.QueryEscape(query(wants[start:end+1]))) <= maxQueryURL {
			end++
		}
		part := wants[start:end]
		start = end
		recs, err := c.query(ctx, query(part))
		if err != nil {
			return nil, fmt.Errorf("find by content: %w", err)
		}
		for _, w := range part {
			for _, r := range recs {
				id := str(r, "Id")
				if id != "" && !used[id] && sameTask(w.rec, r, w.since) {
					used[id], out[w.i] = true, id
					break
				}
			}
		}
	}
	return out, nil
}

// sameTask reports whether the stored Task r is the Task rec would create, made at or after since.
func sameTask(rec, r map[string]any, since time.Time) bool {
	created, err := time.Parse(sfTimeLayout, str(r, "CreatedDate"))
	if err != nil || created.Before(since) {
		return false
	}
	subtype := func(m map[string]any) string {
		s, _ := m["TaskSubtype"].(string)
		return cmpOr(s, "Task")
	}
	for _, f := range []string{"WhoId", "Subject", "ActivityDate", "Description"} {
		want, _ := rec[f].(string)
		if str(r, f) != want {
			return false
		}
	}
	return subtype(rec) == subtype(r)
}

// ContentLag is 0: FindByContent reads by SOQL, which has no search-index lag.
func (c *Client) ContentLag(crm.Activity) time.Duration { return 0 }

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
