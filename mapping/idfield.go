package mapping

import "github.com/onoffsync/onoffsync/crm"

// IDFieldAuto is the activity.id_field value that lets the CRM decide: the id field `onoffsync setup` creates
// when it exists there, else no id field (the look-up by content).
const IDFieldAuto = "auto"

// IDFieldAuto says whether activity.id_field is "auto" in the SMS section or the calls section: such a
// mapping logs activities without an id field until ResolveIDField is given what the CRM has.
func (m *Mapping) IDFieldAuto() bool {
	return m.s.idField == IDFieldAuto || (m.calls != nil && m.calls.s.idField == IDFieldAuto)
}

// ResolveIDField returns a copy of m whose "auto" id fields are st's: st.SMS for the SMS section, st.Call for
// the calls section ("" for none, the look-up by content). Sections naming a field keep it; m is unchanged.
func (m *Mapping) ResolveIDField(st crm.IDFieldStatus) *Mapping {
	r := *m
	r.s = resolveAuto(m.s, st.SMS, st.SMSUnique)
	if m.calls != nil {
		c := *m.calls
		c.s = resolveAuto(m.calls.s, st.Call, st.CallUnique)
		r.calls = &c
	}
	return &r
}

func resolveAuto(s spec, field string, unique bool) spec {
	if s.idField == IDFieldAuto {
		s.idField, s.idFieldUnique = field, unique && field != ""
	}
	return s
}

// IDField returns the SMS section's and the calls section's activity.id_field as the activities will carry
// it: a field name, "" for none, or IDFieldAuto while unresolved.
func (m *Mapping) IDField() (sms, call string) {
	sms, call = m.s.idField, m.s.idField
	if m.calls != nil {
		call = m.calls.s.idField
	}
	return sms, call
}
