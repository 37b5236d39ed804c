package page

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
)

var pageNames = []string{"overview", "dead", "quarantine", "quarantined", "find", "preview", "parked", "signin", "error"}

func (h *Handler) parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":     when,
		"ago":      func(t time.Time) string { return ago(h.now(), t) },
		"explain":  explain,
		"code":     codeOf,
		"ref":      refValue,
		"rate":     rateText,
		"problems": sortedProblems,
		"query":    filterQuery,
		"dir":      direction,
		"state":    stateText,
		"plural":   plural,
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// when is an absolute time for people: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long before now t was, roughly: "42s", "3m", "2h 5m", "3d 4h".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return span(now.Sub(t))
}

func span(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if neg {
		return "in " + s
	}
	return s
}

func rateText(f float64) string {
	if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return "—"
	}
	if f >= 10 {
		return fmt.Sprintf("%.0f/s", f)
	}
	return fmt.Sprintf("%.2g/s", f)
}

// codeOf is how a failure is named in the list and in the filter: the CRM's code, else its HTTP status, else
// its kind.
func codeOf(f Failure) string {
	switch {
	case f.Code != "":
		return f.Code
	case f.Status != 0:
		return fmt.Sprintf("HTTP %d", f.Status)
	}
	return f.Kind
}

// explain says in plain words why a job was given up, for someone who owns the CRM but not the code.
func explain(f Failure) string {
	switch strings.ToUpper(f.Code) {
	case "CONTACT_GONE":
		return "The contact this SMS was to be logged on was deleted or merged in the CRM."
	case "VALIDATION_ERROR", "INVALID_FIELD", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "REQUIRED_FIELD_MISSING",
		"STRING_TOO_LONG", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST":
		return "The CRM refused a field the mapping filled: check the mapping against the CRM's fields."
	case "BAD_FIELD", "BAD_PHONE_FIELD", "INVALID_ID_FIELD", "INVALID_PHONE_FIELD", "NO_ID_FIELD":
		return "The mapping names a field the CRM does not have: fix the mapping, then retry."
	case "INVALID_AUTHENTICATION", "INVALID_SESSION_ID", "JWT_SIGN":
		return "The CRM refused onoffsync's credentials: renew the token or key, then retry."
	case "DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "MULTIPLE_CHOICES":
		return "The CRM found more than one matching record, so onoffsync could not tell where to log it."
	}
	switch s := f.Status; {
	case s == http.StatusUnauthorized:
		return "The CRM refused onoffsync's credentials: renew the token or key, then retry."
	case s == http.StatusForbidden:
		return "The CRM user onoffsync signs in as may not do this: check its permissions or scopes."
	case s == http.StatusNotFound:
		return "The CRM record it refers to does not exist (any more)."
	case s == http.StatusConflict:
		return "The CRM reported a conflict with an existing record."
	case s == http.StatusRequestEntityTooLarge:
		return "The SMS is too large for the CRM."
	case s == http.StatusTooManyRequests:
		return "The CRM's rate limit refused it every time."
	case s >= 500:
		return fmt.Sprintf("The CRM failed on its side (HTTP %d) on every attempt.", s)
	case s >= 400:
		return fmt.Sprintf("The CRM refused it as invalid (HTTP %d).", s)
	case f.Kind == "retry":
		return "The CRM could not be reached (network error or timeout) on every attempt."
	case f.Kind == "pause":
		return "The destination was paused (credentials or quota) and this job ran out of attempts."
	}
	if f.Message == "" {
		return "No error was recorded."
	}
	return "The CRM refused it."
}

func direction(s SMS) string {
	switch strings.ToUpper(s.Direction) {
	case "SENT":
		return "sent"
	case "RECEIVED":
		return "received"
	}
	return strings.ToLower(s.Direction)
}

var stateWords = map[string]string{"pending": "waiting", "in_flight": "being sent", "retrying": "will retry",
	"done": "logged", "skipped": "skipped by the mapping", "dead": "dead letter",
	"parked": "parked until its contact exists"}

func stateText(s string) string {
	if w, ok := stateWords[s]; ok {
		return w
	}
	return s
}

type problem struct{ Field, Problem string }

func sortedProblems(p map[string]string) []problem {
	out := make([]problem, 0, len(p))
	for k, v := range p {
		out = append(out, problem{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
