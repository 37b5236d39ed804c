package mapping

import (
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
)

// pos is where a value came from.
type pos struct {
	file string
	line int
}

// tmpl is one compiled template and where it was written.
type tmpl struct {
	pos
	field string
	src   string
	t     *template.Template // nil when src is empty
}

// render executes the template; an empty template renders "". A single trailing newline (what a YAML "|"
// block adds) is removed.
func (t tmpl) render(d data) (string, error) {
	if t.t == nil {
		return "", nil
	}
	var b strings.Builder
	if err := t.t.Execute(&b, d); err != nil {
		e := splitTemplateErr(err)
		return "", fmt.Errorf("%s: %s", t.field, e.msg)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// namedTmpl is a template for one CRM field.
type namedTmpl struct {
	name string
	key  pos // where the field name was written
	tmpl
}

// skipRule is one entry of skip: its conditions are ANDed.
type skipRule struct {
	pos
	name       string
	external   []string // lower-cased glob patterns
	userEmail  []string
	userNumber []string
	direction  string
}

// spec is a mapping's settings after parsing, before they become a Mapping. Positions say where each value
// was written, for problems found when checking the whole.
type spec struct {
	skip []skipRule

	keys        []string
	phoneFields []string
	prefer      []string
	onNoMatch   string
	onNoMatchAt pos
	parkRecheck time.Duration
	parkFor     time.Duration
	parkThen    string

	createAt     pos
	kind         string
	kindAt       pos
	firstName    tmpl
	lastName     tmpl
	email        tmpl
	company      tmpl
	createFields []namedTmpl

	fromUserEmail bool
	ownerMap      map[string]string // lower-cased email -> owner id
	defaultOwner  string

	idField          string
	idFieldAt        pos
	idFieldUnique    bool
	idFieldUniqueAt  pos
	associateCompany bool
	fields           []namedTmpl
	fieldsAt         pos

	updates []updateRule // contact_updates (updates.go)

	callsNode *yaml.Node // the calls: section as written, parsed by callsSpec (calls.go)
	callsAt   pos
	prefix    string // "calls." for a calls spec: field paths in problems start with it
}

// Enumerations.
const (
	NoMatchCreate = "create"
	NoMatchLog    = "log_without_contact"
	NoMatchSkip   = "skip"
	NoMatchPark   = "park"

	PreferContactBeforeLead = "contact_before_lead"
	PreferLeadBeforeContact = "lead_before_contact"
	PreferRecent            = "most_recently_modified"
	PreferOldest            = "least_recently_modified"
)

var (
	matchKeys      = []string{"phone", "email"}
	noMatchValues  = []string{NoMatchCreate, NoMatchLog, NoMatchSkip, NoMatchPark}
	parkThenValues = []string{NoMatchLog, NoMatchSkip}
	preferValues   = []string{PreferContactBeforeLead, PreferLeadBeforeContact, PreferRecent, PreferOldest}
	kinds          = []string{crm.KindContact, crm.KindLead}
	directions     = []string{"SENT", "RECEIVED", "INBOUND", "OUTBOUND"} // a call's INBOUND is RECEIVED, OUTBOUND SENT
)

// neutral is the spec every mapping starts from when no CRM is named (and the built-ins themselves).
func neutral() spec {
	return spec{
		prefer:      []string{PreferRecent},
		onNoMatch:   NoMatchLog,
		parkRecheck: time.Hour,
		parkFor:     168 * time.Hour,
		parkThen:    NoMatchLog,
		kind:        crm.KindContact,
	}
}

// parser walks a YAML node tree into a spec, collecting problems.
type parser struct {
	file  string
	funcs template.FuncMap
	ps    *problems
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML reads one YAML document; a syntax error becomes a problem.
func decodeYAML(file string, data []byte, ps *problems) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		line, msg := 0, err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		ps.add(file, line, "", "%s", msg)
		return nil, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		ps.add(file, more.Line, "", "a mapping file holds one YAML document")
		return nil, false
	}
	return &doc, true
}

func (p *parser) at(n *yaml.Node) pos { return pos{file: p.file, line: n.Line} }

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	p.ps.add(p.file, n.Line, field, format, args...)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object walks a YAML mapping, calling the handler for each known key and reporting unknown and repeated
// keys. A null node is an empty mapping.
func (p *parser) object(n *yaml.Node, field string, handlers map[string]func(k, v *yaml.Node, field string)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping of keys (%s)", strings.Join(slices.Sorted(maps.Keys(handlers)), ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		f := join(field, k.Value)
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			p.errorf(k, f, "unknown key %q (want one of %s)", k.Value, strings.Join(slices.Sorted(maps.Keys(handlers)), ", "))
		case seen[k.Value]:
			p.errorf(k, f, "repeated key")
		default:
			h(k, v, f)
		}
		seen[k.Value] = true
	}
}

func (p *parser) str(v *yaml.Node, field string) (string, bool) {
	if isNull(v) {
		return "", true
	}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, field, "want a string")
		return "", false
	}
	return v.Value, true
}

func (p *parser) boolean(v *yaml.Node, field string) (bool, bool) {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
		p.errorf(v, field, "want true or false, got %q", v.Value)
		return false, false
	}
	return b, true
}

func (p *parser) enum(v *yaml.Node, field string, values []string) (string, bool) {
	s, ok := p.str(v, field)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		p.errorf(v, field, "%q is not one of %s", s, strings.Join(values, ", "))
		return "", false
	}
	return s, true
}

// duration reads a Go duration ("90s", "1h", "168h") of at least least.
func (p *parser) duration(v *yaml.Node, field string, least time.Duration) (time.Duration, bool) {
	s, ok := p.str(v, field)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(v, field, "%q is not a duration (e.g. 30s, 1h, 168h)", s)
		return 0, false
	case d < least:
		p.errorf(v, field, "%s is shorter than the least accepted, %s", d, least)
		return 0, false
	}
	return d, true
}

// list reads a sequence of strings; a single string is a list of one.
func (p *parser) list(v *yaml.Node, field string) ([]string, bool) {
	if isNull(v) {
		return nil, true
	}
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}, true
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, field, "want a list of strings")
		return nil, false
	}
	out := []string{}
	ok := true
	for i, e := range v.Content {
		e = deref(e)
		if e.Kind != yaml.ScalarNode || isNull(e) {
			p.errorf(e, fmt.Sprintf("%s[%d]", field, i), "want a string")
			ok = false
			continue
		}
		out = append(out, e.Value)
	}
	return out, ok
}

// enumList reads a list whose items come from values, each at most once.
func (p *parser) enumList(v *yaml.Node, field string, values []string) ([]string, bool) {
	l, ok := p.list(v, field)
	if !ok {
		return nil, false
	}
	for i, s := range l {
		switch {
		case !slices.Contains(values, s):
			p.errorf(v, fmt.Sprintf("%s[%d]", field, i), "%q is not one of %s", s, strings.Join(values, ", "))
			ok = false
		case slices.Index(l, s) < i:
			p.errorf(v, fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", s)
			ok = false
		}
	}
	return l, ok
}

// template compiles a template value and checks it: syntax, field names, and one execution against each
// sample. Problems point at the template's own line in the YAML.
func (p *parser) template(v *yaml.Node, field string) tmpl {
	t := tmpl{pos: p.at(v), field: field}
	s, ok := p.str(v, field)
	if !ok || s == "" {
		return t
	}
	t.src = s
	first := v.Line // the line of the template's first line
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		first++
	}
	last := first + strings.Count(strings.TrimRight(s, "\n"), "\n")
	lineOf := func(e tmplErr) int { return min(first+max(e.line, 1)-1, last) }
	tt, err := template.New("t").Funcs(p.funcs).Option("missingkey=error").Parse(s)
	if err != nil {
		e := splitTemplateErr(err)
		p.ps.add(p.file, lineOf(e), field, "template: %s", e.msg)
		return t
	}
	if errs := checkFields(tt); len(errs) > 0 {
		for _, e := range errs {
			p.ps.add(p.file, lineOf(e), field, "template: %s", e.msg)
		}
		return t
	}
	for _, d := range samples() {
		if err := tt.Execute(io.Discard, d); err != nil {
			e := splitTemplateErr(err)
			p.ps.add(p.file, lineOf(e), field, "template: %s", e.msg)
			return t
		}
	}
	t.t = tt
	return t
}

// templates reads a mapping of CRM field name -> template, in the order written.
func (p *parser) templates(v *yaml.Node, field string) []namedTmpl {
	if isNull(v) {
		return []namedTmpl{}
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, field, "want a mapping of CRM field names to templates")
		return nil
	}
	out := []namedTmpl{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		f := join(field, k.Value)
		if seen[k.Value] {
			p.errorf(k, f, "repeated key")
			continue
		}
		seen[k.Value] = true
		out = append(out, namedTmpl{name: k.Value, key: p.at(k), tmpl: p.template(val, f)})
	}
	return out
}

// samples are the data every template is executed against at load time, to catch what only execution finds.
func samples() []data {
	utc := time.UTC
	full := crm.SMS{
		ID: "sample", Direction: "SENT", Date: time.Date(2024, 5, 20, 14, 30, 0, 0, utc), Body: "Hello <b>&\nthere",
		UserName: "John Doe", UserEmail: "john.doe@example.com", UserNumber: crm.ParsePhone("+33698765432", ""),
		External: crm.ParsePhone("+33612345678", ""), ExternalName: "Jane Smith", ExternalEmail: "jane@example.com",
		ExternalCompany: "Acme",
	}
	c := crm.Contact{ID: "1", Kind: crm.KindContact, Name: "Jane Smith", FirstName: "Jane", LastName: "Smith",
		Email: "jane@example.com", OwnerID: "2", CompanyID: "3"}
	return append([]data{
		newData(full, &c, "2", utc),
		newData(crm.SMS{Direction: "RECEIVED"}, nil, "", utc),
	}, callSamples(full, &c)...)
}

// parseSpec overlays the document in root onto base.
func (p *parser) parseSpec(root *yaml.Node, base spec) spec {
	s := base
	if root == nil || root.Kind == 0 {
		return s
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return s
		}
		root = root.Content[0]
	}
	p.object(root, strings.TrimSuffix(s.prefix, "."), map[string]func(k, v *yaml.Node, f string){
		"version": func(_, v *yaml.Node, f string) {
			if v.Value != "1" {
				p.errorf(v, f, "unsupported version %q (want 1)", v.Value)
			}
		},
		"skip": func(_, v *yaml.Node, f string) { s.skip = p.skipRules(v, f) },
		"contact_updates": func(_, v *yaml.Node, f string) {
			s.updates = p.parseUpdates(v, f)
		},
		"calls": func(k, v *yaml.Node, f string) { s.callsNode, s.callsAt = v, p.at(k) },
		"match": func(_, v *yaml.Node, f string) {
			p.object(v, f, map[string]func(k, v *yaml.Node, f string){
				"keys": func(_, v *yaml.Node, f string) {
					if l, ok := p.enumList(v, f, matchKeys); ok {
						s.keys = l
					}
				},
				"phone_fields": func(_, v *yaml.Node, f string) {
					if l, ok := p.list(v, f); ok {
						s.phoneFields = l
					}
				},
				"prefer": func(_, v *yaml.Node, f string) {
					if l, ok := p.enumList(v, f, preferValues); ok {
						s.prefer = l
					}
				},
				"on_no_match": func(_, v *yaml.Node, f string) {
					if e, ok := p.enum(v, f, noMatchValues); ok {
						s.onNoMatch, s.onNoMatchAt = e, p.at(v)
					}
				},
				"park_recheck": func(_, v *yaml.Node, f string) {
					if d, ok := p.duration(v, f, time.Second); ok {
						s.parkRecheck = d
					}
				},
				"park_for": func(_, v *yaml.Node, f string) {
					if d, ok := p.duration(v, f, time.Second); ok {
						s.parkFor = d
					}
				},
				"park_then": func(_, v *yaml.Node, f string) {
					if e, ok := p.enum(v, f, parkThenValues); ok {
						s.parkThen = e
					}
				},
			})
		},
		"create": func(k, v *yaml.Node, f string) {
			s.createAt = p.at(k)
			p.object(v, f, map[string]func(k, v *yaml.Node, f string){
				"kind": func(_, v *yaml.Node, f string) {
					if e, ok := p.enum(v, f, kinds); ok {
						s.kind, s.kindAt = e, p.at(v)
					}
				},
				"first_name": func(_, v *yaml.Node, f string) { s.firstName = p.template(v, f) },
				"last_name":  func(_, v *yaml.Node, f string) { s.lastName = p.template(v, f) },
				"email":      func(_, v *yaml.Node, f string) { s.email = p.template(v, f) },
				"company":    func(_, v *yaml.Node, f string) { s.company = p.template(v, f) },
				"fields":     func(_, v *yaml.Node, f string) { s.createFields = p.templates(v, f) },
			})
		},
		"owner": func(_, v *yaml.Node, f string) {
			p.object(v, f, map[string]func(k, v *yaml.Node, f string){
				"from_user_email": func(_, v *yaml.Node, f string) {
					if b, ok := p.boolean(v, f); ok {
						s.fromUserEmail = b
					}
				},
				"map":     func(_, v *yaml.Node, f string) { s.ownerMap = p.ownerMap(v, f) },
				"default": func(_, v *yaml.Node, f string) { s.defaultOwner, _ = p.str(v, f) },
			})
		},
		"activity": func(_, v *yaml.Node, f string) {
			p.object(v, f, map[string]func(k, v *yaml.Node, f string){
				"id_field": func(_, v *yaml.Node, f string) {
					if id, ok := p.str(v, f); ok {
						s.idField, s.idFieldAt = id, p.at(v)
					}
				},
				"id_field_unique": func(_, v *yaml.Node, f string) {
					if b, ok := p.boolean(v, f); ok {
						s.idFieldUnique, s.idFieldUniqueAt = b, p.at(v)
					}
				},
				"associate_company": func(_, v *yaml.Node, f string) {
					if b, ok := p.boolean(v, f); ok {
						s.associateCompany = b
					}
				},
				"fields": func(k, v *yaml.Node, f string) {
					s.fields, s.fieldsAt = p.templates(v, f), p.at(k)
				},
			})
		},
	})
	return s
}

func (p *parser) skipRules(v *yaml.Node, field string) []skipRule {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, field, "want a list of rules")
		return nil
	}
	var out []skipRule
	for i, n := range v.Content {
		n = deref(n)
		f := fmt.Sprintf("%s[%d]", field, i)
		r := skipRule{pos: p.at(n)}
		handlers, conds := p.conditions(&r)
		handlers["name"] = func(_, v *yaml.Node, f string) { r.name, _ = p.str(v, f) }
		p.object(n, f, handlers)
		if *conds == 0 && n.Kind == yaml.MappingNode {
			p.errorf(n, f, "a skip rule needs at least one condition (external_number, user_email, user_number, direction)")
		}
		out = append(out, r)
	}
	return out
}

// conditions returns the handlers of the conditions a skip rule (and a contact update's when) is made of,
// filling r, and a count of the conditions read.
func (p *parser) conditions(r *skipRule) (map[string]func(k, v *yaml.Node, f string), *int) {
	conds := new(int)
	patterns := func(dst *[]string) func(_, v *yaml.Node, f string) {
		return func(_, v *yaml.Node, f string) {
			l, ok := p.list(v, f)
			if !ok {
				return
			}
			for j, pat := range l {
				if _, err := path.Match(pat, ""); err != nil {
					p.errorf(v, fmt.Sprintf("%s[%d]", f, j), "bad pattern %q: %v", pat, err)
					continue
				}
				*dst = append(*dst, strings.ToLower(pat))
			}
			*conds++
		}
	}
	return map[string]func(k, v *yaml.Node, f string){
		"external_number": patterns(&r.external),
		"user_email":      patterns(&r.userEmail),
		"user_number":     patterns(&r.userNumber),
		"direction": func(_, v *yaml.Node, f string) {
			if d, ok := p.enum(v, f, directions); ok {
				r.direction = callDirectionAlias(d)
				*conds++
			}
		},
	}, conds
}

func (p *parser) ownerMap(v *yaml.Node, field string) map[string]string {
	out := map[string]string{}
	if isNull(v) {
		return out
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, field, "want a mapping of Onoff user emails to CRM owner ids")
		return out
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		f := join(field, k.Value)
		email := strings.ToLower(strings.TrimSpace(k.Value))
		id, ok := p.str(val, f)
		switch {
		case !ok:
		case !strings.Contains(email, "@"):
			p.errorf(k, f, "%q is not an email address", k.Value)
		case id == "":
			p.errorf(val, f, "empty owner id")
		case out[email] != "":
			p.errorf(k, f, "%q is listed twice (emails are compared without case)", k.Value)
		default:
			out[email] = id
		}
	}
	return out
}

var (
	hubspotName    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	salesforceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// check reports problems with the spec as a whole, for the given CRM ("" for no CRM-specific checks).
func check(s spec, crmName string, ps *problems) {
	add := func(at pos, field, format string, args ...any) {
		ps.add(at.file, at.line, s.prefix+field, format, args...)
	}
	if s.onNoMatch == NoMatchCreate {
		if len(s.keys) == 0 {
			add(s.onNoMatchAt, "match.on_no_match", "create needs at least one match key (match.keys), or every SMS would create a contact")
		}
		if crmName == "log" {
			add(s.onNoMatchAt, "match.on_no_match", "the log destination cannot create contacts")
		}
	}
	if s.onNoMatch == NoMatchPark {
		if len(s.keys) == 0 {
			add(s.onNoMatchAt, "match.on_no_match", "park needs at least one match key (match.keys), or no parked SMS could ever match")
		}
		if crmName == "log" {
			add(s.onNoMatchAt, "match.on_no_match", "the log destination has no contacts to wait for")
		}
	}
	var nameRE *regexp.Regexp
	var reserved []string
	switch crmName {
	case "hubspot":
		nameRE = hubspotName
		reserved = []string{"hs_timestamp", "hubspot_owner_id"}
		if s.kind == crm.KindLead {
			add(s.kindAt, "create.kind", "HubSpot has no leads to create here: use contact")
		}
		if s.prefix != "" {
			reserved = append(reserved, hubspotCallReserved...)
			checkHubSpotCallFields(s, add)
		} else if !hasField(s.fields, "hs_communication_body") {
			add(s.fieldsAt, "activity.fields", "hs_communication_body is required")
		}
	case "salesforce":
		nameRE = salesforceName
		reserved = []string{"WhoId", "WhatId", "OwnerId"}
		if s.prefix != "" {
			reserved = append(reserved, salesforceCallReserved...)
		}
		if s.prefix == "" && !hasField(s.fields, "Subject") { // a call's Task defaults to the Subject "Call"
			add(s.fieldsAt, "activity.fields", "Subject is required")
		}
		if s.onNoMatch == NoMatchCreate {
			if s.lastName.src == "" {
				add(s.createAt, "create.last_name", "required on Salesforce (LastName)")
			}
			if s.kind == crm.KindLead && s.company.src == "" {
				add(s.createAt, "create.company", "required to create a Salesforce lead (Company)")
			}
		}
		if s.idField != "" && s.idField != IDFieldAuto && !strings.HasSuffix(s.idField, "__c") {
			add(s.idFieldAt, "activity.id_field", "%q is not a custom field (an external-ID field ends in __c)", s.idField)
		}
	}
	if s.idFieldUnique && s.idField == "" {
		add(s.idFieldUniqueAt, "activity.id_field_unique", "needs activity.id_field")
	}
	if s.idFieldUnique && s.idField == IDFieldAuto {
		add(s.idFieldUniqueAt, "activity.id_field_unique", "needs activity.id_field naming a field (auto reads uniqueness from the CRM)")
	}
	checkUpdates(s, crmName, nameRE, ps)
	if nameRE != nil {
		if s.idField != "" && s.idField != IDFieldAuto && !nameRE.MatchString(s.idField) {
			add(s.idFieldAt, "activity.id_field", "%q is not a valid %s field name", s.idField, crmName)
		}
		for _, group := range []struct {
			path   string
			fields []namedTmpl
		}{{"activity.fields", s.fields}, {"create.fields", s.createFields}} {
			for _, f := range group.fields {
				field := group.path + "." + f.name
				switch {
				case !nameRE.MatchString(f.name):
					add(f.key, field, "%q is not a valid %s field name", f.name, crmName)
				case group.path == "activity.fields" && slices.Contains(reserved, f.name):
					add(f.key, field, "set by the adapter; remove it from the mapping")
				case group.path == "activity.fields" && f.name == s.idField:
					add(f.key, field, "is activity.id_field: the adapter sets it to the Onoff id")
				}
			}
		}
	}
}

func hasField(fs []namedTmpl, name string) bool {
	return slices.ContainsFunc(fs, func(f namedTmpl) bool { return f.name == name && f.src != "" })
}
