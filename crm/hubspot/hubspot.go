// Package hubspot is the HubSpot CRM adapter: it finds contacts by phone or email, creates contacts, resolves
// owners, and logs SMS as Communications (channel SMS) on contact timelines. It is the only code that speaks
// HubSpot HTTP.
// It imports crm only: never connector, mapping, store or another adapter.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// OAuth is a HubSpot public app's refresh-token credentials.
type OAuth struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	RefreshToken string `yaml:"refresh_token"`
}

// Config is the HubSpot destination's keys, flat in the destination's YAML.
type Config struct {
	BaseURL         string        `yaml:"base_url"`          // default https://api.hubapi.com
	APIVersion      string        `yaml:"api_version"`       // 2026-09 (default), 2026-03 or v3 (legacy)
	Token           string        `yaml:"token"`             // private app token
	OAuth           *OAuth        `yaml:"oauth"`             // instead of token
	RequestsPer10s  int           `yaml:"requests_per_10s"`  // default 100
	SearchPerSecond int           `yaml:"search_per_second"` // default 4
	IndexLag        time.Duration `yaml:"index_lag"`         // search index lag FindActivity allows for; default 60s
}

// Validate fills defaults and reports the first problem, its text starting with the YAML key. It makes no
// network call.
func (c *Config) Validate() error {
	if c.BaseURL == "" {
		c.BaseURL = "https://api.hubapi.com"
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base_url: %q is not an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.APIVersion == "" {
		c.APIVersion = Version202609
	}
	if !validVersion(c.APIVersion) {
		return fmt.Errorf("api_version: %q is not one of %s (default), %s, %s", c.APIVersion, Version202609, Version202603, VersionV3)
	}
	switch {
	case c.Token == "" && c.OAuth == nil:
		return errors.New("token: required unless oauth is set")
	case c.Token != "" && c.OAuth != nil:
		return errors.New("token: set token or oauth, not both")
	case c.OAuth != nil && c.OAuth.ClientID == "":
		return errors.New("oauth: client_id is required")
	case c.OAuth != nil && c.OAuth.ClientSecret == "":
		return errors.New("oauth: client_secret is required")
	case c.OAuth != nil && c.OAuth.RefreshToken == "":
		return errors.New("oauth: refresh_token is required")
	}
	if c.RequestsPer10s == 0 {
		c.RequestsPer10s = 100
	}
	if c.RequestsPer10s < 0 {
		return fmt.Errorf("requests_per_10s: %d must be positive", c.RequestsPer10s)
	}
	if c.SearchPerSecond == 0 {
		c.SearchPerSecond = 4
	}
	if c.SearchPerSecond < 0 {
		return fmt.Errorf("search_per_second: %d must be positive", c.SearchPerSecond)
	}
	if c.IndexLag == 0 {
		c.IndexLag = 60 * time.Second
	}
	if c.IndexLag < 0 {
		return fmt.Errorf("index_lag: %s must not be negative", c.IndexLag)
	}
	return nil
}

// Options are the adapter's dependencies, shared by every adapter: see crm.Options.
type Options = crm.Options

// Client is the HubSpot adapter. It implements crm.Client, crm.ActivityFinder, crm.Checker and
// crm.RateLimiter. It is safe for concurrent use.
type Client struct {
	cfg      Config
	api      api
	hc       *http.Client
	throttle crm.Throttle
	now      func() time.Time
	loc      *time.Location
	log      *slog.Logger
	auth     *auth
	// sleep waits d or until ctx ends; replaced in tests to advance a fake clock.
	sleep func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	owners    map[string]ownerEntry
	sent      []time.Time // our recent non-search requests, oldest first, for the rolling window
	remaining int         // X-HubSpot-RateLimit-Remaining of the last response, minus our sends since; -1 unknown
	interval  time.Duration
	zone      *time.Location // the HubSpot account's time zone, once read; nil until then
	zoneNext  time.Time      // when to try reading it again after a failure
}

// New returns a client for cfg, which it validates. It makes no network call.
func New(cfg Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	c := &Client{cfg: cfg, api: api{cfg.APIVersion}, hc: opts.HTTPClient, throttle: opts.Throttle, now: opts.Now, loc: opts.Location,
		log: opts.Logger, owners: map[string]ownerEntry{}, remaining: -1, interval: 10 * time.Second, sleep: sleepCtx}
	c.auth = newAuth(cfg, c)
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limits declares 100 activities per batch create, and 14 contact queries per FindContacts: that many French
// mobile queries, each searched in three forms, fit one search call within the documented filter and
// 3,000-character limits (FindContacts splits further when they do not, e.g. with more phone fields or long
// numbers).
func (c *Client) Limits() crm.Limits { return crm.Limits{SearchBatch: searchBatch, WriteBatch: 100} }

// RateLimits declares HubSpot's limits as configured: the 10-second window as a rate with a full-window
// burst, and search on its own.
func (c *Client) RateLimits() []crm.RateLimit {
	return []crm.RateLimit{
		{Kind: "requests", Rate: float64(c.cfg.RequestsPer10s) / 10, Burst: c.cfg.RequestsPer10s},
		{Kind: "search", Rate: float64(c.cfg.SearchPerSecond), Burst: 1},
	}
}

// propertyName is what a HubSpot internal property name looks like; names from configuration are checked
// against it, and nothing from a webhook is ever used as a property name.
var propertyName = regexp.MustCompile(`^[a-z0-9_]{1,100}$`)

// call is one HubSpot request.
type call struct {
	method, path string
	query        url.Values
	body         any
	search       bool // counts against the search limit
	write        bool // not idempotent: no HTTP-level retry
	account      bool // the account info read itself: never triggers another
}

// apiError is HubSpot's error body.
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory"`
	PolicyName    string              `json:"policyName"`
	Context       map[string][]string `json:"context"`
	Errors        []errorDetail       `json:"errors"`
}

// errorDetail is one entry of an error's errors list (the specs' ErrorDetail).
type errorDetail struct {
	Message     string              `json:"message"`
	Code        string              `json:"code"`
	ErrorType   string              `json:"errorType"` // e.g. REQUIRED_FIELD (HubSpot's forms API)
	SubCategory string              `json:"subCategory"`
	In          string              `json:"in"` // "body" for the request's own shape
	Context     map[string][]string `json:"context"`
}

func (e *apiError) Error() string { return "correlationId " + e.CorrelationID }

// do sends one request, waiting on the throttle first, and decodes a 2xx body into out. It refreshes an
// expired OAuth token and replays once. Every failure is a *crm.Error (or ctx's error).
func (c *Client) do(ctx context.Context, k call, out any) (int, error) {
	var payload []byte
	if k.body != nil {
		var err error
		if payload, err = json.Marshal(k.body); err != nil {
			return 0, fmt.Errorf("encode %s: %w", k.path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		status, body, hdr, err := c.send(ctx, k, payload)
		if err != nil {
			return 0, err
		}
		if status >= 200 && status < 300 {
			if out != nil && len(body) > 0 {
				if err := json.Unmarshal(body, out); err != nil {
					return status, &crm.Error{Action: crm.Retry, Status: status, Message: "undecodable HubSpot response", Err: err}
				}
			}
			if !k.account {
				c.accountZone(ctx) // once the credentials are known to work
			}
			return status, nil
		}
		ae := &apiError{}
		_ = json.Unmarshal(body, ae)
		if status == http.StatusUnauthorized && ae.Category == "EXPIRED_AUTHENTICATION" && c.auth.canRefresh() && attempt == 0 {
			c.log.Info("hubspot access token expired; refreshing", "path", k.path)
			if _, err := c.auth.token(ctx, true); err != nil {
				return 0, err
			}
			continue
		}
		return status, c.classify(ctx, status, ae, hdr, k)
	}
}

// zoneRetry is how long a failed read of the account's time zone is not tried again.
const zoneRetry = time.Hour

// accountZone returns the HubSpot account's time zone (account info API, timeZone), reading it once and
// caching it; on failure it returns the destination's Location and tries again after zoneRetry. HubSpot's
// daily limit resets at midnight in the account's time zone, which need not be the mapping's.
func (c *Client) accountZone(ctx context.Context) *time.Location {
	c.mu.Lock()
	if z := c.zone; z != nil || c.now().Before(c.zoneNext) {
		c.mu.Unlock()
		if z == nil {
			return c.loc
		}
		return z
	}
	c.zoneNext = c.now().Add(zoneRetry)
	c.mu.Unlock()
	var resp struct {
		TimeZone string `json:"timeZone"`
	}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: c.api.accountDetails(), account: true}, &resp); err != nil {
		c.log.Debug("hubspot account time zone unknown; using the destination's", "err", err)
		return c.loc
	}
	z, err := time.LoadLocation(resp.TimeZone)
	if err != nil || resp.TimeZone == "" {
		c.log.Warn("hubspot account time zone unreadable; using the destination's", "timeZone", resp.TimeZone, "err", err)
		return c.loc
	}
	c.mu.Lock()
	c.zone = z
	c.mu.Unlock()
	return z
}

// send performs one HTTP exchange. The returned error is a *crm.Error or ctx's error.
func (c *Client) send(ctx context.Context, k call, payload []byte) (int, []byte, http.Header, error) {
	if k.search {
		if err := c.throttle.Wait(ctx, "search"); err != nil {
			return 0, nil, nil, fmt.Errorf("wait for search limit: %w", err)
		}
	}
	if err := c.throttle.Wait(ctx, "requests"); err != nil {
		return 0, nil, nil, fmt.Errorf("wait for request limit: %w", err)
	}
	if !k.search {
		if err := c.pace(ctx); err != nil {
			return 0, nil, nil, err
		}
	}
	tok, err := c.auth.token(ctx, false)
	if err != nil {
		return 0, nil, nil, err
	}
	u := c.cfg.BaseURL + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	rctx := ctx
	if k.write {
		rctx = crm.NoRetry(ctx)
	}
	req, err := http.NewRequestWithContext(rctx, k.method, u, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build %s %s: %w", k.method, k.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: %w", k.method, k.path, ctx.Err())
		}
		return 0, nil, nil, crm.TransportError(k.method+" "+k.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	c.observe(k, resp.Header)
	if err != nil {
		return 0, nil, nil, &crm.Error{Action: crm.Retry, Message: "reading response of " + k.method + " " + k.path, Err: err}
	}
	return resp.StatusCode, body, resp.Header, nil
}

// observe records a sent request and the rate-limit headers of its response.
func (c *Client) observe(k call, h http.Header) {
	if k.search {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sent = append(c.sent, now)
	if n := c.cfg.RequestsPer10s; len(c.sent) > n {
		c.sent = c.sent[len(c.sent)-n:]
	}
	if ms, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
		c.interval = time.Duration(ms) * time.Millisecond
	}
	if r, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Remaining")); err == nil {
		c.remaining = r
	} else if c.remaining > 0 {
		c.remaining--
	}
}

// pace holds a request back when HubSpot's last X-HubSpot-RateLimit-Remaining says the rolling window is
// spent: it waits (honouring ctx) until our oldest request in the window leaves it, instead of sending a
// request that would surely get a 429. The window is shared with other apps on the account, so this is a
// courtesy on top of the loop's Throttle, not a guarantee.
func (c *Client) pace(ctx context.Context) error {
	c.mu.Lock()
	var wait time.Duration
	if c.remaining == 0 && len(c.sent) > 0 {
		now := c.now()
		for _, t := range c.sent {
			if d := t.Add(c.interval).Sub(now); d > 0 {
				wait = d
				break
			}
		}
		c.remaining = -1 // one slot frees at the end of the wait; the next response tells the truth
	}
	c.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	c.log.Debug("hubspot rate window spent; waiting", "wait", wait)
	if err := c.sleep(ctx, wait); err != nil {
		return fmt.Errorf("wait for rate window: %w", err)
	}
	return nil
}

// restOfWindow estimates when the 10-second rolling window frees a slot: when our oldest request in it leaves.
func (c *Client) restOfWindow() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, t := range c.sent {
		if d := t.Add(c.interval).Sub(now); d > 0 {
			return max(d, 500*time.Millisecond)
		}
	}
	return c.interval
}

// classify turns a non-2xx HubSpot response into a *crm.Error. A daily cap resets at midnight in the
// account's time zone (read once, see accountZone).
func (c *Client) classify(ctx context.Context, status int, ae *apiError, h http.Header, k call) *crm.Error {
	msg := ae.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &crm.Error{Status: status, Code: ae.Category, Message: msg, Err: ae}
	retryAfter := crm.ParseRetryAfter(h.Get("Retry-After"), c.now())
	switch {
	case status == http.StatusTooManyRequests:
		e.Action, e.Code = crm.RateLimited, ae.PolicyName
		switch ae.PolicyName {
		case "DAILY":
			loc := c.loc
			if !k.account {
				loc = c.accountZone(ctx)
			}
			n := c.now().In(loc)
			e.Daily, e.Limit = true, "requests"
			e.Until = time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, loc)
			e.RetryAfter = e.Until.Sub(c.now())
		case "SECONDLY":
			e.Limit, e.RetryAfter = "search", max(time.Second, retryAfter)
		case "TEN_SECONDLY_ROLLING":
			e.Limit, e.RetryAfter = "requests", max(c.restOfWindow(), retryAfter)
		default: // no policy: treat like the kind of call that was made
			e.Limit, e.RetryAfter = "requests", max(time.Second, retryAfter)
			if k.search {
				e.Limit = "search"
			}
		}
	case status == http.StatusUnauthorized:
		e.Action = crm.Pause
		e.Message = "HubSpot rejected the credentials (" + ae.Category + "): check the destination's token or oauth settings: " + msg
	case status == http.StatusForbidden:
		// MISSING_SCOPES and friends: every request will fail the same way until the app is fixed.
		e.Action = crm.Pause
		e.Message = "HubSpot refused access (" + ae.Category + "): check the private app's scopes: " + msg
	case status == http.StatusLocked:
		e.Action, e.RetryAfter = crm.Retry, max(2*time.Second, retryAfter)
	case status >= 500, status == http.StatusRequestTimeout:
		e.Action, e.RetryAfter = crm.Retry, retryAfter
	default:
		e.Action = crm.Permanent
	}
	return e
}

var (
	_ crm.Client              = (*Client)(nil)
	_ crm.ActivityFinder      = (*Client)(nil)
	_ crm.ContentFinder       = (*Client)(nil)
	_ crm.Checker             = (*Client)(nil)
	_ crm.RateLimiter         = (*Client)(nil)
	_ crm.ContactUpdater      = (*Client)(nil)
	_ crm.ContactFieldChecker = (*Client)(nil)
)
