// Package page is the admin page: a small server-rendered web UI over a Backend, for the people who own the
// CRM to see whether SMS flow and to act on failures. It owns the HTML, its assets, sign-in and sessions; it
// imports neither connector nor store: the admin package adapts them to Backend.
package page

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options are the page's optional settings.
type Options struct {
	// Token is admin.token: when set, the page asks for it once and keeps a session cookie; when empty the
	// page is open (the admin listener is then loopback only).
	Token string
	// Now is the clock (time.Now when nil): ages, session expiry.
	Now func() time.Time
	// Logger receives one line per action (retry, drop, requeue) and per sign-in; slog.Default() when nil.
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts (12 hours when zero).
	SessionTTL time.Duration
	// Refresh is how often the overview refreshes itself (5 seconds when zero).
	Refresh time.Duration
	// SignInRate limits sign-in attempts per second across all clients (1 when zero, with a burst of 5).
	SignInRate rate.Limit
}

// Handler serves the admin page. It is an http.Handler; mount it at the root of the admin listener.
type Handler struct {
	b        Backend
	parker   Parker // nil when b cannot park
	opt      Options
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	tmpl     map[string]*template.Template
	sessions *sessions
	signIn   *rate.Limiter
}

// Page paths, for links and for mounting the handler under another router.
const (
	PathOverview  = "/"
	PathFragment  = "/overview/fragment"
	PathDead      = "/dead"
	PathQuarant   = "/quarantine"
	PathFind      = "/find"
	PathPreview   = "/preview"
	PathParked    = "/parked"
	PathSignIn    = "/signin"
	PathSignOut   = "/signout"
	PathAssets    = "/assets/"
	cookieSession = "onoffsync_session"
	cookieFlash   = "onoffsync_flash"
)

// Paths lists the path patterns the handler answers (net/http ServeMux syntax), so a router in front of it can
// send exactly those here.
func Paths() []string {
	return []string{"GET /{$}", "GET " + PathFragment, "GET " + PathDead, "POST " + PathDead + "/retry",
		"POST " + PathDead + "/drop", "GET " + PathQuarant, "GET " + PathQuarant + "/{seq}",
		"POST " + PathQuarant + "/{seq}/requeue", "POST " + PathQuarant + "/{seq}/drop", "GET " + PathFind,
		"GET " + PathPreview, "POST " + PathPreview, "GET " + PathParked, "GET " + PathSignIn, "POST " + PathSignIn,
		"POST " + PathSignOut, "GET " + PathAssets + "{file}"}
}

// New returns the page over b. It panics only if the embedded templates are broken (a build mistake that every
// test catches).
func New(b Backend, opt Options) *Handler {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.Refresh <= 0 {
		opt.Refresh = 5 * time.Second
	}
	if opt.SignInRate <= 0 {
		opt.SignInRate = 1
	}
	h := &Handler{b: b, opt: opt, log: opt.Logger, now: opt.Now, mux: http.NewServeMux(),
		sessions: newSessions(), signIn: rate.NewLimiter(opt.SignInRate, 5)}
	h.parker, _ = b.(Parker)
	h.tmpl = h.parseTemplates()

	m := h.mux
	m.Handle("GET /{$}", h.page(h.overview))
	m.Handle("GET "+PathFragment, h.data(h.fragment))
	m.Handle("GET "+PathDead, h.page(h.dead))
	m.Handle("POST "+PathDead+"/retry", h.action(h.deadAction("retry")))
	m.Handle("POST "+PathDead+"/drop", h.action(h.deadAction("drop")))
	m.Handle("GET "+PathQuarant, h.page(h.quarantine))
	m.Handle("GET "+PathQuarant+"/{seq}", h.page(h.quarantined))
	m.Handle("POST "+PathQuarant+"/{seq}/requeue", h.action(h.requeue))
	m.Handle("POST "+PathQuarant+"/{seq}/drop", h.action(h.dropQuarantined))
	m.Handle("GET "+PathFind, h.page(h.find))
	m.Handle("GET "+PathPreview, h.page(h.previewForm))
	m.Handle("POST "+PathPreview, h.action(h.preview))
	m.Handle("GET "+PathParked, h.page(h.parked))
	m.HandleFunc("GET "+PathSignIn, h.signInForm)
	m.HandleFunc("POST "+PathSignIn, h.signInPost)
	m.HandleFunc("POST "+PathSignOut, h.signOut)
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/assets", http.FileServerFS(assets))
	m.Handle("GET "+PathAssets+"{file}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "No such page.")
	})
	return h
}

// csp allows nothing but the page's own files: no inline script or style, no frames, forms only to itself.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// ServeHTTP sets the security headers every answer carries, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if h.opt.Token == "" && !addressHost(r.Host) {
		// An open page reached under a name may be a DNS rebinding: a site whose name now points at 127.0.0.1
		// would be same-origin with it, and could read it and act on it.
		h.fail(w, r, http.StatusForbidden, "Refused: without admin.token the page answers only at an IP address or localhost.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// view is what every template gets.
type view struct {
	Title   string
	Nav     string
	Open    bool // no token: no sign-in, no sign-out
	Parking bool
	Flash   string
	Refresh int // overview refresh period in milliseconds
	Now     time.Time
	Data    any
	Problem string // an error to show instead of (or above) the data
}

func (h *Handler) newView(r *http.Request, title, nav string, data any) *view {
	return &view{Title: title, Nav: nav, Open: h.opt.Token == "", Parking: h.parker != nil, Now: h.now(),
		Data: data, Refresh: int(h.opt.Refresh / time.Millisecond)}
}

// page wraps a GET handler of a data page: the session is required (else to the sign-in form) and the answer
// is not cached.
func (h *Handler) page(fn func(http.ResponseWriter, *http.Request) (*view, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if _, ok := h.session(r); !ok {
			http.Redirect(w, r, PathSignIn+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		v, err := fn(w, r)
		if err != nil {
			h.fail(w, r, statusOf(err), err.Error())
			return
		}
		if v == nil {
			return
		}
		v.Flash = h.takeFlash(w, r)
		h.render(w, http.StatusOK, v.Nav, v)
	})
}

// data wraps a GET handler of a fragment fetched by script: 401 without a session, so the script can send the
// browser to the sign-in form.
func (h *Handler) data(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if _, ok := h.session(r); !ok {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		fn(w, r)
	})
}

// action wraps a state-changing request: it must come from this page's own origin and carry a session.
func (h *Handler) action(fn func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := sameOrigin(r); err != nil {
			h.log.Warn("admin page: refused a cross-origin request", "path", r.URL.Path, "origin", r.Header.Get("Origin"),
				"remote", r.RemoteAddr, "reason", err.Error())
			h.fail(w, r, http.StatusForbidden, "Refused: "+err.Error()+".")
			return
		}
		who, ok := h.session(r)
		if !ok {
			h.fail(w, r, http.StatusForbidden, "Refused: sign in first.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
			return
		}
		fn(w, r, who)
	})
}

// statusOf is the one place Backend errors become HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	v := h.newView(r, http.StatusText(status), "error", nil)
	_, signed := h.session(r)
	v.Open = v.Open || !signed // no sign-out button for strangers
	v.Problem = msg
	h.render(w, status, "error", v)
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, v *view) {
	t := h.tmpl[name]
	if t == nil {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		h.log.Error("admin page: render", "template", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// flash keeps a one-line result for the next page shown (after a redirect) in a short-lived cookie.
func (h *Handler) flash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{Name: cookieFlash, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(cookieFlash)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: cookieFlash, Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	msg, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	return msg
}

// ---- overview

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) (*view, error) {
	ov, err := h.b.Overview(r.Context())
	if err != nil {
		return nil, err
	}
	return h.newView(r, "Overview", "overview", ov), nil
}

func (h *Handler) fragment(w http.ResponseWriter, r *http.Request) {
	v := h.newView(r, "Overview", "overview", nil)
	ov, err := h.b.Overview(r.Context())
	if err != nil {
		v.Problem = err.Error()
	} else {
		v.Data = ov
	}
	var b strings.Builder
	if err := h.tmpl["overview"].ExecuteTemplate(&b, "overview-body", v); err != nil {
		h.log.Error("admin page: render", "template", "overview-body", "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}

// ---- dead letters

type deadView struct {
	Filter       DeadFilter
	Letters      []DeadLetter
	Destinations []string
	Codes        []string
	Query        string // the filter as a query string, to come back to after an action
	Limit        int
	Full         bool // as many rows as the limit: there may be more
}

const defaultLimit, maxLimit = 100, 1000

func limitOf(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 {
		return defaultLimit
	}
	return min(n, maxLimit)
}

func deadFilter(q url.Values) DeadFilter {
	return DeadFilter{Destination: strings.TrimSpace(q.Get("destination")), Code: strings.TrimSpace(q.Get("code")),
		OnoffID: strings.TrimSpace(q.Get("id")), Number: strings.TrimSpace(q.Get("number"))}
}

// filterQuery is the inverse of deadFilter (with the limit), dropping empty fields.
func filterQuery(f DeadFilter) string {
	q := url.Values{}
	for k, v := range map[string]string{"destination": f.Destination, "code": f.Code, "id": f.OnoffID, "number": f.Number} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != 0 && f.Limit != defaultLimit {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q.Encode()
}

func (h *Handler) dead(w http.ResponseWriter, r *http.Request) (*view, error) {
	f := deadFilter(r.URL.Query())
	f.Limit = limitOf(r)
	list, err := h.b.DeadLetters(r.Context(), f)
	if err != nil {
		return nil, err
	}
	ov, err := h.b.Overview(r.Context())
	if err != nil {
		return nil, err
	}
	dv := deadView{Filter: f, Letters: list, Query: filterQuery(f), Limit: f.Limit, Full: len(list) >= f.Limit}
	for _, d := range ov.Destinations {
		dv.Destinations = append(dv.Destinations, d.Name)
	}
	codes := map[string]bool{}
	for _, d := range list {
		if c := codeOf(d.Failure); c != "" {
			codes[c] = true
		}
	}
	for c := range codes {
		dv.Codes = append(dv.Codes, c)
	}
	sort.Strings(dv.Codes)
	return h.newView(r, "Dead letters", "dead", dv), nil
}

// refValue is how a dead letter is named in a form: "seq:destination" (seq has no colon, a name may).
func refValue(d DeadRef) string { return strconv.FormatUint(d.Seq, 10) + ":" + d.Destination }

func parseRef(s string) (DeadRef, error) {
	seq, dest, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || dest == "" {
		return DeadRef{}, fmt.Errorf("%w: %q does not name a dead letter", ErrBadRequest, s)
	}
	return DeadRef{Destination: dest, Seq: n}, nil
}

func (h *Handler) deadAction(what string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		var refs []DeadRef
		for _, s := range r.PostForm["ref"] {
			ref, err := parseRef(s)
			if err != nil {
				h.fail(w, r, http.StatusBadRequest, err.Error())
				return
			}
			refs = append(refs, ref)
		}
		if len(refs) == 0 {
			h.fail(w, r, http.StatusBadRequest, "Select at least one dead letter.")
			return
		}
		act, past := h.b.RetryDead, "Retried"
		if what == "drop" {
			act, past = h.b.DropDead, "Dropped"
		}
		n, err := act(r.Context(), refs)
		h.log.Info("admin page: dead letters "+what, "session", who, "remote", r.RemoteAddr, "selected", len(refs),
			"changed", n, "refs", refList(refs), "err", errText(err))
		if err != nil {
			h.fail(w, r, statusOf(err), err.Error())
			return
		}
		h.flash(w, r, fmt.Sprintf("%s %d of %d dead letter%s.", past, n, len(refs), plural(len(refs))))
		back := PathDead
		if q := filterQuery(deadFilter(backQuery(r))); q != "" {
			back += "?" + q
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

// backQuery is the filter the action came from (a form field), never a URL to follow.
func backQuery(r *http.Request) url.Values {
	q, err := url.ParseQuery(r.PostForm.Get("back"))
	if err != nil {
		return url.Values{}
	}
	return q
}

func refList(refs []DeadRef) string {
	const most = 20
	var b strings.Builder
	for i, r := range refs {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(refs)-most)
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s/%d", r.Destination, r.Seq)
	}
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ---- quarantine

func (h *Handler) quarantine(w http.ResponseWriter, r *http.Request) (*view, error) {
	list, err := h.b.Quarantine(r.Context(), limitOf(r))
	if err != nil {
		return nil, err
	}
	return h.newView(r, "Quarantine", "quarantine", list), nil
}

func seqOf(r *http.Request) (uint64, error) {
	n, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q is not an event number", ErrBadRequest, r.PathValue("seq"))
	}
	return n, nil
}

func (h *Handler) quarantined(w http.ResponseWriter, r *http.Request) (*view, error) {
	seq, err := seqOf(r)
	if err != nil {
		return nil, err
	}
	q, err := h.b.QuarantinedEvent(r.Context(), seq)
	if err != nil {
		return nil, err
	}
	return h.newView(r, fmt.Sprintf("Quarantined event %d", seq), "quarantined", q), nil
}

func (h *Handler) requeue(w http.ResponseWriter, r *http.Request, who string) {
	seq, err := seqOf(r)
	if err != nil {
		h.fail(w, r, statusOf(err), err.Error())
		return
	}
	q, err := h.b.Requeue(r.Context(), seq)
	h.log.Info("admin page: quarantine requeue", "session", who, "remote", r.RemoteAddr, "seq", seq,
		"status", q.Status, "err", errText(err))
	if err != nil {
		h.fail(w, r, statusOf(err), err.Error())
		return
	}
	if q.Status == "quarantined" || len(q.Problems) > 0 {
		h.flash(w, r, fmt.Sprintf("Event %d is still invalid: %s", seq, problemText(q.Problems)))
		http.Redirect(w, r, fmt.Sprintf("%s/%d", PathQuarant, seq), http.StatusSeeOther)
		return
	}
	h.flash(w, r, fmt.Sprintf("Event %d requeued: %s.", seq, q.Status))
	http.Redirect(w, r, PathQuarant, http.StatusSeeOther)
}

func problemText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+p[k])
	}
	return strings.Join(parts, "; ")
}

func (h *Handler) dropQuarantined(w http.ResponseWriter, r *http.Request, who string) {
	seq, err := seqOf(r)
	if err != nil {
		h.fail(w, r, statusOf(err), err.Error())
		return
	}
	err = h.b.DropQuarantined(r.Context(), seq)
	h.log.Info("admin page: quarantine drop", "session", who, "remote", r.RemoteAddr, "seq", seq, "err", errText(err))
	if err != nil {
		h.fail(w, r, statusOf(err), err.Error())
		return
	}
	h.flash(w, r, fmt.Sprintf("Event %d dropped.", seq))
	http.Redirect(w, r, PathQuarant, http.StatusSeeOther)
}

// ---- find

type findView struct {
	Query string
	Found []Found
}

func (h *Handler) find(w http.ResponseWriter, r *http.Request) (*view, error) {
	fv := findView{Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	if fv.Query != "" {
		var err error
		if fv.Found, err = h.b.Find(r.Context(), fv.Query, 50); err != nil {
			return nil, err
		}
	}
	return h.newView(r, "Find an SMS", "find", fv), nil
}

// ---- mapping preview

type previewView struct {
	Destinations []string
	Destination  string
	Payload      string
	Result       *Preview
}

func (h *Handler) previewDests(r *http.Request) ([]string, error) {
	ov, err := h.b.Overview(r.Context())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ov.Destinations {
		if d.Type != "(not configured)" {
			out = append(out, d.Name)
		}
	}
	return out, nil
}

func (h *Handler) previewForm(w http.ResponseWriter, r *http.Request) (*view, error) {
	dests, err := h.previewDests(r)
	if err != nil {
		return nil, err
	}
	return h.newView(r, "Mapping preview", "preview", previewView{Destinations: dests, Destination: r.URL.Query().Get("destination")}), nil
}

func (h *Handler) preview(w http.ResponseWriter, r *http.Request, _ string) {
	w.Header().Set("Cache-Control", "no-store")
	dests, err := h.previewDests(r)
	if err != nil {
		h.fail(w, r, statusOf(err), err.Error())
		return
	}
	pv := previewView{Destinations: dests, Destination: r.PostForm.Get("destination"), Payload: r.PostForm.Get("payload")}
	res, err := h.b.Preview(r.Context(), pv.Destination, []byte(pv.Payload))
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			h.fail(w, r, http.StatusInternalServerError, err.Error())
			return
		}
		res = Preview{Errors: []string{err.Error()}}
	}
	pv.Result = &res
	h.render(w, http.StatusOK, "preview", h.newView(r, "Mapping preview", "preview", pv))
}

// ---- parked

func (h *Handler) parked(w http.ResponseWriter, r *http.Request) (*view, error) {
	if h.parker == nil {
		return nil, fmt.Errorf("%w: this server does not park jobs", ErrNotFound)
	}
	list, err := h.parker.Parked(r.Context(), limitOf(r))
	if err != nil {
		return nil, err
	}
	return h.newView(r, "Parked", "parked", list), nil
}
