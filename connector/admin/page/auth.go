package page

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// sessions are the signed-in browsers, in memory: a restart signs everyone out, which is fine for a page
// used by a few admins.
type sessions struct {
	mu  sync.Mutex
	exp map[string]time.Time // by the hash of the cookie value
}

func newSessions() *sessions { return &sessions{exp: map[string]time.Time{}} }

// sessionID is what logs show of a session: a short hash of its cookie, which cannot be used to sign in.
func sessionID(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])[:12]
}

func (s *sessions) add(cookie string, until, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.exp {
		if !now.Before(t) {
			delete(s.exp, k)
		}
	}
	s.exp[sessionID(cookie)] = until
}

func (s *sessions) valid(cookie string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.exp[sessionID(cookie)]
	return ok && now.Before(t)
}

func (s *sessions) remove(cookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.exp, sessionID(cookie))
}

// openSession is who acts when no token is set (the page is open on loopback).
const openSession = "open"

// session returns who is signed in (the session's short hash, or openSession when the page is open).
func (h *Handler) session(r *http.Request) (string, bool) {
	if h.opt.Token == "" {
		return openSession, true
	}
	c, err := r.Cookie(cookieSession)
	if err != nil || c.Value == "" || !h.sessions.valid(c.Value, h.now()) {
		return "", false
	}
	return sessionID(c.Value), true
}

// addressHost says whether a Host header names an IP address or localhost, not a DNS name.
func addressHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

// isHTTPS says whether the browser reached the page over HTTPS: directly, or through a proxy that says so.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// sameOrigin refuses a state-changing request that a browser sent from another origin, or that does not say
// where it comes from. Browsers send Origin with every POST; Sec-Fetch-Site, when present, must agree. The
// origin's host must be the request's Host, or the X-Forwarded-Host of a proxy that rewrites Host (a page on
// another site cannot set that header on a form post or a simple fetch).
func sameOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errors.New("the request came from another site (" + site + ")")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return errors.New("the request has no Origin header")
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("the request's Origin is not a web page")
	}
	fwd := strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Host"), ",")[0])
	if !strings.EqualFold(u.Host, r.Host) && (fwd == "" || !strings.EqualFold(u.Host, fwd)) {
		return errors.New("the request came from another origin")
	}
	return nil
}

type signInView struct {
	Next  string
	Wrong bool
}

// nextPath is where to go after signing in: a path on this page, never another site.
func nextPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.HasPrefix(s, PathSignIn) {
		return PathOverview
	}
	u, err := url.Parse(s)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return PathOverview
	}
	return u.RequestURI()
}

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	next := nextPath(r.URL.Query().Get("next"))
	if _, ok := h.session(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := h.newView(r, "Sign in", "signin", signInView{Next: next})
	v.Open = true // nothing to sign out of
	h.render(w, http.StatusOK, "signin", v)
}

func (h *Handler) signInPost(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := sameOrigin(r); err != nil {
		h.fail(w, r, http.StatusForbidden, "Refused: "+err.Error()+".")
		return
	}
	if h.opt.Token == "" {
		http.Redirect(w, r, PathOverview, http.StatusSeeOther)
		return
	}
	if !h.signIn.Allow() {
		h.fail(w, r, http.StatusTooManyRequests, "Too many sign-in attempts: wait a few seconds and try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	next := nextPath(r.PostForm.Get("next"))
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(h.opt.Token)) != 1 {
		h.log.Warn("admin page: wrong token", "remote", r.RemoteAddr)
		v := h.newView(r, "Sign in", "signin", signInView{Next: next, Wrong: true})
		v.Open = true
		h.render(w, http.StatusUnauthorized, "signin", v)
		return
	}
	var raw [32]byte
	rand.Read(raw[:])
	cookie := base64.RawURLEncoding.EncodeToString(raw[:])
	now := h.now()
	until := now.Add(h.opt.SessionTTL)
	h.sessions.add(cookie, until, now)
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: cookie, Path: "/", Expires: until,
		MaxAge: int(h.opt.SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	h.log.Info("admin page: signed in", "session", sessionID(cookie), "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := sameOrigin(r); err != nil {
		h.fail(w, r, http.StatusForbidden, "Refused: "+err.Error()+".")
		return
	}
	if c, err := r.Cookie(cookieSession); err == nil {
		h.sessions.remove(c.Value)
		h.log.Info("admin page: signed out", "session", sessionID(c.Value), "remote", r.RemoteAddr)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	http.Redirect(w, r, PathSignIn, http.StatusSeeOther)
}
