package mapping

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/onoffsync/onoffsync/crm"
)

// data is what every template sees as its dot.
type data struct {
	Event   event
	Call    call // the call's details when the event is a call (calls.go); zero for an SMS
	Contact contact
	Owner   string // the CRM owner id chosen for the activity, "" for none
}

// event is the SMS as templates see it.
type event struct {
	ID              string
	Direction       string // SENT or RECEIVED
	Sent            bool
	Received        bool
	Date            time.Time // UTC
	LocalDate       time.Time // Date in the destination's time zone
	Body            string
	UserName        string
	UserEmail       string
	UserNumber      phone
	External        phone
	ExternalNumber  phone // alias of External
	ExternalName    string
	ExternalEmail   string
	ExternalCompany string
}

// contact is the matched CRM record as templates see it; zero when there is none.
type contact struct {
	ID        string
	Kind      string
	Name      string
	FirstName string
	LastName  string
	Email     string
	OwnerID   string
	CompanyID string
}

// phone is a crm.Phone that prints as E.164 when it parsed, else as received.
type phone struct {
	crm.Phone
}

// String returns the E.164 form, or the raw number when it did not parse.
func (p phone) String() string {
	if p.E164 != "" {
		return p.E164
	}
	return p.Raw
}

func newData(ev crm.SMS, c *crm.Contact, ownerID string, loc *time.Location) data {
	d := data{
		Event: event{
			ID:              ev.ID,
			Direction:       ev.Direction,
			Sent:            ev.Direction == "SENT",
			Received:        ev.Direction == "RECEIVED",
			Date:            ev.Date,
			LocalDate:       ev.Date.In(loc),
			Body:            ev.Body,
			UserName:        ev.UserName,
			UserEmail:       ev.UserEmail,
			UserNumber:      phone{ev.UserNumber},
			External:        phone{ev.External},
			ExternalNumber:  phone{ev.External},
			ExternalName:    ev.ExternalName,
			ExternalEmail:   ev.ExternalEmail,
			ExternalCompany: ev.ExternalCompany,
		},
		Owner: ownerID,
		Call:  newCall(ev.Call, loc),
	}
	if c != nil {
		d.Contact = contact{
			ID: c.ID, Kind: c.Kind, Name: c.Name, FirstName: c.FirstName, LastName: c.LastName,
			Email: c.Email, OwnerID: c.OwnerID, CompanyID: c.CompanyID,
		}
	}
	return d
}

// funcs returns the template functions, with formatTime bound to loc.
func funcs(loc *time.Location) template.FuncMap {
	return template.FuncMap{
		"e164":     e164,
		"national": national,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"trim":     strings.TrimSpace,
		"truncate": truncate,
		"default":  dflt,
		"formatTime": func(layout string, t time.Time) string {
			if l, ok := namedLayouts[layout]; ok {
				layout = l
			}
			return t.In(loc).Format(layout)
		},
		"richtext":  richtext,
		"firstName": firstName,
		"lastName":  lastName,
		"join":      joinStrings,
	}
}

var namedLayouts = map[string]string{
	"RFC3339":  time.RFC3339,
	"DateOnly": time.DateOnly,
	"DateTime": time.DateTime,
	"TimeOnly": time.TimeOnly,
	"Kitchen":  time.Kitchen,
}

// toPhone reads a template argument as a phone: a phone, a crm.Phone, or a string (parsed without a region,
// so only international numbers parse).
func toPhone(v any) (crm.Phone, error) {
	switch p := v.(type) {
	case phone:
		return p.Phone, nil
	case crm.Phone:
		return p, nil
	case string:
		return crm.ParsePhone(p, ""), nil
	case nil:
		return crm.Phone{}, nil
	}
	return crm.Phone{}, fmt.Errorf("want a phone number or a string, got %T", v)
}

// e164 returns the number in E.164 form, or as received when it does not parse.
func e164(v any) (string, error) {
	p, err := toPhone(v)
	if err != nil {
		return "", err
	}
	return phone{p}.String(), nil
}

// national returns the number formatted for humans in its own country ("06 12 34 56 78"), or as received
// when it does not parse.
func national(v any) (string, error) {
	p, err := toPhone(v)
	if err != nil {
		return "", err
	}
	return p.Format(), nil
}

// truncate shortens s to at most n runes, the last being "…" when it cut anything.
func truncate(n int, s string) string {
	if n < 0 {
		n = 0
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n == 0 {
		return ""
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// dflt returns v, or def when v is empty (the zero value of its type, or nil).
func dflt(def, v any) any {
	if v == nil {
		return def
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return def
		}
		return s
	}
	if rv := reflect.ValueOf(v); rv.IsZero() {
		return def
	}
	if p, ok := v.(phone); ok && p.String() == "" {
		return def
	}
	return v
}

var richtextReplacer = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
	"\r\n", "<br>", "\r", "<br>", "\n", "<br>",
)

// richtext escapes s for an HTML property and turns its line breaks into <br>.
func richtext(s string) string { return richtextReplacer.Replace(s) }

// firstName returns every word of a full name but the last.
func firstName(name string) string {
	w := strings.Fields(name)
	if len(w) < 2 {
		return ""
	}
	return strings.Join(w[:len(w)-1], " ")
}

// lastName returns the last word of a full name.
func lastName(name string) string {
	w := strings.Fields(name)
	if len(w) == 0 {
		return ""
	}
	return w[len(w)-1]
}

// tmplErr is a template error at a line of the template's own text (1-based).
type tmplErr struct {
	line int
	msg  string
}

var tmplErrRE = regexp.MustCompile(`^template: t:(\d+):(?:\d+:)? ?(.*)$`)

// splitTemplateErr reads the template line out of a text/template error (parse or exec).
func splitTemplateErr(err error) tmplErr {
	msg := err.Error()
	m := tmplErrRE.FindStringSubmatch(msg)
	if m == nil {
		return tmplErr{line: 1, msg: msg}
	}
	n, _ := strconv.Atoi(m[1])
	rest := strings.Replace(m[2], `executing "t" at `, "", 1)
	return tmplErr{line: n, msg: rest}
}

// checkFields walks a parsed template and reports field references that do not exist in data, wherever
// they are (text/template only finds them when it executes that branch). References whose dot is not
// known statically (inside with and range) are left to the sample execution.
func checkFields(t *template.Template) []tmplErr {
	root := reflect.TypeFor[data]()
	var errs []tmplErr
	tree := t.Tree
	report := func(n parse.Node, chain []string, at string) {
		loc, _ := tree.ErrorContext(n)
		line := 1
		if parts := strings.Split(loc, ":"); len(parts) >= 3 {
			line, _ = strconv.Atoi(parts[len(parts)-2])
		}
		errs = append(errs, tmplErr{line: line, msg: fmt.Sprintf("unknown field %s (%s)", "."+strings.Join(chain, "."), at)})
	}
	check := func(n parse.Node, dot reflect.Type, chain []string) {
		t := dot
		for i, name := range chain {
			if t == nil {
				return
			}
			next, ok := lookup(t, name)
			if !ok {
				report(n, chain[:i+1], "known: "+strings.Join(names(t), ", "))
				return
			}
			t = next
		}
	}
	var walk func(n parse.Node, dot reflect.Type)
	walkPipe := func(p *parse.PipeNode, dot reflect.Type) {
		if p == nil {
			return
		}
		for _, c := range p.Cmds {
			walk(c, dot)
		}
	}
	walk = func(n parse.Node, dot reflect.Type) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, dot)
			}
		case *parse.ActionNode:
			walkPipe(n.Pipe, dot)
		case *parse.IfNode:
			walkPipe(n.Pipe, dot)
			walk(n.List, dot)
			walk(n.ElseList, dot)
		case *parse.WithNode:
			walkPipe(n.Pipe, dot)
			walk(n.List, nil)
			walk(n.ElseList, dot)
		case *parse.RangeNode:
			walkPipe(n.Pipe, dot)
			walk(n.List, nil)
			walk(n.ElseList, dot)
		case *parse.TemplateNode:
			walkPipe(n.Pipe, dot)
		case *parse.PipeNode:
			walkPipe(n, dot)
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, dot)
			}
		case *parse.FieldNode:
			check(n, dot, n.Ident)
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				check(n, root, n.Ident[1:])
			}
		case *parse.ChainNode:
			walk(n.Node, dot)
		}
	}
	walk(tree.Root, root)
	return errs
}

// lookup resolves a field or method name on t the way text/template does. A nil type with ok means the
// result is not known statically.
func lookup(t reflect.Type, name string) (reflect.Type, bool) {
	if m, ok := t.MethodByName(name); ok {
		if m.Type.NumOut() == 0 {
			return nil, true
		}
		return m.Type.Out(0), true
	}
	if t.Kind() != reflect.Pointer {
		if m, ok := reflect.PointerTo(t).MethodByName(name); ok && m.Type.NumOut() > 0 {
			return m.Type.Out(0), true
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if f, ok := t.FieldByName(name); ok && f.IsExported() {
			return f.Type, true
		}
		return nil, false
	case reflect.Map:
		return t.Elem(), true
	case reflect.Interface:
		return nil, true
	}
	return nil, false
}

// names lists the exported fields of a struct type, for messages.
func names(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return []string{"none: " + t.String() + " has no fields"}
	}
	var out []string
	for f := range t.Fields() {
		if f.IsExported() && !f.Anonymous {
			out = append(out, f.Name)
		}
	}
	if t == reflect.TypeFor[phone]() {
		out = []string{"Raw", "E164", "National", "Trunk", "Region"}
	}
	return out
}
