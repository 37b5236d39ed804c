package connector

import (
	"fmt"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
)

// PreviewResult is what `onoffsync mapping preview` prints: what the sync loop would do with one webhook,
// without calling anything.
type PreviewResult struct {
	Mapping    string          `json:"mapping"`
	Event      crm.SMS         `json:"event"`
	Skip       string          `json:"skip,omitempty"`
	Queries    []PreviewQuery  `json:"contact_queries"`
	OnNoMatch  string          `json:"on_no_match"`
	NewContact *crm.NewContact `json:"new_contact_if_no_match,omitempty"`
	Activity   crm.Activity    `json:"activity_if_matched"`
	// ContactUpdate is what contact_updates would set on the matched contact once the activity is logged.
	ContactUpdate *PreviewUpdate    `json:"contact_update_if_matched,omitempty"`
	Problems      map[string]string `json:"problems,omitempty"`
	Fields        map[string]string `json:"-"`
}

// PreviewUpdate is a contact update the mapping's contact_updates would send, and the rules that made it.
type PreviewUpdate struct {
	Rules  []string          `json:"rules"`
	Fields map[string]string `json:"fields"`
}

// PreviewQuery is one contact query in the order the loop runs them.
type PreviewQuery struct {
	Key         string   `json:"key"`
	Digits      []string `json:"phone_variants,omitempty"`
	PhoneFields []string `json:"phone_fields,omitempty"`
}

// Preview runs d's mapping over a webhook body (an SMS, or a call event: CDR, VM, RECORDING, with the mapping's
// calls section): skip rules, contact queries, the contact it would create, and
// the activity it would log on a placeholder matched contact.
func Preview(d Destination, region string, body []byte) (*PreviewResult, error) {
	m, err := LoadMapping(d)
	if err != nil {
		return nil, err
	}
	sms, name, problems, err := ParseSMS(body, region)
	if err != nil {
		return nil, err
	}
	if containsName(callNames, strings.ToUpper(strings.TrimSpace(name))) {
		if sms, name, problems, err = ParseCall(body, region); err != nil {
			return nil, err
		}
		if !d.Syncs(ClassCall) {
			return nil, fmt.Errorf("destination %s does not sync calls (its events: %v)", d.Name, d.Events)
		}
		m = m.For(sms)
	} else if name != "SMS" {
		return nil, fmt.Errorf("eventName %q is stored but not synced", name)
	} else if !d.Syncs(ClassSMS) {
		return nil, fmt.Errorf("destination %s does not sync SMS (its events: %v)", d.Name, d.Events)
	}
	if len(problems) > 0 {
		return &PreviewResult{Mapping: m.Source(), Event: sms, Problems: problems}, fmt.Errorf("the receiver would quarantine this event: %v", problems)
	}
	p := &PreviewResult{Mapping: m.Source(), Event: sms, Skip: m.Skip(sms), OnNoMatch: m.NoMatch()}
	for _, q := range m.Queries(sms) {
		pq := PreviewQuery{Key: q.Key(), PhoneFields: q.PhoneFields}
		if q.Email == "" {
			pq.Digits = q.Phone.Digits()
		}
		p.Queries = append(p.Queries, pq)
	}
	owner := m.DefaultOwner()
	if id, ok := m.StaticOwner(sms.UserEmail); ok {
		owner = id
	} else if m.OwnerFromUserEmail() && sms.UserEmail != "" {
		owner = "<owner of " + sms.UserEmail + ">"
	}
	if p.OnNoMatch == "create" {
		nc, err := m.NewContact(sms, owner)
		if err != nil {
			return nil, err
		}
		p.NewContact = &nc
	}
	contact := &crm.Contact{ID: "<matched contact id>", Kind: crm.KindContact, Name: sms.ExternalName, Email: sms.ExternalEmail}
	p.Activity, err = m.Apply(sms, contact, owner)
	if err != nil {
		return nil, err
	}
	fields, rules, err := m.ContactUpdates(sms, contact, owner)
	if err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		p.ContactUpdate = &PreviewUpdate{Rules: rules, Fields: fields}
	}
	return p, nil
}
