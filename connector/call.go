package connector

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// Event classes: which webhook an event came on (store.Event.Class) and which kinds a destination syncs
// (its events key).
const (
	ClassSMS  = "sms"
	ClassCall = "call"
)

// callNames are the eventNames of the calls webhook that are synced; any other is stored as ignored.
var callNames = []string{crm.CallLog, crm.CallVoicemail, crm.CallRecording}

// callDirections reads Onoff's callDirection without case. The docs show INBOUND; the other spellings are
// accepted because Onoff's values are not fully documented.
var callDirections = map[string]string{
	"INBOUND": crm.Inbound, "INCOMING": crm.Inbound, "IN": crm.Inbound,
	"OUTBOUND": crm.Outbound, "OUTGOING": crm.Outbound, "OUT": crm.Outbound,
}

// ParseCall validates a call webhook body (CDR, VM, RECORDING) and normalises it into an event whose Call is
// set. It returns errNotObject for a body that is not a JSON object; otherwise problems (field -> reason) is
// empty exactly when the call is valid: a non-empty id, a known callDirection, a readable callStarted (or date),
// a whole non-negative callDuration when present, tags as a list, and an externalNumber. An unknown callStatus
// is not a problem (Call.Outcome is then ""). eventName is the event's name, upper-cased.
func ParseCall(body []byte, defaultRegion string) (ev crm.SMS, eventName string, problems map[string]string, err error) {
	return parseCall(body, defaultRegion, crm.NewPhoneCache(4))
}

func parseCall(body []byte, defaultRegion string, phones *crm.PhoneCache) (ev crm.SMS, eventName string, problems map[string]string, err error) {
	p, problems, err := decodePayload(body)
	if err != nil {
		return crm.SMS{}, "", nil, err
	}
	if problems == nil {
		problems = map[string]string{}
	}
	get := func(k string) string { s, _ := p.str(k, problems); return s }
	eventName = strings.ToUpper(strings.TrimSpace(get("eventName")))
	c := &crm.Call{Kind: eventName}
	ev.Call = c
	ev.ID = p.id(body, problems)
	if ev.ID == "" && problems["id"] == "" {
		problems["id"] = "missing or empty"
	} else if len(ev.ID) > 256 {
		problems["id"] = "longer than 256 characters"
	}
	dir := strings.ToUpper(strings.TrimSpace(get("callDirection")))
	if c.Direction = callDirections[dir]; c.Direction == "" && problems["callDirection"] == "" {
		problems["callDirection"] = fmt.Sprintf("want INBOUND or OUTBOUND, got %q", dir)
	}
	ev.Direction = "RECEIVED"
	if c.Direction == crm.Outbound {
		ev.Direction = "SENT"
	}
	c.Status = strings.TrimSpace(get("callStatus"))
	switch raw := p["callStarted"]; {
	case raw != nil:
		if t, err := parseDate(raw); err != nil {
			problems["callStarted"] = err.Error()
		} else {
			c.Started = t
		}
	case p["date"] != nil: // the SMS field, in case Onoff sends it for calls too
		if t, err := parseDate(p["date"]); err != nil {
			problems["date"] = err.Error()
		} else {
			c.Started = t
		}
	default:
		problems["callStarted"] = "missing"
	}
	ev.Date = c.Started
	if raw := p["callEnded"]; raw != nil {
		if t, err := parseDate(raw); err != nil {
			problems["callEnded"] = err.Error()
		} else {
			c.Ended = t
		}
	}
	if d, ok := seconds(p, "callDuration", problems); ok {
		c.Duration = d
	} else if problems["callDuration"] == "" && !c.Ended.IsZero() && c.Ended.After(c.Started) {
		c.Duration = c.Ended.Sub(c.Started).Round(time.Second)
	}
	if d, ok := seconds(p, "voicemailDuration", problems); ok {
		c.VoicemailDuration = d
	}
	c.Notes = get("callNotes")
	ev.Body = c.Notes
	c.RecordingURL = strings.TrimSpace(get("callRecordingUrl"))
	c.VoicemailURL = strings.TrimSpace(get("voicemailUrl"))
	c.Tags = tags(p["tags"], problems)
	ev.UserName = get("onoffUserName")
	ev.UserEmail = strings.ToLower(strings.TrimSpace(get("onoffUserEmail")))
	userNumber := get("onoffUserNumber")
	ext, present := p.str("externalNumber", problems)
	if !present && problems["externalNumber"] == "" {
		problems["externalNumber"] = "missing"
	}
	ev.ExternalName = strings.TrimSpace(get("externalName"))
	ev.ExternalEmail = strings.ToLower(strings.TrimSpace(get("externalEmail")))
	for _, k := range companyFields {
		if co := strings.TrimSpace(get(k)); co != "" {
			ev.ExternalCompany = co
			break
		}
	}
	ev.UserNumber, ev.External = crm.Phone{Raw: userNumber}, crm.Phone{Raw: ext}
	if phones != nil {
		region := phones.RegionFor(userNumber, defaultRegion)
		ev.UserNumber, ev.External = phones.Parse(userNumber, region), phones.Parse(ext, region)
	}
	c.From, c.To = ev.External, ev.UserNumber
	if c.Direction == crm.Outbound {
		c.From, c.To = ev.UserNumber, ev.External
	}
	return ev, eventName, problems, nil
}

// seconds reads field k as a whole non-negative number of seconds: a JSON number or a string of digits.
// ok is false when the field is absent, null or an empty string, or a problem.
func seconds(p payload, k string, problems map[string]string) (time.Duration, bool) {
	var s string
	switch v := p[k].(type) {
	case nil:
		return 0, false
	case json.Number:
		s = v.String()
	case string:
		if s = strings.TrimSpace(v); s == "" {
			return 0, false
		}
	default:
		problems[k] = "must be a number of seconds"
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1e7 {
		problems[k] = fmt.Sprintf("want whole seconds (0 to 10000000), got %q", truncate(s, 40))
		return 0, false
	}
	return time.Duration(f) * time.Second, true
}

// tags reads Onoff's tags ([{tagId, tagName, tagColor}]) as their names; a bare string is a name too.
func tags(raw any, problems map[string]string) []string {
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		problems["tags"] = "must be a list of {tagId, tagName, tagColor}"
		return nil
	}
	var out []string
	for i, t := range list {
		switch v := t.(type) {
		case map[string]any:
			if n, ok := v["tagName"].(string); ok && strings.TrimSpace(n) != "" {
				out = append(out, strings.TrimSpace(n))
			} else if v["tagName"] != nil {
				problems["tags"] = fmt.Sprintf("tags[%d].tagName must be a string", i)
			}
		case string:
			if strings.TrimSpace(v) != "" {
				out = append(out, strings.TrimSpace(v))
			}
		default:
			problems["tags"] = fmt.Sprintf("tags[%d] must be an object", i)
		}
	}
	return out
}

// classify decides how the receiver (and an admin's requeue) stores a webhook body of class: its status,
// problems, source id and eventName, and the destinations to create jobs for when it is accepted (those whose
// events include the class). A body that is not a JSON object is errNotObject. An event no destination syncs,
// and an eventName that is not synced (a call event other than CDR, VM, RECORDING; a non-SMS event), is stored
// as ignored.
func (c *Config) classify(class string, body []byte) (store.Event, []string, error) {
	var ev crm.SMS
	var name string
	var problems map[string]string
	var err error
	synced := false
	if class == ClassCall {
		ev, name, problems, err = parseCall(body, c.Phone.DefaultRegion, nil)
		synced = containsName(callNames, name)
	} else {
		ev, name, problems, err = parseSMS(body, c.Phone.DefaultRegion, nil)
		synced = name == "SMS"
	}
	if err != nil {
		return store.Event{}, nil, err
	}
	e := store.Event{Class: class, SourceID: ev.ID, EventName: name}
	var dests []string
	for _, d := range c.Destinations {
		if d.Syncs(class) {
			dests = append(dests, d.Name)
		}
	}
	switch {
	case !synced:
		e.Status, dests = store.Ignored, nil
	case len(problems) > 0:
		e.Status, e.Problems, dests = store.Quarantined, problems, nil
	case len(dests) == 0:
		e.Status = store.Ignored
	default:
		e.Status = store.Accepted
	}
	if problems["id"] != "" {
		e.SourceID = "" // no usable id: nothing to deduplicate on
	}
	return e, dests, nil
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// Revalidate is an admin's requeue of a quarantined event: it re-reads the raw body with today's rules and
// configuration and returns the event's new state and the destinations to create jobs for.
func (c *Config) Revalidate(e store.Event) (store.Event, []string) {
	ne, dests, err := c.classify(cmpClass(e.Class), e.Raw)
	if err != nil {
		e.Problems = map[string]string{"body": err.Error()}
		return e, nil
	}
	e.Status, e.SourceID, e.EventName, e.Problems = ne.Status, ne.SourceID, ne.EventName, ne.Problems
	if e.Status == store.Quarantined && len(e.Problems) == 0 {
		e.Problems = map[string]string{"body": "still not valid"}
	}
	return e, dests
}

func cmpClass(c string) string {
	if c == "" {
		return ClassSMS
	}
	return c
}

// checkEvents checks a destination's events key: a non-empty list of sms and calls, each at most once.
func checkEvents(d *Destination, n *yaml.Node, field string, add func(int, string, string, ...any)) {
	v := mapValue(n, "events")
	if v == nil {
		return
	}
	if v.Kind != yaml.SequenceNode || len(d.Events) == 0 {
		add(v.Line, field+".events", "want a list of sms and calls, e.g. [sms, calls] (the default)")
		return
	}
	seen := map[string]bool{}
	for i, e := range d.Events {
		switch {
		case e != "sms" && e != "calls":
			add(v.Line, fmt.Sprintf("%s.events[%d]", field, i), "%q is not sms or calls", e)
		case seen[e]:
			add(v.Line, fmt.Sprintf("%s.events[%d]", field, i), "%q is listed twice", e)
		}
		seen[e] = true
	}
}
