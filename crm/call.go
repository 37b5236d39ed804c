package crm

import (
	"strings"
	"time"
)

// Call event names (Onoff's eventName on the calls webhook).
const (
	CallLog       = "CDR"       // a call log
	CallVoicemail = "VM"        // a voicemail left on the Onoff number
	CallRecording = "RECORDING" // a call with its recording (no separate CDR is sent)
)

// Call directions, as normalised from Onoff's callDirection (matched without case).
const (
	Inbound  = "INBOUND"
	Outbound = "OUTBOUND"
)

// Call outcomes onoffsync knows in Onoff's callStatus (matched without case); anything else is logged
// without a CRM status and with the raw value in the activity's text.
const (
	OutcomeAnswered = "answered"
	OutcomeMissed   = "missed"
	OutcomeBusy     = "busy"
	OutcomeFailed   = "failed"
)

// Call is the call part of an Onoff call event (CDR, VM, RECORDING). An event that carries one is a call:
// SMS.Call is set, SMS.Direction is SENT for an outbound call and RECEIVED for an inbound one, SMS.Date is the
// call's start, and SMS.Body its notes.
type Call struct {
	Kind              string        // CallLog, CallVoicemail or CallRecording
	Direction         string        // Inbound or Outbound
	Status            string        // Onoff's callStatus as received (trimmed); "" when absent
	Started           time.Time     // UTC
	Ended             time.Time     // UTC; zero when Onoff sent none
	Duration          time.Duration // whole seconds
	Notes             string
	RecordingURL      string
	VoicemailURL      string
	VoicemailDuration time.Duration
	Tags              []string // tag names, in Onoff's order
	From, To          Phone    // the caller and the called number
}

// Outcome is Status normalised to one of the Outcome constants, or "" when onoffsync does not know it.
func (c *Call) Outcome() string {
	switch s := strings.ToLower(strings.TrimSpace(c.Status)); s {
	case OutcomeAnswered, OutcomeMissed, OutcomeBusy, OutcomeFailed:
		return s
	}
	return ""
}

// MediaURL is the link to the call's recording, else to its voicemail, else "".
func (c *Call) MediaURL() string {
	if c.RecordingURL != "" {
		return c.RecordingURL
	}
	return c.VoicemailURL
}

// ActivityID is the id an activity logged from ev carries (Activity.SourceID): the SMS id, or "call:" and the
// call event's id, so that call ids never meet SMS ids in a CRM's id field.
func (ev SMS) ActivityID() string {
	if ev.Call != nil {
		return "call:" + ev.ID
	}
	return ev.ID
}
