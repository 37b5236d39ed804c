// Package mapping reads the YAML rules that say how an Onoff SMS becomes a CRM activity: which SMS to skip,
// how to find the contact, what to do when none matches, who owns the activity, and the activity's fields as
// text/template strings. Load reports every problem with its line; Apply is pure. It also owns the one
// "file:line: field: problem" error type. It imports crm only, never connector, store or an adapter.
//
// FORMAT.md documents the YAML format, the template data and functions.
package mapping

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
)

//go:embed defaults/*.yaml
var defaults embed.FS

// crmNames lists the destinations with a built-in mapping.
var crmNames = []string{"hubspot", "salesforce", "log"}

// ErrNoIdentity is returned by NewContact for an SMS with neither a valid number nor an email: a contact
// created from it could never be matched again.
var ErrNoIdentity = errors.New("nothing to identify a new contact by: no valid number and no email")

// Options say what a mapping is for.
type Options struct {
	// CRM is "hubspot", "salesforce" or "log": it enables the CRM's checks and its built-in default, which
	// supplies every key a mapping leaves out. "" means neither.
	CRM string
	// Location is the destination's time zone for formatTime and .Event.LocalDate; nil means UTC.
	Location *time.Location
}

// Mapping is a loaded mapping. It is immutable and safe for concurrent use.
type Mapping struct {
	source string
	crm    string
	loc    *time.Location
	s      spec
	calls  *Mapping // the calls: section as a mapping of its own (calls.go); nil in that view itself
}

// Default returns the built-in default mapping for crmName (hubspot, salesforce or log), as commented YAML
// an admin can copy and edit. It fails for any other name.
func Default(crmName string) ([]byte, error) {
	if !slices.Contains(crmNames, crmName) {
		return nil, fmt.Errorf("no built-in mapping for %q (want one of %s)", crmName, strings.Join(crmNames, ", "))
	}
	return defaults.ReadFile("defaults/" + crmName + ".yaml")
}

// LoadDefault returns the built-in default mapping for opts.CRM. It fails when opts.CRM has none.
func LoadDefault(opts Options) (*Mapping, error) {
	loc := cmp.Or(opts.Location, time.UTC)
	base, calls, err := builtin(opts.CRM, loc)
	if err != nil {
		return nil, err
	}
	m := &Mapping{source: "built-in " + opts.CRM, crm: opts.CRM, loc: loc, s: base}
	return m.withCalls(calls), nil
}

// builtin parses and checks the embedded default for crmName: its SMS section and its calls section.
func builtin(crmName string, loc *time.Location) (spec, spec, error) {
	data, err := Default(crmName)
	if err != nil {
		return spec{}, spec{}, err
	}
	var ps problems
	file := "built-in " + crmName
	doc, ok := decodeYAML(file, data, &ps)
	if !ok {
		return spec{}, spec{}, ps.err()
	}
	p := parser{file: file, funcs: funcs(loc), ps: &ps}
	s := p.parseSpec(doc, neutral())
	calls := p.callsSpec(s, nil)
	check(s, crmName, &ps)
	checkCalls(calls, crmName, &ps)
	return s, calls, ps.err()
}

// Load reads and parses the mapping file at path. Errors are an *Error listing every problem, or the
// error reading the file.
func Load(path string, opts Options) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load mapping: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse parses a mapping document; file names it in messages and in Source. It fails with an *Error
// listing every problem found: YAML syntax, unknown keys, bad values, template errors, missing CRM fields.
func Parse(file string, data []byte, opts Options) (*Mapping, error) {
	var ps problems
	doc, ok := decodeYAML(file, data, &ps)
	if !ok {
		return nil, ps.err()
	}
	return ParseNode(file, doc, opts)
}

// ParseNode parses a mapping already decoded as a YAML node, e.g. inline in a configuration file; problems
// carry the node's own line numbers, so they point into that file. It fails like Parse, and with a plain
// error when opts.CRM is not "", "hubspot", "salesforce" or "log".
func ParseNode(file string, node *yaml.Node, opts Options) (*Mapping, error) {
	loc := cmp.Or(opts.Location, time.UTC)
	base := neutral()
	var baseCalls *spec
	if opts.CRM != "" {
		b, bc, err := builtin(opts.CRM, loc)
		if err != nil {
			return nil, err
		}
		base, baseCalls = b, &bc
		base.callsNode = nil // the calls section written here, if any, is the one to overlay
	}
	var ps problems
	p := parser{file: file, funcs: funcs(loc), ps: &ps}
	s := p.parseSpec(node, base)
	calls := p.callsSpec(s, baseCalls)
	check(s, opts.CRM, &ps)
	checkCalls(calls, opts.CRM, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	m := &Mapping{source: file, crm: opts.CRM, loc: loc, s: s}
	return m.withCalls(calls), nil
}

// Source names where the mapping came from: its file, or "built-in hubspot".
func (m *Mapping) Source() string { return m.source }

// Skip returns why ev is not to be synced: the name of the first skip rule it matches (or a description of
// the rule when it has no name), or "" to sync it.
func (m *Mapping) Skip(ev crm.SMS) string {
	on := conditionsOf(ev)
	for i, r := range m.s.skip {
		if !r.matches(on) {
			continue
		}
		if r.name != "" {
			return r.name
		}
		return fmt.Sprintf("skip rule %d (%s:%d)", i+1, r.file, r.line)
	}
	return ""
}

// subject is what a rule's conditions look at in an SMS, normalised once.
type subject struct {
	direction, external, user, email string
}

func conditionsOf(ev crm.SMS) subject {
	return subject{
		direction: ev.Direction,
		external:  strings.ToLower(phone{ev.External}.String()),
		user:      strings.ToLower(phone{ev.UserNumber}.String()),
		email:     strings.ToLower(strings.TrimSpace(ev.UserEmail)),
	}
}

// matches reports whether every condition of r holds (a rule without conditions always matches).
func (r skipRule) matches(s subject) bool {
	return (r.direction == "" || r.direction == s.direction) &&
		(r.external == nil || matchAny(r.external, s.external)) &&
		(r.userEmail == nil || matchAny(r.userEmail, s.email)) &&
		(r.userNumber == nil || matchAny(r.userNumber, s.user))
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// Queries returns the contact queries for ev in match-key order: a phone query when ev.External is a valid
// number, an email query (lower case) when ev.ExternalEmail is set.
func (m *Mapping) Queries(ev crm.SMS) []crm.ContactQuery {
	var qs []crm.ContactQuery
	for _, k := range m.s.keys {
		switch k {
		case "phone":
			if ev.External.Valid() {
				qs = append(qs, crm.ContactQuery{Phone: ev.External, PhoneFields: slices.Clone(m.s.phoneFields)})
			}
		case "email":
			if e := strings.ToLower(strings.TrimSpace(ev.ExternalEmail)); e != "" {
				qs = append(qs, crm.ContactQuery{Email: e})
			}
		}
	}
	return qs
}

// Pick chooses among the contacts that matched, by the mapping's prefer policies in order; ties keep the
// CRM's order. It returns the zero Contact when cs is empty.
func (m *Mapping) Pick(cs []crm.Contact) crm.Contact {
	if len(cs) == 0 {
		return crm.Contact{}
	}
	sorted := slices.Clone(cs)
	slices.SortStableFunc(sorted, func(a, b crm.Contact) int {
		for _, p := range m.s.prefer {
			var c int
			switch p {
			case PreferContactBeforeLead:
				c = cmp.Compare(kindRank(a.Kind), kindRank(b.Kind))
			case PreferLeadBeforeContact:
				c = -cmp.Compare(kindRank(a.Kind), kindRank(b.Kind))
			case PreferRecent:
				c = b.LastModified.Compare(a.LastModified)
			case PreferOldest:
				c = a.LastModified.Compare(b.LastModified)
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return sorted[0]
}

func kindRank(kind string) int {
	if kind == crm.KindLead {
		return 1
	}
	return 0
}

// NoMatch says what to do when no contact matches: NoMatchCreate, NoMatchLog, NoMatchSkip or NoMatchPark.
func (m *Mapping) NoMatch() string { return m.s.onNoMatch }

// ParkRecheck is how often a parked SMS is matched again (match.park_recheck; default 1h, at least 1s).
func (m *Mapping) ParkRecheck() time.Duration { return m.s.parkRecheck }

// ParkFor is how long an SMS stays parked before ParkThen applies (match.park_for; default 168h).
func (m *Mapping) ParkFor() time.Duration { return m.s.parkFor }

// ParkThen is what happens to an SMS still unmatched after ParkFor: NoMatchLog (the default) or NoMatchSkip.
func (m *Mapping) ParkThen() string { return m.s.parkThen }

// NewContact renders the contact to create for ev when nothing matched. It fails with ErrNoIdentity when
// ev has neither a valid number nor an email, when a template fails, and on Salesforce when LastName (or a
// lead's Company) renders empty.
func (m *Mapping) NewContact(ev crm.SMS, ownerID string) (crm.NewContact, error) {
	email := strings.ToLower(strings.TrimSpace(ev.ExternalEmail))
	if !ev.External.Valid() && email == "" {
		return crm.NewContact{}, ErrNoIdentity
	}
	d := newData(ev, nil, ownerID, m.loc)
	nc := crm.NewContact{Kind: m.s.kind, Phone: ev.External, OwnerID: ownerID}
	var errs []error
	for _, f := range []struct {
		t   tmpl
		dst *string
	}{{m.s.firstName, &nc.FirstName}, {m.s.lastName, &nc.LastName}, {m.s.email, &nc.Email}, {m.s.company, &nc.Company}} {
		s, err := f.t.render(d)
		errs = append(errs, err)
		*f.dst = strings.TrimSpace(s)
	}
	fields, err := renderFields(m.s.createFields, d)
	errs = append(errs, err)
	nc.Fields = fields
	if m.crm == "salesforce" {
		if nc.LastName == "" {
			errs = append(errs, errors.New("create.last_name rendered empty (Salesforce requires LastName)"))
		}
		if nc.Kind == crm.KindLead && nc.Company == "" {
			errs = append(errs, errors.New("create.company rendered empty (Salesforce requires a lead's Company)"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return crm.NewContact{}, fmt.Errorf("new contact for %s: %w", ev.ID, err)
	}
	return nc, nil
}

// OwnerFromUserEmail says whether to look the Onoff user's email up among the CRM's owners.
func (m *Mapping) OwnerFromUserEmail() bool { return m.s.fromUserEmail }

// StaticOwner returns the owner id the mapping assigns to an Onoff user's email (compared without case).
func (m *Mapping) StaticOwner(userEmail string) (string, bool) {
	id, ok := m.s.ownerMap[strings.ToLower(strings.TrimSpace(userEmail))]
	return id, ok
}

// DefaultOwner is the owner id for activities no other rule assigns; "" leaves it to the CRM.
func (m *Mapping) DefaultOwner() string { return m.s.defaultOwner }

// Apply renders the activity for ev logged on c (nil for no contact) and owned by ownerID. Fields that
// render empty (or only spaces) are left out. It fails only when a template fails to execute. For a call it
// renders with the calls section whichever view it is called on, and the activity carries the call.
func (m *Mapping) Apply(ev crm.SMS, c *crm.Contact, ownerID string) (crm.Activity, error) {
	m = m.For(ev)
	a := crm.Activity{
		SourceID:      ev.ActivityID(),
		Call:          ev.Call,
		OwnerID:       ownerID,
		Timestamp:     ev.Date,
		IDField:       m.s.idField,
		IDFieldUnique: m.s.idFieldUnique,
	}
	if a.IDField == IDFieldAuto { // not resolved (yet): no id field
		a.IDField, a.IDFieldUnique = "", false
	}
	if c != nil {
		a.ContactID, a.ContactKind = c.ID, c.Kind
		if m.s.associateCompany && c.Kind != crm.KindLead {
			a.CompanyID = c.CompanyID
		}
	}
	fields, err := renderFields(m.s.fields, newData(ev, c, ownerID, m.loc))
	if err != nil {
		return crm.Activity{}, fmt.Errorf("activity for %s: %w", ev.ID, err)
	}
	a.Fields = fields
	return a, nil
}

// renderFields renders every template, leaving out those that render blank.
func renderFields(ts []namedTmpl, d data) (map[string]string, error) {
	out := make(map[string]string, len(ts))
	var errs []error
	for _, t := range ts {
		s, err := t.render(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if strings.TrimSpace(s) != "" {
			out[t.name] = s
		}
	}
	return out, errors.Join(errs...)
}
