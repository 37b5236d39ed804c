package connector

import (
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onoffsync/onoffsync/store"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Handler returns the webhook receiver: every route Onoff can reach, in one table of named handlers.
func (s *Receiver) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(Recovery(func(c *gin.Context, _ any) { s.log.Error("receiver panic", "path", c.Request.URL.Path) }))
	r.NoRoute(noRoute)
	r.NoMethod(func(c *gin.Context) { Abort(c, Reason(ErrMethodNotAllowed, "method not allowed: use POST")) })
	hooks := r.Group("/", s.authenticate)
	hooks.POST(s.cfg.Server.Path, s.withBody(s.receiveSMS))
	hooks.POST(s.cfg.Server.CallsPath, s.withBody(s.receiveCall))
	return r
}

// noRoute answers a path no route serves.
func noRoute(c *gin.Context) { Abort(c, Reason(ErrNoRoute, "no such path")) }

// authenticate accepts the key as Onoff sends it (Authorization: x-api-key <key>) or as a bare x-api-key
// header, comparing in constant time with every configured key.
func (s *Receiver) authenticate(c *gin.Context) {
	if len(s.cfg.Server.APIKeys) == 0 && s.cfg.Server.AllowUnauthenticated {
		return
	}
	key := ""
	if h := c.GetHeader("Authorization"); h != "" {
		if scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "x-api-key") {
			key = strings.TrimSpace(rest)
		}
	}
	if key == "" {
		key = strings.TrimSpace(c.GetHeader("X-Api-Key"))
	}
	if key == "" {
		s.metrics.Received.WithLabelValues("unauthorized").Inc()
		Abort(c, Reason(ErrUnauthorized, "missing API key: send Authorization: x-api-key <key>"))
		return
	}
	match := 0
	for _, k := range s.cfg.Server.APIKeys {
		match |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	if match != 1 {
		s.metrics.Received.WithLabelValues("unauthorized").Inc()
		Abort(c, Reason(ErrUnauthorized, "invalid API key"))
	}
}

// withBody reads the body for h: it refuses a declared Content-Length over the limit before reading, and
// cuts a longer chunked body.
func (s *Receiver) withBody(h func(c *gin.Context, body []byte)) gin.HandlerFunc {
	return func(c *gin.Context) {
		max := s.cfg.Server.MaxBodyBytes
		if c.Request.ContentLength > max {
			s.metrics.Received.WithLabelValues("too_large").Inc()
			c.Header("Connection", "close")
			Abort(c, Reason(ErrTooLarge, "body larger than server.max_body_bytes"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.metrics.Received.WithLabelValues("too_large").Inc()
			Abort(c, Reason(ErrTooLarge, "body larger than server.max_body_bytes"))
			return
		case err != nil:
			s.metrics.Received.WithLabelValues("bad_request").Inc()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				Abort(c, Reason(ErrTimeout, "the body did not arrive within server.read_timeout"))
				return
			}
			Abort(c, Reason(ErrBadRequest, "could not read the body"))
			return
		}
		h(c, body)
	}
}

func (s *Receiver) receiveSMS(c *gin.Context, body []byte) {
	sms, eventName, problems, err := parseSMS(body, s.cfg.Phone.DefaultRegion, nil)
	if err != nil {
		s.metrics.Received.WithLabelValues("bad_request").Inc()
		Abort(c, Reason(ErrBadRequest, "body must be a JSON object"))
		return
	}
	ev := store.Event{Class: "sms", SourceID: sms.ID, EventName: eventName, Received: s.now(), Raw: body}
	switch {
	case eventName != "SMS":
		ev.Status = store.Ignored
	case len(problems) > 0:
		ev.Status, ev.Problems = store.Quarantined, problems
	default:
		ev.Status = store.Accepted
	}
	if problems["id"] != "" {
		ev.SourceID = "" // no usable id: nothing to deduplicate on
	}
	if !s.enqueue(c, ev) {
		return
	}
	if ev.Status == store.Quarantined {
		c.JSON(http.StatusOK, gin.H{"quarantined": true, "problems": problems})
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// receiveCall stores a call event (CDR, VM, RECORDING) as the configuration classifies it: accepted with a
// job per destination that syncs calls, quarantined for a bad field (200 naming the problems), or ignored.
func (s *Receiver) receiveCall(c *gin.Context, body []byte) {
	ev, _, err := s.cfg.classify(ClassCall, body)
	if err != nil {
		s.metrics.Received.WithLabelValues("bad_request").Inc()
		Abort(c, Reason(ErrBadRequest, "body must be a JSON object"))
		return
	}
	ev.Received, ev.Raw = s.now(), body
	if !s.enqueue(c, ev) {
		return
	}
	if ev.Status == store.Quarantined {
		c.JSON(http.StatusOK, gin.H{"quarantined": true, "problems": ev.Problems})
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// enqueue stores ev durably, with a job per destination that syncs its class (an accepted event no
// destination syncs is stored as ignored); on failure it answers 503 so Onoff retries, and returns false.
func (s *Receiver) enqueue(c *gin.Context, ev store.Event) bool {
	start := time.Now()
	dests := s.destNames
	if ev.Class == ClassCall {
		dests = s.callDests
	}
	if ev.Status == store.Accepted && len(dests) == 0 {
		ev.Status = store.Ignored
	}
	_, dup, err := s.store.Enqueue(ev, dests)
	if err != nil {
		s.metrics.Received.WithLabelValues("store_error").Inc()
		s.log.Error("store webhook", "err", err)
		Abort(c, Reason(ErrUnavailable, "could not store the event; retry later"))
		return false
	}
	s.metrics.Commit.Observe(time.Since(start).Seconds())
	outcome := ev.Status
	if dup {
		outcome = "duplicate"
	}
	s.metrics.Received.WithLabelValues(outcome).Inc()
	return true
}
