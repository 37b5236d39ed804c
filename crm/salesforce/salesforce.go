// Package salesforce is the crm.Client for Salesforce: SOSL/SOQL contact lookups, Lead/Contact creation and
// SMS logged as Tasks through sObject Collections, over the REST API with OAuth 2.0 (client credentials, JWT
// bearer or refresh token), pacing itself against the org's daily API allocation.
// It imports crm only: never connector, mapping, store or another adapter.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// Options are the adapter's dependencies, shared by every adapter: see crm.Options.
type Options = crm.Options

// Batch sizes and limits.
const (
	// SearchBatch is how many phone queries share one SOSL call (or email queries one SOQL IN list).
	SearchBatch = 50
	// WriteBatch is the sObject Collections maximum.
	WriteBatch = 200
	// maxSearchLen keeps FIND {...} under SOSL's 4,000-character threshold, past which Salesforce drops
	// the logical operators (and at 10,000 returns nothing).
	maxSearchLen = 3800
	// dailyRecheck is how long the adapter waits before probing again once the daily allocation is spent
	// (or only the reserve is left). The window is a rolling 24 h, so usage falls gradually as the calls of
	// 24 h ago age out: an hour is long enough not to hammer and short enough to resume the same day.
	dailyRecheck = time.Hour
	// concurrencyBackoff is how long to wait after a REQUEST_LIMIT_EXCEEDED for a concurrency limit
	// (ConcurrentPerOrgLongTxn, ConcurrentRequests) when Salesforce sends no Retry-After: long-running
	// requests of the org finish in seconds.
	concurrencyBackoff = 5 * time.Second
	// dailyWindow is the rolling window of the daily allocation.
	dailyWindow = 24 * time.Hour
	// softBandPercent is the share of the allocation, just below the reserve, in which the adapter paces itself
	// to the window's refill rate (allocation per 24 h) instead of running at full speed.
	softBandPercent = 10
)

// Client is a Salesforce crm.Client. It is safe for concurrent use.
type Client struct {
	cfg      Config
	http     *http.Client
	throttle crm.Throttle
	now      func() time.Time
	loc      *time.Location
	log      *slog.Logger
	auth     authenticator
	base     string // "/services/data/v66.0"

	mu           sync.Mutex
	sess         session
	used, max    int       // last Sforce-Limit-Info api-usage reading
	blockedUntil time.Time // daily allocation or reserve reached: no call before this
	probing      bool      // one call let through after blockedUntil to read the usage again
	lastPaced    time.Time // last call admitted in the soft band
	owners       map[string]ownerEntry
	described    map[string]*objectInfo // object -> describe, until Reload
	warned       map[string]bool        // warnOnce keys, until Reload
}

type ownerEntry struct {
	id string
	at time.Time
}

var (
	_ crm.Client              = (*Client)(nil)
	_ crm.ActivityFinder      = (*Client)(nil)
	_ crm.ContentFinder       = (*Client)(nil)
	_ crm.Checker             = (*Client)(nil)
	_ crm.RateLimiter         = (*Client)(nil)
	_ crm.ContactUpdater      = (*Client)(nil)
	_ crm.ContactFieldChecker = (*Client)(nil)
	_ interface{ Reload() }   = (*Client)(nil)
)

// New validates cfg and returns a Client. It fails on an invalid config or an unreadable JWT private key;
// it makes no network call (the first method call gets the token).
func New(cfg Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	c := &Client{cfg: cfg, http: opts.HTTPClient, throttle: opts.Throttle, now: opts.Now, loc: opts.Location,
		log: opts.Logger, base: "/services/data/" + cfg.APIVersion, owners: map[string]ownerEntry{}}
	auth, err := c.newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	c.auth = auth
	return c, nil
}

// Limits declares SearchBatch phone/email queries per FindContacts and 200 Tasks per LogActivities.
func (c *Client) Limits() crm.Limits {
	return crm.Limits{SearchBatch: SearchBatch, WriteBatch: WriteBatch}
}

// RateLimits declares one kind, "requests", at requests_per_second: every call counts against the same daily
// allocation, so there is nothing finer to declare.
func (c *Client) RateLimits() []crm.RateLimit {
	burst := int(c.cfg.RequestsPerSecond)
	if burst < 1 {
		burst = 1
	}
	return []crm.RateLimit{{Kind: "requests", Rate: c.cfg.RequestsPerSecond, Burst: burst}}
}

// Usage returns the last api-usage reading (calls used, daily allocation); zeros before the first call.
func (c *Client) Usage() (used, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.max
}

// call is one REST request, path relative to /services/data/vXX.X.
type call struct {
	method  string
	path    string
	query   url.Values
	body    any
	noRetry bool // not idempotent: the HTTP client must not resend it by itself
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// admit paces a public method call against the daily allocation: inside the soft band below the reserve it
// lets one call through per refill interval (24 h / allocation) and answers RateLimited otherwise.
func (c *Client) admit() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max == 0 {
		return nil
	}
	hard := c.hardLimit()
	soft := hard - c.max*softBandPercent/100
	if c.used < soft || c.used >= hard {
		return nil // below the band, or the per-request check answers
	}
	now := c.now()
	interval := dailyWindow / time.Duration(c.max)
	if wait := c.lastPaced.Add(interval).Sub(now); wait > 0 {
		return &crm.Error{Action: crm.RateLimited, Code: "DAILY_PACE", Limit: "requests", RetryAfter: wait,
			Message: fmt.Sprintf("api usage %d/%d is near the %d%% reserve: slowing down", c.used, c.max, *c.cfg.DailyReservePercent)}
	}
	c.lastPaced = now
	return nil
}

func (c *Client) hardLimit() int { return c.max - c.max*(*c.cfg.DailyReservePercent)/100 }

// admitRequest refuses a request once usage has reached the reserve, until the next probe.
func (c *Client) admitRequest() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if now.Before(c.blockedUntil) {
		return c.dailyError("DAILY_RESERVE", c.blockedUntil)
	}
	if c.max == 0 || c.used < c.hardLimit() {
		return nil
	}
	if !c.blockedUntil.IsZero() && !c.probing {
		c.probing = true // the reading is stale: let one call through to read it again
		return nil
	}
	c.blockedUntil = now.Add(dailyRecheck)
	c.probing = false
	return c.dailyError("DAILY_RESERVE", c.blockedUntil)
}

func (c *Client) dailyError(code string, until time.Time) *crm.Error {
	return &crm.Error{Action: crm.RateLimited, Daily: true, Until: until, Limit: "requests", Code: code,
		Message: fmt.Sprintf("api usage %d/%d has reached the %d%% daily reserve; rechecking at %s",
			c.used, c.max, *c.cfg.DailyReservePercent, until.UTC().Format(time.RFC3339))}
}

// observe reads Sforce-Limit-Info ("api-usage=18/5000[, per-app-api-usage=...]").
func (c *Client) observe(h http.Header) {
	v := h.Get("Sforce-Limit-Info")
	for seg := range strings.SplitSeq(v, ",") {
		seg = strings.TrimSpace(seg)
		rest, ok := strings.CutPrefix(seg, "api-usage=")
		if !ok {
			continue
		}
		a, b, ok := strings.Cut(rest, "/")
		used, err1 := strconv.Atoi(a)
		max, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || max <= 0 {
			return
		}
		c.mu.Lock()
		c.used, c.max = used, max
		if used < c.hardLimit() {
			c.blockedUntil, c.probing = time.Time{}, false
		}
		c.mu.Unlock()
		return
	}
}

func (c *Client) session(ctx context.Context) (session, error) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s.token != "" {
		return s, nil
	}
	return c.reauth(ctx, "")
}

// reauth gets a new session unless another call already replaced stale.
func (c *Client) reauth(ctx context.Context, stale string) (session, error) {
	c.mu.Lock()
	if c.sess.token != "" && c.sess.token != stale {
		s := c.sess
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	if err := c.throttle.Wait(ctx, "requests"); err != nil {
		return session{}, err
	}
	s, err := c.auth(ctx)
	if err != nil {
		c.log.Warn("salesforce token request failed", "auth", c.cfg.Auth, "err", err)
		return session{}, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// do sends one REST request: daily-reserve check, token, throttle, and on 401 one re-auth and replay. It
// returns the response whatever its status; an error only for a transport failure, a refused token or a
// session refused again right after re-authentication.
func (c *Client) do(ctx context.Context, cl call) (response, error) {
	var payload []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return response{}, &crm.Error{Action: crm.Permanent, Message: "encode request", Err: err}
		}
		payload = b
	}
	s, err := c.session(ctx)
	if err != nil {
		return response{}, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, s, cl, payload)
		if err != nil {
			return response{}, err
		}
		if resp.status != http.StatusUnauthorized {
			return resp, nil
		}
		if attempt > 0 {
			e := c.classify(resp)
			e.Action = crm.Pause
			e.Message = "session refused right after re-authentication: " + e.Message
			return response{}, e
		}
		c.log.Info("salesforce session expired, re-authenticating", "auth", c.cfg.Auth)
		if s, err = c.reauth(ctx, s.token); err != nil {
			return response{}, err
		}
	}
}

func (c *Client) send(ctx context.Context, s session, cl call, payload []byte) (response, error) {
	if err := ctx.Err(); err != nil {
		return response{}, err
	}
	if err := c.admitRequest(); err != nil {
		return response{}, err
	}
	if err := c.throttle.Wait(ctx, "requests"); err != nil {
		return response{}, err
	}
	u := s.instanceURL + c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	rctx := ctx
	if cl.noRetry {
		rctx = crm.NoRetry(ctx)
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(rctx, cl.method, u, body)
	if err != nil {
		return response{}, &crm.Error{Action: crm.Permanent, Message: "build request", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, transportError(ctx, cl.method+" "+cl.path, err)
	}
	defer resp.Body.Close()
	c.observe(resp.Header)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return response{}, transportError(ctx, cl.method+" "+cl.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// doJSON sends cl and decodes a 2xx body into out; any other status is classified.
func (c *Client) doJSON(ctx context.Context, cl call, out any) error {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return c.classify(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return &crm.Error{Action: crm.Retry, Status: resp.status, Message: "undecodable response to " + cl.method + " " + cl.path, Err: err}
	}
	return nil
}

// apiError is an element of Salesforce's error body [{"message","errorCode","fields"}]. In collection
// results the code is named statusCode.
type apiError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (e apiError) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// classify maps a non-2xx response to a *crm.Error: 403 REQUEST_LIMIT_EXCEEDED for the daily allocation ->
// RateLimited daily (and no call for an hour), for a concurrency limit -> RateLimited for a few seconds, 500/502/503 and UNABLE_TO_LOCK_ROW -> Retry (honouring Retry-After), API disabled ->
// Pause, 300, 404 and other 4xx -> Permanent.
func (c *Client) classify(resp response) *crm.Error {
	var errs []apiError
	code, msg := "", ""
	if json.Unmarshal(resp.body, &errs) == nil && len(errs) > 0 {
		code, msg = errs[0].code(), errs[0].Message
	} else if resp.status != http.StatusMultipleChoices {
		msg = strings.TrimSpace(string(resp.body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
	}
	now := c.now()
	retryAfter := crm.ParseRetryAfter(resp.header.Get("Retry-After"), now)
	switch {
	case code == "REQUEST_LIMIT_EXCEEDED" && !c.dailyCapHit(msg):
		// ConcurrentPerOrgLongTxn, ConcurrentRequests: too many requests in flight in the org right now.
		// They clear in seconds: slow down briefly, never pause the destination for the daily recheck.
		if retryAfter <= 0 {
			retryAfter = concurrencyBackoff
		}
		return &crm.Error{Action: crm.RateLimited, Status: resp.status, Code: code, Message: msg,
			Limit: "requests", RetryAfter: retryAfter}
	case code == "REQUEST_LIMIT_EXCEEDED":
		until := now.Add(dailyRecheck)
		c.mu.Lock()
		c.blockedUntil, c.probing = until, false
		c.mu.Unlock()
		return &crm.Error{Action: crm.RateLimited, Status: resp.status, Code: code, Message: msg, Daily: true,
			Until: until, Limit: "requests", RetryAfter: retryAfter}
	case code == "UNABLE_TO_LOCK_ROW":
		return &crm.Error{Action: crm.Retry, Status: resp.status, Code: code, Message: msg, RetryAfter: retryAfter}
	case code == "API_DISABLED_FOR_ORG" || code == "API_CURRENTLY_DISABLED" || code == "INVALID_SESSION_ID":
		return &crm.Error{Action: crm.Pause, Status: resp.status, Code: code, Message: msg}
	case resp.status == http.StatusMultipleChoices:
		return &crm.Error{Action: crm.Permanent, Status: resp.status, Code: "MULTIPLE_CHOICES",
			Message: "several records match the external id"}
	}
	return crm.FromStatus(resp.status, code, msg, retryAfter)
}

// dailyCapHit tells a REQUEST_LIMIT_EXCEEDED for the daily allocation ("TotalRequests Limit exceeded.", or
// the last Sforce-Limit-Info at its maximum) from the concurrency limits that share the code
// ("ConcurrentPerOrgLongTxn Limit exceeded.", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.").
// A message naming neither is taken as the daily cap only when the usage reading says so.
func (c *Client) dailyCapHit(msg string) bool {
	if strings.Contains(msg, "TotalRequests") {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max > 0 && c.used >= c.max
}

// recordError classifies a per-record collection error. act is the activity it belongs to, if any.
func recordError(e apiError, act *crm.Activity) *crm.Error {
	code := e.code()
	ce := &crm.Error{Action: crm.Permanent, Code: code, Message: e.Message}
	switch code {
	case "UNABLE_TO_LOCK_ROW":
		ce.Action = crm.Retry
	case "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY":
		onWho := false
		for _, f := range e.Fields {
			onWho = onWho || f == "WhoId"
		}
		// Salesforce often names no field for ENTITY_IS_DELETED; the Who is the reference we hold.
		if onWho || (code == "ENTITY_IS_DELETED" && len(e.Fields) == 0 && act != nil && act.ContactID != "") {
			ce.Code = crm.CodeContactGone
			ce.Message = code + ": " + e.Message
		}
	}
	return ce
}
