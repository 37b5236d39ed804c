package admin

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/connector/admin/page"
	"github.com/onoffsync/onoffsync/store"
)

// Handler returns the admin listener's routes: /healthz, /readyz, /metrics, /debug/pprof/ and /admin/...,
// one table of named handlers, and the admin page at / (package page). metrics is what /metrics serves; log
// receives the page's sign-ins and actions.
func (a *Service) Handler(metrics *connector.Metrics, log *slog.Logger) http.Handler {
	h := &handlers{a: a, metrics: promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{})}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(connector.Recovery(nil))
	r.NoRoute(func(c *gin.Context) { connector.Abort(c, connector.Reason(connector.ErrNoRoute, "no such path")) })
	r.NoMethod(func(c *gin.Context) {
		connector.Abort(c, connector.Reason(connector.ErrMethodNotAllowed, "method not allowed"))
	})
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	r.GET("/metrics", h.auth, h.serveMetrics)
	r.GET("/debug/pprof/*name", h.auth, h.pprof)

	g := r.Group("/admin", h.auth)
	g.GET("/status", h.status)
	g.GET("/dead", h.deadList)
	g.POST("/dead/retry", h.deadRetry)
	g.POST("/dead/drop", h.deadDrop)
	g.GET("/parked", h.parkedList)
	g.POST("/parked/retry", h.parkedRetry)
	g.POST("/parked/drop", h.parkedDrop)
	g.GET("/quarantine", h.quarantineList)
	g.GET("/quarantine/:seq", h.quarantineShow)
	g.POST("/quarantine/:seq/requeue", h.quarantineRequeue)
	g.POST("/quarantine/:seq/drop", h.quarantineDrop)
	g.POST("/forget", h.forget)
	g.POST("/ignored/calls/requeue", h.requeueIgnoredCalls)
	g.POST("/reload", h.reload)
	g.POST("/destinations/:name/resume", h.resume)

	// The page signs in with a session cookie of its own; the JSON API above keeps the bearer token.
	pg := gin.WrapH(page.New(pageBackend{a}, page.Options{Token: a.cfg.Admin.Token, Now: a.now, Logger: log}))
	for _, p := range page.Paths() {
		method, path, _ := strings.Cut(p, " ")
		r.Handle(method, ginPath(path), pg)
	}
	return r
}

// ginPath turns a net/http pattern's path ("/{$}", "/quarantine/{seq}") into gin's ("/", "/quarantine/:seq").
func ginPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return regexp.MustCompile(`\{(\w+)\}`).ReplaceAllString(p, ":$1")
}

// handlers are the admin routes' handlers.
type handlers struct {
	a       *Service
	metrics http.Handler
}

func (h *handlers) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (h *handlers) readyz(c *gin.Context) {
	if err := h.a.store.Ping(); err != nil {
		connector.Abort(c, connector.Reason(connector.ErrUnavailable, "store not writable: "+err.Error()))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (h *handlers) serveMetrics(c *gin.Context) { h.metrics.ServeHTTP(c.Writer, c.Request) }

// pprof serves Go profiles, for operators diagnosing CPU or memory: only with an admin token (anyone on the
// host could start one otherwise), and at most a minute long.
func (h *handlers) pprof(c *gin.Context) {
	w, req := c.Writer, c.Request
	if h.a.cfg.Admin.Token == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"profiles are served only when admin.token is set"}`))
		return
	}
	// pprof reads seconds as an integer (profile) or a decimal (trace): refuse anything over 60 either way,
	// and NaN.
	if sec, err := strconv.ParseFloat(req.URL.Query().Get("seconds"), 64); err == nil && !(sec <= 60) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"seconds must be at most 60"}`))
		return
	}
	switch strings.TrimPrefix(req.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, req)
	case "trace":
		pprof.Trace(w, req)
	default:
		pprof.Index(w, req)
	}
}

func (h *handlers) status(c *gin.Context) {
	st, err := h.a.Status()
	respond(c, st, err)
}

func (h *handlers) deadList(c *gin.Context) {
	dl, err := h.a.DeadList(c.Query("destination"), limit(c))
	respond(c, dl, err)
}

func (h *handlers) deadRetry(c *gin.Context) { selected(c, h.a.DeadRetry) }

func (h *handlers) deadDrop(c *gin.Context) { selected(c, h.a.DeadDrop) }

func (h *handlers) parkedList(c *gin.Context) {
	pl, err := h.a.ParkedList(c.Query("destination"), limit(c))
	respond(c, pl, err)
}

func (h *handlers) parkedRetry(c *gin.Context) { selected(c, h.a.ParkedRetry) }

func (h *handlers) parkedDrop(c *gin.Context) { selected(c, h.a.ParkedDrop) }

func (h *handlers) quarantineList(c *gin.Context) {
	evs, err := h.a.QuarantineList(limit(c))
	respond(c, evs, err)
}

func (h *handlers) quarantineShow(c *gin.Context) { withSeq(c, h.a.QuarantineShow) }

func (h *handlers) quarantineRequeue(c *gin.Context) { withSeq(c, h.a.QuarantineRequeue) }

func (h *handlers) quarantineDrop(c *gin.Context) {
	withSeq(c, func(seq uint64) (gin.H, error) { return gin.H{"dropped": seq}, h.a.QuarantineDrop(seq) })
}

func (h *handlers) forget(c *gin.Context) {
	var b struct{ Number, Email string }
	if err := c.ShouldBindJSON(&b); err != nil {
		connector.Abort(c, connector.Reason(connector.ErrBadRequest, "body must be JSON: {\"number\"} or {\"email\"}"))
		return
	}
	n, err := h.a.Forget(b.Number, b.Email)
	if err != nil {
		connector.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"count": n})
}

// requeueIgnoredCalls syncs call events stored as ignored; the body may name {"since": RFC 3339 time}.
func (h *handlers) requeueIgnoredCalls(c *gin.Context) {
	var b struct{ Since time.Time }
	if c.Request.ContentLength != 0 {
		if err := c.ShouldBindJSON(&b); err != nil {
			connector.Abort(c, connector.Reason(connector.ErrBadRequest, "body must be JSON: {\"since\": \"2026-05-20T00:00:00Z\"} or empty"))
			return
		}
	}
	r, err := h.a.RequeueIgnoredCalls(b.Since)
	if err != nil {
		connector.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *handlers) reload(c *gin.Context) {
	if h.a.sync == nil {
		connector.Abort(c, connector.Reason(connector.ErrUnavailable, "no sync loops run in this process"))
		return
	}
	var problems []string
	for _, err := range h.a.sync.Reload() {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "mapping reload rejected; previous mappings kept", "problems": problems})
		return
	}
	c.JSON(http.StatusOK, gin.H{"reloaded": true})
}

func (h *handlers) resume(c *gin.Context) {
	if h.a.sync == nil || !h.a.sync.Resume(c.Param("name")) {
		connector.Abort(c, connector.Reason(connector.ErrNoRoute, "no such destination"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"resumed": c.Param("name")})
}

// auth requires "Authorization: Bearer <admin.token>" when a token is configured.
func (h *handlers) auth(c *gin.Context) {
	tok := h.a.cfg.Admin.Token
	if tok == "" {
		return
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) != 1 {
		connector.Abort(c, connector.Reason(connector.ErrUnauthorized, "admin token required: Authorization: Bearer <admin.token>"))
	}
}

// respond answers v, or err with its status.
func respond[T any](c *gin.Context, v T, err error) {
	if err != nil {
		connector.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func limit(c *gin.Context) int {
	n, err := strconv.Atoi(c.DefaultQuery("limit", "100"))
	if err != nil || n <= 0 {
		return 100
	}
	return min(n, 10000)
}

func withSeq[T any](c *gin.Context, fn func(uint64) (T, error)) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		connector.Abort(c, connector.Reason(connector.ErrBadRequest, "seq must be a number"))
		return
	}
	v, err := fn(seq)
	respond(c, v, err)
}

// selectorBody is the JSON body of dead-letter and parked-SMS actions: {"destination": "...", "seq": N} or {"all": true}.
type selectorBody struct {
	Destination string `json:"destination"`
	Seq         uint64 `json:"seq"`
	All         bool   `json:"all"`
}

func (b selectorBody) selector() (store.Selector, error) {
	switch {
	case b.Seq != 0 && b.Destination == "":
		return store.Selector{}, fmt.Errorf("%w: seq needs a destination", connector.ErrBadRequest)
	case b.Seq == 0 && b.Destination == "" && !b.All:
		return store.Selector{}, fmt.Errorf("%w: name a destination and seq, a destination, or all", connector.ErrBadRequest)
	}
	return store.Selector{Dest: b.Destination, Seq: b.Seq}, nil
}

func selected(c *gin.Context, fn func(store.Selector) (int, error)) {
	var b selectorBody
	if err := c.ShouldBindJSON(&b); err != nil {
		connector.Abort(c, connector.Reason(connector.ErrBadRequest, "body must be JSON: {\"destination\",\"seq\"} or {\"all\":true}"))
		return
	}
	sel, err := b.selector()
	if err != nil {
		connector.Abort(c, err)
		return
	}
	n, err := fn(sel)
	if err != nil {
		connector.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"count": n})
}
