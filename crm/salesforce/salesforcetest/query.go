package salesforcetest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// token kinds of the SOQL/SOSL lexer.
const (
	tIdent = iota
	tString
	tNumber
	tPunct
	tDate // a date (2026-12-01) or dateTime (2026-12-01T18:00:00Z, ...+01:00) literal, unquoted
	tEOF
)

type tok struct {
	kind int
	text string // identifier, unescaped string, number or punctuation
}

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// lex splits SOQL (or SOSL after the search string). String literals use single quotes with backslash
// escapes \\ \' \" \n \r \t \b \f \_ \%; anything else is a syntax error, as is an unterminated literal.
func lex(s string) ([]tok, error) {
	var out []tok
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				if rs[i] == '\\' {
					if i+1 >= len(rs) {
						break
					}
					e := rs[i+1]
					switch e {
					case '\\', '\'', '"', '_', '%':
						b.WriteRune(e)
					case 'n':
						b.WriteRune('\n')
					case 'r':
						b.WriteRune('\r')
					case 't':
						b.WriteRune('\t')
					case 'b':
						b.WriteRune('\b')
					case 'f':
						b.WriteRune('\f')
					default:
						return nil, &syntaxError{fmt.Sprintf("Invalid string literal: bad escape \\%c", e)}
					}
					i += 2
					continue
				}
				if rs[i] == '\'' {
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
				i++
			}
			if !closed {
				return nil, &syntaxError{"unexpected token: unterminated string literal"}
			}
			out = append(out, tok{tString, b.String()})
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '.') {
				j++
			}
			out = append(out, tok{tIdent, string(rs[i:j])})
			i = j
		case unicode.IsDigit(c):
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			if j-i == 4 && j < len(rs) && rs[j] == '-' { // a date or dateTime literal
				for j < len(rs) && (unicode.IsDigit(rs[j]) || strings.ContainsRune("-T:.Z+", rs[j])) {
					j++
				}
				out = append(out, tok{tDate, string(rs[i:j])})
				i = j
				continue
			}
			out = append(out, tok{tNumber, string(rs[i:j])})
			i = j
		case (c == '<' || c == '>' || c == '!') && i+1 < len(rs) && rs[i+1] == '=':
			out = append(out, tok{tPunct, string(rs[i : i+2])})
			i += 2
		case strings.ContainsRune("(),=<>", c):
			out = append(out, tok{tPunct, string(c)})
			i++
		default:
			return nil, &syntaxError{fmt.Sprintf("unexpected token: '%c'", c)}
		}
	}
	return append(out, tok{kind: tEOF}), nil
}

type parser struct {
	toks []tok
	pos  int
}

func (p *parser) peek() tok { return p.toks[p.pos] }
func (p *parser) next() tok {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectKeyword(k string) error {
	if !p.keyword(k) {
		return p.unexpected()
	}
	return nil
}

func (p *parser) punct(c string) bool {
	if t := p.peek(); t.kind == tPunct && t.text == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectPunct(c string) error {
	if !p.punct(c) {
		return p.unexpected()
	}
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tEOF {
		return &syntaxError{"unexpected end of query"}
	}
	return &syntaxError{fmt.Sprintf("unexpected token: '%s'", t.text)}
}

func (p *parser) ident() (string, error) {
	t := p.next()
	if t.kind != tIdent {
		p.pos--
		return "", p.unexpected()
	}
	return t.text, nil
}

// value is a parsed literal: a string, a bool, nil or a number.
func (p *parser) literal() (any, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return t.text, nil
	case tNumber:
		n, _ := strconv.Atoi(t.text)
		return n, nil
	case tDate:
		return parseDateLit(t.text)
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
	}
	if t.kind != tEOF {
		p.pos--
	}
	return nil, p.unexpected()
}

// cond is `Field = lit`, `Field IN (lits)` or a comparison (`Field >= lit`, >, <, <=, !=).
type cond struct {
	field string
	op    string // "=" (also IN), ">=", ">", "<", "<=", "!="
	vals  []any
}

// dateLit is a SOQL date or dateTime literal.
type dateLit struct {
	t        time.Time
	dateOnly bool
}

// parseDateLit reads a date (YYYY-MM-DD) or a dateTime (YYYY-MM-DDThh:mm:ss[.sss], then Z or ±hh:mm) literal,
// as SOQL writes them; anything else is a MALFORMED_QUERY.
func parseDateLit(s string) (any, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return dateLit{t: t, dateOnly: true}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.000Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return dateLit{t: t}, nil
		}
	}
	return nil, &syntaxError{fmt.Sprintf("line 1:0 no viable alternative at character '%s': invalid date or dateTime literal", s)}
}

// selection is `fields FROM obj [WHERE conds] [LIMIT n]` (SOQL) or `obj(fields [WHERE ...] [LIMIT n])` (SOSL).
type selection struct {
	obj    string
	fields []string
	where  []cond
	limit  int
}

func (p *parser) fieldList() ([]string, error) {
	var fs []string
	for {
		f, err := p.ident()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
		if !p.punct(",") {
			return fs, nil
		}
	}
}

func (p *parser) whereLimit(sel *selection) error {
	if p.keyword("WHERE") {
		for {
			f, err := p.ident()
			if err != nil {
				return err
			}
			c := cond{field: f, op: "="}
			switch {
			case p.punct("="):
				v, err := p.literal()
				if err != nil {
					return err
				}
				c.vals = []any{v}
			case p.punct(">=") || p.punct("<=") || p.punct("!=") || p.punct(">") || p.punct("<"):
				c.op = p.toks[p.pos-1].text
				v, err := p.literal()
				if err != nil {
					return err
				}
				c.vals = []any{v}
			case p.keyword("IN"):
				if err := p.expectPunct("("); err != nil {
					return err
				}
				for {
					v, err := p.literal()
					if err != nil {
						return err
					}
					c.vals = append(c.vals, v)
					if p.punct(")") {
						break
					}
					if err := p.expectPunct(","); err != nil {
						return err
					}
				}
			default:
				return p.unexpected()
			}
			sel.where = append(sel.where, c)
			if !p.keyword("AND") {
				break
			}
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		if t.kind != tNumber {
			p.pos--
			return p.unexpected()
		}
		sel.limit, _ = strconv.Atoi(t.text)
	}
	return nil
}

func parseSOQL(q string) (selection, error) {
	toks, err := lex(q)
	if err != nil {
		return selection{}, err
	}
	p := &parser{toks: toks}
	var sel selection
	if err := p.expectKeyword("SELECT"); err != nil {
		return sel, err
	}
	if sel.fields, err = p.fieldList(); err != nil {
		return sel, err
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return sel, err
	}
	if sel.obj, err = p.ident(); err != nil {
		return sel, err
	}
	if err := p.whereLimit(&sel); err != nil {
		return sel, err
	}
	if p.peek().kind != tEOF {
		return sel, p.unexpected()
	}
	return sel, nil
}

// soslReserved are SOSL's reserved characters; the fake requires them escaped in the search string.
const soslReserved = `&|!(){}[]^"~*?:\'+-`

type sosl struct {
	terms   []string
	returns []selection
}

// parseSOSL reads `FIND {t1 OR t2 ...} IN PHONE FIELDS RETURning Obj(fields [WHERE ...] [LIMIT n]), ...`.
// An unescaped reserved character in the search string is a MALFORMED_SEARCH.
func parseSOSL(q string) (sosl, error) {
	var out sosl
	rest := strings.TrimLeftFunc(q, unicode.IsSpace)
	if len(rest) < 4 || !strings.EqualFold(rest[:4], "FIND") {
		return out, &syntaxError{"No search term found. The search term must be enclosed in braces."}
	}
	rest = strings.TrimLeftFunc(rest[4:], unicode.IsSpace)
	if !strings.HasPrefix(rest, "{") {
		return out, &syntaxError{"No search term found. The search term must be enclosed in braces."}
	}
	rs := []rune(rest[1:])
	var words []string
	var cur strings.Builder
	escaped := false // cur holds an escaped character (so "OR" written with escapes is a term)
	end := -1
	flush := func() {
		if cur.Len() > 0 {
			w := cur.String()
			if !escaped && strings.EqualFold(w, "OR") {
				w = "\x00OR"
			}
			words = append(words, w)
		}
		cur.Reset()
		escaped = false
	}
	for i := 0; i < len(rs) && end < 0; i++ {
		c := rs[i]
		switch {
		case c == '\\':
			if i+1 >= len(rs) {
				return out, &syntaxError{"Invalid search string: trailing backslash"}
			}
			cur.WriteRune(rs[i+1])
			escaped = true
			i++
		case c == '}':
			flush()
			end = i
		case strings.ContainsRune(soslReserved, c):
			return out, &syntaxError{fmt.Sprintf("line 1:%d mismatched character '%c': reserved characters must be escaped", i+6, c)}
		case unicode.IsSpace(c):
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	if end < 0 {
		return out, &syntaxError{"Invalid search string: missing closing brace"}
	}
	for i, w := range words {
		isOr := w == "\x00OR"
		if isOr != (i%2 == 1) || (i == len(words)-1 && isOr) {
			return out, &syntaxError{"Invalid search string: the fake accepts only `term OR term ...`"}
		}
		if !isOr {
			if len([]rune(w)) < 2 {
				return out, &syntaxError{"search term must be longer than one character: " + w}
			}
			out.terms = append(out.terms, w)
		}
	}
	if len(out.terms) == 0 {
		return out, &syntaxError{"No search term found"}
	}
	toks, err := lex(string(rs[end+1:]))
	if err != nil {
		return out, err
	}
	p := &parser{toks: toks}
	for _, k := range []string{"IN", "PHONE", "FIELDS", "RETURNING"} {
		if err := p.expectKeyword(k); err != nil {
			return out, err
		}
	}
	for {
		var sel selection
		if sel.obj, err = p.ident(); err != nil {
			return out, err
		}
		if err := p.expectPunct("("); err != nil {
			return out, err
		}
		if sel.fields, err = p.fieldList(); err != nil {
			return out, err
		}
		if err := p.whereLimit(&sel); err != nil {
			return out, err
		}
		if err := p.expectPunct(")"); err != nil {
			return out, err
		}
		out.returns = append(out.returns, sel)
		if !p.punct(",") {
			break
		}
	}
	if p.peek().kind != tEOF {
		return out, p.unexpected()
	}
	return out, nil
}

// matches evaluates the WHERE conditions on a record view.
func matches(f map[string]any, where []cond) bool {
	for _, c := range where {
		ok := false
		switch c.op {
		case "=":
			for _, v := range c.vals {
				ok = ok || equal(f[c.field], v)
			}
		case "!=":
			ok = !equal(f[c.field], c.vals[0])
		default:
			ok = compare(f[c.field], c.vals[0], c.op)
		}
		if !ok {
			return false
		}
	}
	return true
}

// compare applies >=, >, <, <= to a stored date, dateTime or number and a literal; a null never compares.
func compare(have, lit any, op string) bool {
	var d int
	switch l := lit.(type) {
	case dateLit:
		t, ok := storedTime(have, l.dateOnly)
		if !ok {
			return false
		}
		d = t.Compare(l.t)
	case int:
		h, err := strconv.Atoi(fmt.Sprint(have))
		if err != nil {
			return false
		}
		d = h - l
	case string:
		h, ok := have.(string)
		if !ok {
			return false
		}
		d = strings.Compare(h, l)
	default:
		return false
	}
	switch op {
	case ">=":
		return d >= 0
	case ">":
		return d > 0
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	}
	return false
}

// storedTime reads a stored date ("2026-12-01") or dateTime ("2026-12-01T18:00:00.000+0000"); dateOnly cuts a
// dateTime to its UTC day.
func storedTime(have any, dateOnly bool) (time.Time, bool) {
	s, ok := have.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02T15:04:05.000-0700", s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, false
		}
	}
	if dateOnly {
		t = time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	}
	return t, true
}

func equal(have, lit any) bool {
	switch l := lit.(type) {
	case dateLit:
		t, ok := storedTime(have, l.dateOnly)
		return ok && t.Equal(l.t)
	case nil:
		return have == nil || have == ""
	case string:
		h, ok := have.(string)
		return ok && strings.EqualFold(h, l)
	case bool:
		h, _ := have.(bool)
		return h == l
	case int:
		return fmt.Sprint(have) == strconv.Itoa(l)
	}
	return false
}

// checkFields answers INVALID_FIELD, in Salesforce's words, for fields the object does not have (or the
// integration user cannot see). q is the query, to point at the column.
func (s *Server) checkFields(sel selection, q string) error {
	if !s.hasObject(sel.obj) {
		return &fieldError{"INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", sel.obj)}
	}
	check := func(f string) error {
		if _, ok := s.field(sel.obj, f); !ok {
			return &fieldError{"INVALID_FIELD", fmt.Sprintf("ERROR at Row:1:Column:%d\nNo such column '%s' on entity '%s'. "+
				"If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "+
				"Please reference your WSDL or the describe call for the appropriate names.", strings.Index(q, f)+1, f, sel.obj)}
		}
		return nil
	}
	for _, f := range sel.fields {
		if err := check(f); err != nil {
			return err
		}
	}
	for _, c := range sel.where {
		if err := check(c.field); err != nil {
			return err
		}
		// A long text area (Task.Description, 32,000) cannot be filtered on (INVALID_FIELD, Salesforce's words).
		if fd, _ := s.field(sel.obj, c.field); fd.Type == "textarea" && fd.Length > 255 {
			return &fieldError{"INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:%d\nfield '%s' can not be filtered in query call",
				q, strings.Index(q, c.field)+1, c.field)}
		}
	}
	return nil
}

type fieldError struct{ code, msg string }

func (e *fieldError) Error() string { return e.msg }

func project(obj, id string, f map[string]any, fields []string, version string) map[string]any {
	out := map[string]any{"attributes": map[string]string{"type": obj,
		"url": "/services/data/" + version + "/sobjects/" + obj + "/" + id}}
	for _, k := range fields {
		out[k] = f[k]
	}
	return out
}

// query is GET .../query?q=SOQL.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	sel, err := parseSOQL(q)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
		return
	}
	if err := s.checkFields(sel, q); err != nil {
		fe := err.(*fieldError)
		writeErr(w, http.StatusBadRequest, fe.code, fe.msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := []map[string]any{}
	for _, id := range s.byType[sel.obj] {
		rec := s.recs[id]
		if rec.deleted {
			continue
		}
		v := s.view(id, rec)
		if !matches(v, sel.where) {
			continue
		}
		if sel.limit > 0 && len(recs) >= sel.limit {
			break
		}
		recs = append(recs, project(sel.obj, id, v, sel.fields, r.PathValue("v")))
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalSize": len(recs), "done": true, "records": recs})
}

// search is GET .../search?q=SOSL: a record matches when one of its phone fields, stripped to digits,
// equals a search term.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("q")
	q, err := parseSOSL(raw)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "MALFORMED_SEARCH", err.Error())
		return
	}
	for _, sel := range q.returns {
		if err := s.checkFields(sel, raw); err != nil {
			fe := err.(*fieldError)
			writeErr(w, http.StatusBadRequest, fe.code, fe.msg)
			return
		}
	}
	terms := map[string]bool{}
	for _, t := range q.terms {
		terms[t] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Candidates from the phone index (phones as created), in creation order; seeded records edited later
	// are not re-indexed, as the fake never edits phones.
	cand := map[string]bool{}
	for t := range terms {
		for _, id := range s.phones[t] {
			cand[id] = true
		}
	}
	hits := []map[string]any{}
	for _, sel := range q.returns {
		n := 0
		for _, id := range s.byType[sel.obj] {
			if !cand[id] {
				continue
			}
			rec := s.recs[id]
			if rec.typ != sel.obj || !s.searchable(rec) {
				continue
			}
			if !s.phoneMatch(sel.obj, rec.fields, terms) {
				continue
			}
			v := s.view(id, rec)
			if !matches(v, sel.where) {
				continue
			}
			if sel.limit > 0 && n >= sel.limit {
				break
			}
			n++
			hits = append(hits, project(sel.obj, id, v, sel.fields, r.PathValue("v")))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"searchRecords": hits})
}

func (s *Server) phoneMatch(obj string, f map[string]any, terms map[string]bool) bool {
	for _, pf := range s.phoneFields(obj) {
		s, _ := f[pf].(string)
		if d := digits(s); d != "" && terms[d] {
			return true
		}
	}
	return false
}

func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
