package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// fieldInfo is one element of a describe's fields[]: what the adapter and check need of it.
type fieldInfo struct {
	Name       string `json:"name"`
	Type       string `json:"type"` // string, textarea, phone, email, picklist, reference, boolean, int, double, date, ...
	Length     int    `json:"length"`
	ExternalID bool   `json:"externalId"`
	Unique     bool   `json:"unique"`
	IDLookup   bool   `json:"idLookup"`
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
	Nillable   bool   `json:"nillable"`
	Filterable bool   `json:"filterable"`
}

// objectInfo is an object's describe as the integration user sees it (field-level security hides fields).
// missing says the object does not exist or the user cannot read it (describe answered 404).
type objectInfo struct {
	name       string
	missing    bool
	createable bool
	updateable bool
	fields     map[string]fieldInfo
}

func (o *objectInfo) has(f string) bool {
	if o == nil {
		return true // not described: assume the standard fields are there
	}
	_, ok := o.fields[f]
	return ok
}

// describe returns obj's describe (GET /sobjects/{obj}/describe), read once and cached until Reload. A 404
// is cached as a missing object; other failures are returned, classified, and not cached.
func (c *Client) describe(ctx context.Context, obj string) (*objectInfo, error) {
	c.mu.Lock()
	info, ok := c.described[obj]
	c.mu.Unlock()
	if ok {
		return info, nil
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/sobjects/" + obj + "/describe"})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", obj, err)
	}
	info = &objectInfo{name: obj, fields: map[string]fieldInfo{}}
	switch {
	case resp.status == http.StatusNotFound:
		info.missing = true
	case resp.status < 200 || resp.status > 299:
		return nil, fmt.Errorf("describe %s: %w", obj, c.classify(resp))
	default:
		var d struct {
			Createable bool        `json:"createable"`
			Updateable bool        `json:"updateable"`
			Fields     []fieldInfo `json:"fields"`
		}
		if err := json.Unmarshal(resp.body, &d); err != nil {
			return nil, &crm.Error{Action: crm.Retry, Status: resp.status, Message: "undecodable describe of " + obj, Err: err}
		}
		info.createable, info.updateable = d.Createable, d.Updateable
		for _, f := range d.Fields {
			info.fields[f.Name] = f
		}
	}
	c.mu.Lock()
	if c.described == nil {
		c.described = map[string]*objectInfo{}
	}
	c.described[obj] = info
	c.mu.Unlock()
	return info, nil
}

// cachedDescribe returns obj's describe if it was read, else nil.
func (c *Client) cachedDescribe(obj string) *objectInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.described[obj]
}

// Reload forgets the cached describes of Contact, Lead and Task, so the next call that needs them reads
// them again: the loop calls it when it reloads the mapping (an admin may have added a field since).
// It makes no call itself.
func (c *Client) Reload() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.described = nil
	c.warned = nil
}

// selectFields returns base plus extra, keeping only the fields info has (all of them when info is nil).
func selectFields(info *objectInfo, base, extra []string) []string {
	var out []string
	for _, f := range slices.Concat(base, extra) {
		if info.has(f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// warnOnce logs msg once per key until Reload.
func (c *Client) warnOnce(key, msg string, args ...any) {
	c.mu.Lock()
	if c.warned == nil {
		c.warned = map[string]bool{}
	}
	seen := c.warned[key]
	c.warned[key] = true
	c.mu.Unlock()
	if !seen {
		c.log.Warn(msg, args...)
	}
}

// joinFields is the comma-separated field list of a SELECT or RETURNING clause.
func joinFields(fs []string) string { return strings.Join(fs, ",") }
