package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/onoffsync/onoffsync/crm"
)

// errNotObject is a body that is not a JSON object: the one shape the receiver refuses (400).
var errNotObject = errors.New("body is not a JSON object")

// payload is a webhook body decoded in one pass; numbers stay json.Number so ids keep every digit, and odd
// types are reported, not fatal.
type payload map[string]any

// decodePayload reads a JSON object. A body too deeply nested to decode is still an object: it comes back with
// a problem instead of an error, so it is quarantined rather than refused.
func decodePayload(body []byte) (payload, map[string]string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errNotObject
	}
	d := json.NewDecoder(bytes.NewReader(trimmed))
	d.UseNumber()
	var p payload
	if err := d.Decode(&p); err != nil {
		if strings.Contains(err.Error(), "exceeded max depth") {
			return payload{}, map[string]string{"body": "JSON nested too deeply to read"}, nil
		}
		if strings.Contains(err.Error(), "in string literal") {
			if p, _, err := decodePayload(escapeControls(trimmed)); err == nil {
				return p, map[string]string{"body": "raw control character inside a JSON string (JSON wants it escaped)"}, nil
			}
		}
		return nil, nil, fmt.Errorf("%w: %v", errNotObject, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: data after the object", errNotObject)
	}
	return p, nil, nil
}

// escapeControls returns body with every raw control character inside a JSON string escaped (\u00XX), so a
// body that is JSON in all but that can be read, and quarantined rather than refused. It returns body itself
// when there is none.
func escapeControls(body []byte) []byte {
	var out []byte
	in, esc := false, false
	for i, c := range body {
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case in && c < 0x20:
			if out == nil {
				out = append(make([]byte, 0, len(body)+16), body[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, c)
			continue
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return body
	}
	return out
}

// id reads the id field. JSON decoding turns invalid UTF-8 and lone surrogates into U+FFFD, which would make
// two distinct ids one (and drop the second SMS as a duplicate): when the decoded id holds U+FFFD, the id is
// read again from the raw body, byte for byte (a lone surrogate escape becomes its WTF-8 bytes).
func (p payload) id(body []byte, problems map[string]string) string {
	id, _ := p.str("id", problems)
	if strings.ContainsRune(id, utf8.RuneError) {
		if raw, ok := rawStringField(body, "id"); ok {
			id = raw
		}
	}
	return strings.TrimSpace(id)
}

// rawStringField returns the string value of the top-level key in the JSON object body without replacing
// invalid bytes; ok is false when the key is absent, not a string, or the body cannot be read. As encoding/json
// does, the last of repeated keys wins.
func rawStringField(body []byte, key string) (s string, ok bool) {
	d := json.NewDecoder(bytes.NewReader(escapeControls(bytes.TrimSpace(body))))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return "", false
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return "", false
		}
		if k == key {
			s, ok = unquoteRaw(v)
		}
	}
	return s, ok
}

// unquoteRaw decodes a JSON string literal keeping bytes that are not valid UTF-8 as they are, and a lone
// surrogate escape as the three bytes of its code point (WTF-8): both stay distinct from U+FFFD.
func unquoteRaw(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	lit = lit[1 : len(lit)-1]
	out := make([]byte, 0, len(lit))
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(lit) {
			return "", false
		}
		i++
		switch lit[i] {
		case '"', '\\', '/':
			out = append(out, lit[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(lit[i+1:])
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if lo, ok := hex4(lit[min(i+3, len(lit)):]); ok && i+2 < len(lit) && lit[i+1] == '\\' && lit[i+2] == 'u' {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						out = utf8.AppendRune(out, pair)
						i += 6
						continue
					}
				}
				out = append(out, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
				continue
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}

// str reads field k as a string. Numbers are accepted for ids and phone numbers (their text); other types are
// a problem. present is false when the field is absent or null.
func (p payload) str(k string, problems map[string]string) (s string, present bool) {
	switch v := p[k].(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case json.Number:
		if k == "id" || k == "externalNumber" || k == "onoffUserNumber" {
			return v.String(), true
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
	return parseSMS(body, defaultRegion, crm.NewPhoneCache(4))
}

// parseSMS is ParseSMS with the numbers parsed through phones (the sync loop keeps one cache for all SMS), or
// left unparsed (Raw only) when phones is nil: that is all the receiver needs to validate and store an event,
// and it saves the receiver's hot path the cost of phone parsing.
func parseSMS(body []byte, defaultRegion string, phones *crm.PhoneCache) (sms crm.SMS, eventName string, problems map[string]string, err error) {
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
	sms.ID = p.id(body, problems)
	if sms.ID == "" && problems["id"] == "" {
		problems["id"] = "missing or empty"
	} else if len(sms.ID) > 256 {
		problems["id"] = "longer than 256 characters"
	}
	sms.Direction = strings.ToUpper(strings.TrimSpace(get("smsDirection")))
	if sms.Direction != "SENT" && sms.Direction != "RECEIVED" && problems["smsDirection"] == "" {
		problems["smsDirection"] = fmt.Sprintf("want SENT or RECEIVED, got %q", sms.Direction)
	}
	if raw := p["date"]; raw == nil {
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
	if phones != nil {
		region := phones.RegionFor(userNumber, defaultRegion)
		sms.UserNumber, sms.External = phones.Parse(userNumber, region), phones.Parse(ext, region)
	}
	return sms, eventName, problems, nil
}

// parseDate reads Onoff's date leniently: RFC 3339 with or without fraction or zone (no zone = UTC), a space
// instead of the T, or epoch milliseconds as a number or a string of digits.
func parseDate(raw any) (time.Time, error) {
	var s string
	switch v := raw.(type) {
	case json.Number:
		return fromMillis(v.String())
	case string:
		s = v
	default:
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
