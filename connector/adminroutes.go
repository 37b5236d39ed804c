package connector

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onoffsync/onoffsync/store"
)

// AdminHandler returns the admin listener's routes: /healthz, /readyz, /metrics and /admin/...
func (s *Server) AdminHandler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		abortJSON(c, http.StatusInternalServerError, "internal error")
	}))
	r.NoRoute(func(c *gin.Context) { abortJSON(c, http.StatusNotFound, "no such path") })
	r.NoMethod(func(c *gin.Context) { abortJSON(c, http.StatusMethodNotAllowed, "method not allowed") })
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.adminAuth, gin.WrapH(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})))

	// Go profiles, for operators diagnosing CPU or memory: only with an admin token (anyone on the host could
	// start one otherwise), and at most a minute long.
	r.GET("/debug/pprof/*name", s.adminAuth, gin.WrapF(func(w http.ResponseWriter, req *http.Request) {
		if s.cfg.Admin.Token == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"profiles are served only when admin.token is set"}`))
			return
		}
		if sec, err := strconv.Atoi(req.URL.Query().Get("seconds")); err == nil && sec > 60 {
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
	}))

	a := r.Group("/admin", s.adminAuth)
	a.GET("/status", func(c *gin.Context) { respond[Status](c)(s.admin.Status()) })
	a.GET("/dead", func(c *gin.Context) { respond[[]DeadLetter](c)(s.admin.DeadList(c.Query("destination"), limit(c))) })
	a.POST("/dead/retry", func(c *gin.Context) { selected(c, s.admin.DeadRetry) })
	a.POST("/dead/drop", func(c *gin.Context) { selected(c, s.admin.DeadDrop) })
	a.GET("/quarantine", func(c *gin.Context) { respond[[]QuarantinedEvent](c)(s.admin.QuarantineList(limit(c))) })
	a.GET("/quarantine/:seq", func(c *gin.Context) { withSeq(c, s.admin.QuarantineShow) })
	a.POST("/quarantine/:seq/requeue", func(c *gin.Context) { withSeq(c, s.admin.QuarantineRequeue) })
	a.POST("/quarantine/:seq/drop", func(c *gin.Context) {
		withSeq(c, func(seq uint64) (gin.H, error) { return gin.H{"dropped": seq}, s.admin.QuarantineDrop(seq) })
	})
	a.POST("/forget", func(c *gin.Context) {
		var b struct{ Number, Email string }
		if err := c.ShouldBindJSON(&b); err != nil {
			abortJSON(c, http.StatusBadRequest, "body must be JSON: {\"number\"} or {\"email\"}")
			return
		}
		n, err := s.admin.Forget(b.Number, b.Email)
		if err != nil {
			abortJSON(c, statusOf(err), err.Error())
			return
		}
		c.JSON(http.StatusOK, gin.H{"count": n})
	})
	a.POST("/reload", func(c *gin.Context) {
		if s.sync == nil {
			abortJSON(c, http.StatusServiceUnavailable, "no sync loops run in this process")
			return
		}
		var problems []string
		for _, err := range s.sync.Reload() {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": "mapping reload rejected; previous mappings kept", "problems": problems})
			return
		}
		c.JSON(http.StatusOK, gin.H{"reloaded": true})
	})
	a.POST("/destinations/:name/resume", func(c *gin.Context) {
		if s.sync == nil || !s.sync.Resume(c.Param("name")) {
			abortJSON(c, http.StatusNotFound, "no such destination")
			return
		}
		c.JSON(http.StatusOK, gin.H{"resumed": c.Param("name")})
	})
	return r
}

func (s *Server) readyz(c *gin.Context) {
	if err := s.store.Ping(); err != nil {
		abortJSON(c, http.StatusServiceUnavailable, "store not writable: "+err.Error())
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// adminAuth requires "Authorization: Bearer <admin.token>" when a token is configured.
func (s *Server) adminAuth(c *gin.Context) {
	tok := s.cfg.Admin.Token
	if tok == "" {
		return
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) != 1 {
		abortJSON(c, http.StatusUnauthorized, "admin token required: Authorization: Bearer <admin.token>")
	}
}

func respond[T any](c *gin.Context) func(T, error) {
	return func(v T, err error) {
		if err != nil {
			abortJSON(c, statusOf(err), err.Error())
			return
		}
		c.JSON(http.StatusOK, v)
	}
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
		abortJSON(c, http.StatusBadRequest, "seq must be a number")
		return
	}
	respond[T](c)(fn(seq))
}

// selectorBody is the JSON body of dead-letter actions: {"destination": "...", "seq": N} or {"all": true}.
type selectorBody struct {
	Destination string `json:"destination"`
	Seq         uint64 `json:"seq"`
	All         bool   `json:"all"`
}

func (b selectorBody) selector() (store.Selector, error) {
	switch {
	case b.Seq != 0 && b.Destination == "":
		return store.Selector{}, fmt.Errorf("%w: seq needs a destination", errBadRequest)
	case b.Seq == 0 && b.Destination == "" && !b.All:
		return store.Selector{}, fmt.Errorf("%w: name a destination and seq, a destination, or all", errBadRequest)
	}
	return store.Selector{Dest: b.Destination, Seq: b.Seq}, nil
}

func selected(c *gin.Context, fn func(store.Selector) (int, error)) {
	var b selectorBody
	if err := c.ShouldBindJSON(&b); err != nil {
		abortJSON(c, http.StatusBadRequest, "body must be JSON: {\"destination\",\"seq\"} or {\"all\":true}")
		return
	}
	sel, err := b.selector()
	if err != nil {
		abortJSON(c, statusOf(err), err.Error())
		return
	}
	n, err := fn(sel)
	if err != nil {
		abortJSON(c, statusOf(err), err.Error())
		return
	}
	c.JSON(http.StatusOK, gin.H{"count": n})
}
