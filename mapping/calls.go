package mapping

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
)

// A mapping's calls: section says how Onoff's call events (CDR, VM, RECORDING) are synced. It has the SMS
// section's parts (skip, match, create, owner, activity), each defaulting to the SMS section's value, except
// activity.fields, which default to the built-in calls fields of the destination's CRM: a call is a different
// CRM record (HubSpot Call engagement, Salesforce Task of subtype Call).

// HubSpot call properties the adapter sets from the call itself.
var hubspotCallReserved = []string{"hs_call_direction", "hs_call_duration", "hs_call_status", "hs_call_from_number",
	"hs_call_to_number", "hs_call_recording_url"}

// Salesforce Task fields the adapter sets for a call.
var salesforceCallReserved = []string{"TaskSubtype", "CallType", "CallDurationInSeconds", "CallDisposition"}

// checkHubSpotCallFields refuses communications properties in a calls section: HubSpot's calls object has
// none of them.
func checkHubSpotCallFields(s spec, add func(at pos, field, format string, args ...any)) {
	for _, f := range s.fields {
		if strings.HasPrefix(f.name, "hs_communication_") {
			add(f.key, "activity.fields."+f.name, "a communications property; a call takes call properties (hs_call_title, hs_call_body, ...)")
		}
	}
}

// callDirectionAlias reads a skip rule's direction: a call's INBOUND is RECEIVED, OUTBOUND is SENT.
func callDirectionAlias(d string) string {
	switch d {
	case "INBOUND":
		return "RECEIVED"
	case "OUTBOUND":
		return "SENT"
	}
	return d
}

// callsSpec derives the calls section from sms, the SMS section as merged: sms's values, with activity.fields
// from builtin (the built-in calls section; nil for none), then the calls: section written in sms's document
// on top. Problems go to p.
func (p *parser) callsSpec(sms spec, builtin *spec) spec {
	s := sms
	s.prefix, s.callsNode = "calls.", nil
	s.updates = nil // contact updates follow SMS only (updates.go)
	s.fields, s.fieldsAt = nil, sms.callsAt
	if builtin != nil {
		s.fields, s.fieldsAt = builtin.fields, builtin.fieldsAt
	}
	n := deref(sms.callsNode)
	if n == nil {
		return s
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "version", "calls":
				p.errorf(k, "calls."+k.Value, "not allowed inside calls (want skip, match, create, owner, activity)")
			case "contact_updates":
				p.errorf(k, "calls."+k.Value, "contact updates follow SMS only: write them at the top level")
			}
		}
	}
	return p.parseSpec(n, s)
}

// checkCalls checks the calls section, reporting only problems the SMS section's check did not already report
// (a value the calls section inherits is reported once, where it is written).
func checkCalls(s spec, crmName string, ps *problems) {
	var cps problems
	check(s, crmName, &cps)
	for _, q := range cps.list {
		if !slices.ContainsFunc(ps.list, func(o Problem) bool { return o.File == q.File && o.Line == q.Line && o.Msg == q.Msg }) {
			ps.list = append(ps.list, q)
		}
	}
}

// For returns the mapping that applies to ev: its calls section for a call, else m.
func (m *Mapping) For(ev crm.SMS) *Mapping {
	if ev.Call != nil && m.calls != nil {
		return m.calls
	}
	return m
}

// withCalls returns m with its calls view built from calls.
func (m *Mapping) withCalls(calls spec) *Mapping {
	c := *m
	c.s = calls
	m.calls = &c
	return m
}

// call is a call as templates see it (.Call); zero for an SMS.
type call struct {
	Kind              string // CDR, VM or RECORDING
	Voicemail         bool   // a VM event
	Recording         bool   // a RECORDING event
	Direction         string // INBOUND or OUTBOUND
	Inbound           bool
	Outbound          bool
	Status            string    // Onoff's callStatus as received
	Outcome           string    // answered, missed, busy, failed, or "" when Onoff's status is not one of them
	Started           time.Time // UTC
	LocalStarted      time.Time // Started in the destination's time zone
	Ended             time.Time // UTC; zero when Onoff sent none
	Duration          time.Duration
	Seconds           int // Duration in whole seconds
	Notes             string
	RecordingURL      string
	VoicemailURL      string
	VoicemailDuration time.Duration
	Tags              []string // tag names
	From              phone    // the caller
	To                phone    // the called number
}

func newCall(c *crm.Call, loc *time.Location) call {
	if c == nil {
		return call{}
	}
	return call{
		Kind: c.Kind, Voicemail: c.Kind == crm.CallVoicemail, Recording: c.Kind == crm.CallRecording,
		Direction: c.Direction, Inbound: c.Direction == crm.Inbound, Outbound: c.Direction == crm.Outbound,
		Status: c.Status, Outcome: c.Outcome(), Started: c.Started, LocalStarted: c.Started.In(loc), Ended: c.Ended,
		Duration: c.Duration, Seconds: int(c.Duration / time.Second), Notes: c.Notes,
		RecordingURL: c.RecordingURL, VoicemailURL: c.VoicemailURL, VoicemailDuration: c.VoicemailDuration,
		Tags: slices.Clone(c.Tags), From: phone{c.From}, To: phone{c.To},
	}
}

// callSamples are the call events every template is executed against at load time: a full recording and a
// bare voicemail.
func callSamples(full crm.SMS, c *crm.Contact) []data {
	utc := time.UTC
	rec := full
	rec.Call = &crm.Call{Kind: crm.CallRecording, Direction: crm.Inbound, Status: "ANSWERED", Started: full.Date,
		Ended: full.Date.Add(95 * time.Second), Duration: 95 * time.Second, Notes: "Call <back> & \nsoon",
		RecordingURL: "https://example.com/r.mp3", Tags: []string{"lead", "urgent"}, From: full.External, To: full.UserNumber}
	vm := crm.SMS{Direction: "RECEIVED", Call: &crm.Call{Kind: crm.CallVoicemail, Direction: crm.Inbound}}
	return []data{newData(rec, c, "2", utc), newData(vm, nil, "", utc)}
}

// joinStrings (the template function join) joins a list of strings with sep: {{ join ", " .Call.Tags }}.
func joinStrings(sep string, l []string) string { return strings.Join(l, sep) }
