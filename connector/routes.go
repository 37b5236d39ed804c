package connector

import (
	"compress/gzip"
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

// Handler returns the webhook receiver: every route Onoff can reach, in one table of named handlers. Each
// path is served with and without a trailing slash (never a redirect: Onoff may not follow one).
func (s *Receiver) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(Recovery(func(c *gin.Context, _ any) { s.log.Error("receiver panic", "path", c.Request.URL.Path) }))
	r.NoRoute(s.noRoute)
	r.NoMethod(func(c *gin.Context) { Abort(c, Reason(ErrMethodNotAllowed, "method not allowed: use POST")) })
	hooks := r.Group("/", s.authenticate)
	for _, p := range bothSlashes(s.cfg.Server.Path) {
		hooks.POST(p, s.withBody(s.receiveSMS))
	}
	for _, p := range bothSlashes(s.cfg.Server.CallsPath) {
		hooks.POST(p, s.withBody(s.receiveCall))
	}
	return r
}

// bothSlashes is path without and with a trailing slash.
func bothSlashes(path string) []string {
	p := strings.TrimRight(path, "/")
	if p == "" {
		return []string{"/"}
	}
	return []string{p, p + "/"}
}

// noRoute answers a path no route serves.
func (s *Receiver) noRoute(c *gin.Context) {
	s.refuse(c, "no_route", Reason(ErrNoRoute, "no such path"))
}

// refuse answers a webhook the receiver will not store (counted under outcome) and logs why, at most a few
// lines a second: never the key nor the body.
func (s *Receiver) refuse(c *gin.Context, outcome string, err error) {
	if outcome != "no_route" {
		s.metrics.Received.WithLabelValues(outcome).Inc()
	}
	Abort(c, err)
	s.refusals.log(s.log, s.now(), "webhook refused", "status", HTTPStatus(err), "reason", err.Error(),
		"path", c.Request.URL.Path, "remote", c.ClientIP())
}

// authenticate accepts the key as Onoff sends it (Authorization: x-api-key <key>, the scheme and key
// separated by spaces or tabs) or as a bare x-api-key header, comparing in constant time with every
// configured key.
func (s *Receiver) authenticate(c *gin.Context) {
	if len(s.cfg.Server.APIKeys) == 0 && s.cfg.Server.AllowUnauthenticated {
		return
	}
	key := ""
	if h := strings.TrimSpace(c.GetHeader("Authorization")); h != "" {
		if i := strings.IndexAny(h, " \t"); i > 0 && strings.EqualFold(h[:i], "x-api-key") {
			key = strings.TrimSpace(h[i:])
		}
	}
	if key == "" {
		key = strings.TrimSpace(c.GetHeader("X-Api-Key"))
	}
	if key == "" {
		s.refuse(c, "unauthorized", Reason(ErrUnauthorized, "missing API key: send Authorization: x-api-key <key>"))
		return
	}
	match := 0
	for _, k := range s.cfg.Server.APIKeys {
		match |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	if match != 1 {
		s.refuse(c, "unauthorized", Reason(ErrUnauthorized, "invalid API key"))
	}
}

// withBody reads the body for h: it refuses a declared Content-Length over the limit before reading, and
// cuts a longer chunked body. A gzip body (Content-Encoding: gzip) is decompressed, within the same limit.
func (s *Receiver) withBody(h func(c *gin.Context, body []byte)) gin.HandlerFunc {
	return func(c *gin.Context) {
		max := s.cfg.Server.MaxBodyBytes
		tooLarge := Reason(ErrTooLarge, "body larger than server.max_body_bytes")
		if c.Request.ContentLength > max {
			c.Header("Connection", "close")
			s.refuse(c, "too_large", tooLarge)
			return
		}
		var r io.Reader = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		switch enc := strings.ToLower(strings.TrimSpace(c.GetHeader("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(r)
			if err != nil {
				s.refuse(c, "bad_request", Reason(ErrBadRequest, "Content-Encoding gzip, but the body is not gzip"))
				return
			}
			defer zr.Close()
			r = &limitedReader{r: zr, n: max}
		default:
			s.refuse(c, "bad_request", Reason(ErrUnsupportedEncoding, "Content-Encoding "+truncate(enc, 40)+" not supported: send gzip or none"))
			return
		}
		body, err := io.ReadAll(r)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig), errors.Is(err, errDecompressedTooLarge):
			s.refuse(c, "too_large", tooLarge)
			return
		case err != nil:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.refuse(c, "bad_request", Reason(ErrTimeout, "the body did not arrive within server.read_timeout"))
				return
			}
			s.refuse(c, "bad_request", Reason(ErrBadRequest, "could not read the body"))
			return
		}
		h(c, body)
	}
}

var errDecompressedTooLarge = errors.New("decompressed body too large")

// limitedReader reads at most n bytes from r, then fails with errDecompressedTooLarge if r has more.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errDecompressedTooLarge
		}
		return l.r.Read(p[:0])
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (s *Receiver) receiveSMS(c *gin.Context, body []byte) {
	sms, eventName, problems, err := parseSMS(body, s.cfg.Phone.DefaultRegion, nil)
	if err != nil {
		s.refuse(c, "bad_request", Reason(ErrBadRequest, "body must be a JSON object"))
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
	s.save(c, ev)
}

// receiveCall stores a call event (CDR, VM, RECORDING) as the configuration classifies it: accepted with a
// job per destination that syncs calls, quarantined for a bad field (200 naming the problems), or ignored.
func (s *Receiver) receiveCall(c *gin.Context, body []byte) {
	ev, _, err := s.cfg.classify(ClassCall, body)
	if err != nil {
		s.refuse(c, "bad_request", Reason(ErrBadRequest, "body must be a JSON object"))
		return
	}
	ev.Received, ev.Raw = s.now(), body
	s.save(c, ev)
}

// save stores ev durably, with a job per destination that syncs its class (an accepted event no destination
// syncs is stored as ignored), and answers: 200 {} once it is committed, naming the problems when it is
// quarantined and saying so when it replaced a quarantined copy; 503 when it could not be stored, so Onoff
// retries.
func (s *Receiver) save(c *gin.Context, ev store.Event) {
	start := time.Now()
	dests := s.destNames
	if ev.Class == ClassCall {
		dests = s.callDests
	}
	if ev.Status == store.Accepted && len(dests) == 0 {
		ev.Status = store.Ignored
	}
	r, err := s.store.Receive(ev, dests)
	if err != nil {
		s.metrics.Received.WithLabelValues("store_error").Inc()
		s.log.Error("store webhook", "err", err)
		Abort(c, Reason(ErrUnavailable, "could not store the event; retry later"))
		return
	}
	s.metrics.Commit.Observe(time.Since(start).Seconds())
	outcome := ev.Status
	if r.Dup {
		outcome = "duplicate"
	}
	s.metrics.Received.WithLabelValues(outcome).Inc()
	switch {
	case r.Replaced:
		s.log.Info("a valid redelivery replaced a quarantined event", "seq", r.Seq, "status", ev.Status)
		c.JSON(http.StatusOK, gin.H{"replaced_quarantined": r.Seq})
	case ev.Status == store.Quarantined:
		c.JSON(http.StatusOK, gin.H{"quarantined": true, "problems": ev.Problems})
	default:
		c.JSON(http.StatusOK, gin.H{})
	}
}
