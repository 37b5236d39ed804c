package mapping

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
)

// A mapping's contact_updates section changes the matched contact (or lead) after an SMS is logged on it:
// each rule whose conditions hold sets contact fields from templates. Rules apply to SMS only: a call has no
// body to match keywords against, and a "last SMS" field must not move on a call.

// updateRule is one entry of contact_updates.
type updateRule struct {
	pos
	name     string
	when     skipRule // the conditions a skip rule has; none means every SMS
	keywords []string // folded (foldKeyword); nil when the rule names none
	set      []namedTmpl
}

// parseUpdates reads contact_updates: a list of {name, when, set}.
func (p *parser) parseUpdates(v *yaml.Node, field string) []updateRule {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, field, "want a list of rules (name, when, set)")
		return nil
	}
	out := []updateRule{}
	for i, n := range v.Content {
		n = deref(n)
		f := fmt.Sprintf("%s[%d]", field, i)
		r := updateRule{pos: p.at(n)}
		hasSet := false
		p.object(n, f, map[string]func(k, v *yaml.Node, f string){
			"name": func(_, v *yaml.Node, f string) { r.name, _ = p.str(v, f) },
			"when": func(_, v *yaml.Node, f string) {
				handlers, _ := p.conditions(&r.when)
				handlers["keywords"] = func(_, v *yaml.Node, f string) {
					l, ok := p.list(v, f)
					if !ok {
						return
					}
					r.keywords = []string{}
					for j, k := range l {
						if folded := foldKeyword(k); folded != "" {
							r.keywords = append(r.keywords, folded)
						} else {
							p.errorf(v, fmt.Sprintf("%s[%d]", f, j), "empty keyword")
						}
					}
					if len(l) == 0 {
						p.errorf(v, f, "an empty list matches no SMS: list keywords, or leave keywords out")
					}
				}
				p.object(v, f, handlers)
			},
			"set": func(_, v *yaml.Node, f string) {
				hasSet = true
				r.set = p.templates(v, f)
				if isNull(v) || (v.Kind == yaml.MappingNode && len(v.Content) == 0) {
					p.errorf(v, f, "sets nothing: name at least one contact field")
				}
			},
		})
		if !hasSet && n.Kind == yaml.MappingNode {
			p.errorf(n, f+".set", "required: the contact fields the rule sets (field: template)")
		}
		out = append(out, r)
	}
	return out
}

// foldKeyword reads a body or keyword the way keywords compare: trimmed, without case or accents
// ("  Arrêt " and "ARRET" fold alike). golang.org/x/text decomposes letters (NFD) so their accents become
// separate marks to drop, which no hand-written table would cover for every script.
func foldKeyword(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, strings.TrimSpace(s))
	if err != nil {
		folded = strings.TrimSpace(s)
	}
	return strings.ToLower(folded)
}

// matches reports whether the rule applies to the SMS: its conditions hold and, when it lists keywords, the
// whole body is one of them.
func (r updateRule) matches(on subject, body string) bool {
	if !r.when.matches(on) {
		return false
	}
	if r.keywords == nil {
		return true
	}
	b := foldKeyword(body)
	for _, k := range r.keywords {
		if k == b {
			return true
		}
	}
	return false
}

// HasContactUpdates reports whether the mapping has contact_updates rules.
func (m *Mapping) HasContactUpdates() bool { return len(m.s.updates) > 0 }

// ContactUpdates returns the fields the contact_updates rules set on c for ev, and the names of the rules that
// applied (or "contact_updates[i] (file:line)" for a rule without a name). Every rule that matches applies, in
// order: a field a later rule sets too takes the later value. Fields that render blank are left out. It
// returns nothing for a call or without a contact, and fails only when a template fails to execute.
func (m *Mapping) ContactUpdates(ev crm.SMS, c *crm.Contact, ownerID string) (map[string]string, []string, error) {
	if ev.Call != nil || c == nil || c.ID == "" || len(m.s.updates) == 0 {
		return nil, nil, nil
	}
	on := conditionsOf(ev)
	var d *data
	fields := map[string]string{}
	var applied []string
	for i, r := range m.s.updates {
		if !r.matches(on, ev.Body) {
			continue
		}
		if d == nil {
			nd := newData(ev, c, ownerID, m.loc)
			d = &nd
		}
		set, err := renderFields(r.set, *d)
		if err != nil {
			return nil, nil, fmt.Errorf("contact update for %s: %w", ev.ID, err)
		}
		for k, v := range set {
			fields[k] = v
		}
		name := r.name
		if name == "" {
			name = fmt.Sprintf("contact_updates[%d] (%s:%d)", i, r.file, r.line)
		}
		applied = append(applied, name)
	}
	if len(fields) == 0 {
		return nil, applied, nil
	}
	return fields, applied, nil
}

// UpdateField is a contact field a contact_updates rule sets, where it is written: what `check --online`
// looks for in the CRM.
type UpdateField struct {
	Name  string
	File  string
	Line  int
	Field string // the key's path in the mapping, e.g. "contact_updates[0].set.sms_opt_out"
}

// UpdateFields lists every contact field the contact_updates rules set, in the order written.
func (m *Mapping) UpdateFields() []UpdateField {
	var out []UpdateField
	for i, r := range m.s.updates {
		for _, t := range r.set {
			out = append(out, UpdateField{Name: t.name, File: t.key.file, Line: t.key.line,
				Field: fmt.Sprintf("contact_updates[%d].set.%s", i, t.name)})
		}
	}
	return out
}

// checkUpdates checks the rules' field names for the CRM (nameRE nil: no CRM-specific check).
func checkUpdates(s spec, crmName string, nameRE *regexp.Regexp, ps *problems) {
	for i, r := range s.updates {
		for _, f := range r.set {
			field := fmt.Sprintf("contact_updates[%d].set.%s", i, f.name)
			switch {
			case nameRE != nil && !nameRE.MatchString(f.name):
				ps.add(f.key.file, f.key.line, field, "%q is not a valid %s field name", f.name, crmName)
			case crmName == "salesforce" && f.name == "Id":
				ps.add(f.key.file, f.key.line, field, "the record's id cannot be set")
			case crmName == "hubspot" && f.name == "hs_object_id":
				ps.add(f.key.file, f.key.line, field, "the record's id cannot be set")
			}
		}
	}
}
