package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// errNotObject is a body that is not a JSON object: the one shape the receiver refuses (400).
var errNotObject = errors.New("body is not a JSON object")

// payload is a webhook body decoded one level deep; values are kept raw so odd types are reported, not fatal.
type payload map[string]json.RawMessage

// decodePayload reads a JSON object. A body too deeply nested to decode is still an object: it comes back with
// a problem instead of an error, so it is quarantined rather than refused.
func decodePayload(body []byte) (payload, map[string]string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errNotObject
	}
	var p payload
	if err := json.Unmarshal(trimmed, &p); err != nil {
		if strings.Contains(err.Error(), "exceeded max depth") {
			return payload{}, map[string]string{"body": "JSON nested too deeply to read"}, nil
		}
		return nil, nil, fmt.Errorf("%w: %v", errNotObject, err)
	}
	return p, nil, nil
}

// str reads field k as a string. Numbers are accepted for ids (their text); other types are a problem.
func (p payload) str(k string, problems map[string]string) (string, bool) {
	raw, ok := p[k]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var n json.Number
	if k == "id" || k == "externalNumber" || k == "onoffUserNumber" {
		if err := json.Unmarshal(raw, &n); err == nil {
			return n.String(), true
		}
	}
	problems[k] = "must be a string"
	return "", true
}

// companyFields are where the undocumented company of an Onoff contact may come.
var companyFields = []string{"externalCompany", "externalCompanyName", "company", "companyName"}

// ParseSMS validates an SMS webhook body and normalises it. It returns errNotObject for a body that is not a
// JSON object; otherwise problems (field -> reason) is empty exactly when the SMS is valid: a non-empty id,
// smsDirection SENT or RECEIVED, a readable date, and an externalNumber. eventName is the event's name
// ("SMS" when absent).
func ParseSMS(body []byte, defaultRegion string) (sms crm.SMS, eventName string, problems map[string]string, err error) {
	return parseSMS(body, defaultRegion, true)
}

// parseSMS is ParseSMS; without phones it leaves the numbers unparsed (Raw only), which is all the receiver
// needs to validate and store an event, and saves it the cost of phone parsing on the hot path.
func parseSMS(body []byte, defaultRegion string, phones bool) (sms crm.SMS, eventName string, problems map[string]string, err error) {
	p, problems, err := decodePayload(body)
	if err != nil {
		return crm.SMS{}, "", nil, err
	}
	if problems == nil {
		problems = map[string]string{}
	}
	get := func(k string) string { s, _ := p.str(k, problems); return s }
	eventName = strings.TrimSpace(get("eventName"))
	if eventName == "" || strings.EqualFold(eventName, "SMS") {
		eventName = "SMS" // Onoff's docs spell it so; any other case is the same event
	}
	sms.ID = strings.TrimSpace(get("id"))
	if sms.ID == "" && problems["id"] == "" {
		problems["id"] = "missing or empty"
	} else if len(sms.ID) > 256 {
		problems["id"] = "longer than 256 characters"
	}
	sms.Direction = strings.ToUpper(strings.TrimSpace(get("smsDirection")))
	if sms.Direction != "SENT" && sms.Direction != "RECEIVED" && problems["smsDirection"] == "" {
		problems["smsDirection"] = fmt.Sprintf("want SENT or RECEIVED, got %q", sms.Direction)
	}
	if raw, ok := p["date"]; !ok || string(raw) == "null" {
		problems["date"] = "missing"
	} else if t, err := parseDate(raw); err != nil {
		problems["date"] = err.Error()
	} else {
		sms.Date = t
	}
	sms.Body = get("body")
	sms.UserName = get("onoffUserName")
	sms.UserEmail = strings.ToLower(strings.TrimSpace(get("onoffUserEmail")))
	userNumber := get("onoffUserNumber")
	ext, present := p.str("externalNumber", problems)
	if !present && problems["externalNumber"] == "" {
		problems["externalNumber"] = "missing"
	}
	sms.ExternalName = strings.TrimSpace(get("externalName"))
	sms.ExternalEmail = strings.ToLower(strings.TrimSpace(get("externalEmail")))
	for _, k := range companyFields {
		if c := strings.TrimSpace(get(k)); c != "" {
			sms.ExternalCompany = c
			break
		}
	}
	sms.UserNumber, sms.External = crm.Phone{Raw: userNumber}, crm.Phone{Raw: ext}
	if phones {
		region := crm.RegionFor(userNumber, defaultRegion)
		sms.UserNumber = crm.ParsePhone(userNumber, region)
		sms.External = crm.ParsePhone(ext, region)
	}
	return sms, eventName, problems, nil
}

// parseDate reads Onoff's date leniently: RFC 3339 with or without fraction or zone (no zone = UTC), a space
// instead of the T, or epoch milliseconds as a number or a string of digits.
func parseDate(raw json.RawMessage) (time.Time, error) {
	var ms json.Number
	if err := json.Unmarshal(raw, &ms); err == nil {
		return fromMillis(ms.String())
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("must be a string or epoch milliseconds")
	}
	s = strings.TrimSpace(s)
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return fromMillis(s)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			if ms := t.UnixMilli(); ms <= 0 || ms > 1e14 { // the range fromMillis accepts: 1970 to 5138
				return time.Time{}, fmt.Errorf("date %q out of range (1970 to 5138)", truncate(s, 40))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable date %q (want RFC 3339 or epoch milliseconds)", truncate(s, 40))
}

func fromMillis(s string) (time.Time, error) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > 1e14 {
		return time.Time{}, fmt.Errorf("unreadable epoch milliseconds %q", truncate(s, 40))
	}
	return time.UnixMilli(ms).UTC(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CallEvent reads the id and eventName of a call webhook (CDR, VM, RECORDING), for deduplication.
func CallEvent(body []byte) (id, eventName string, err error) {
	p, _, err := decodePayload(body)
	if err != nil {
		return "", "", err
	}
	probs := map[string]string{}
	id, _ = p.str("id", probs)
	eventName, _ = p.str("eventName", probs)
	return strings.TrimSpace(id), eventName, nil
}
