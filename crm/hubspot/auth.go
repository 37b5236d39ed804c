package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"golang.org/x/oauth2"
)

// auth hands out the bearer token: the private app token as is, or an OAuth access token refreshed ahead of
// its expiry (and on demand after an EXPIRED_AUTHENTICATION).
type auth struct {
	static string
	conf   *oauth2.Config
	c      *Client

	mu      sync.Mutex
	refresh string
	access  string
	expiry  time.Time
}

func newAuth(cfg Config, c *Client) *auth {
	a := &auth{static: cfg.Token, c: c}
	if cfg.OAuth != nil {
		a.refresh = cfg.OAuth.RefreshToken
		a.conf = &oauth2.Config{ClientID: cfg.OAuth.ClientID, ClientSecret: cfg.OAuth.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: cfg.BaseURL + api{cfg.APIVersion}.oauthToken(), AuthStyle: oauth2.AuthStyleInParams}}
	}
	return a
}

func (a *auth) canRefresh() bool { return a.conf != nil }

// token returns a bearer token, refreshing the OAuth access token when it is missing, within a fifth of its
// lifetime (at most 5 minutes) of expiry, or when force is set. A refresh HubSpot rejects is a Pause.
func (a *auth) token(ctx context.Context, force bool) (string, error) {
	if a.conf == nil {
		return a.static, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.c.now()
	if !force && a.access != "" && now.Before(a.expiry) {
		return a.access, nil
	}
	if err := a.c.throttle.Wait(ctx, "requests"); err != nil {
		return "", fmt.Errorf("wait for request limit: %w", err)
	}
	octx := context.WithValue(ctx, oauth2.HTTPClient, a.c.hc)
	tok, err := a.conf.TokenSource(octx, &oauth2.Token{RefreshToken: a.refresh}).Token()
	if err != nil {
		return "", a.refreshError(ctx, err)
	}
	ttl := time.Duration(tok.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	a.access = tok.AccessToken
	a.expiry = now.Add(ttl - min(ttl/5, 5*time.Minute))
	if tok.RefreshToken != "" {
		a.refresh = tok.RefreshToken
	}
	a.c.log.Debug("hubspot access token refreshed", "expires_in", ttl)
	return a.access, nil
}

func (a *auth) refreshError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("refresh hubspot token: %w", ctx.Err())
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &crm.Error{Action: crm.Retry, Message: "network error refreshing the HubSpot OAuth token", Err: err}
	}
	// HubSpot's token errors follow RFC 6749 (error, error_description) and carry its own status and
	// message besides: {"error":"invalid_grant","error_description":"...","status":"BAD_REFRESH_TOKEN",...}.
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Status      string `json:"status"`
		Message     string `json:"message"`
	}
	_ = json.Unmarshal(re.Body, &body)
	code := body.Error
	if code == "" {
		code = body.Status
	}
	why := body.Description
	if why == "" {
		why = body.Message
	}
	if body.Error != "" && body.Status != "" {
		why += " (" + body.Status + ")"
	}
	st := re.Response.StatusCode
	if st >= 500 || st == 429 {
		return &crm.Error{Action: crm.Retry, Status: st, Code: code, NotSent: true, Message: "HubSpot OAuth refresh failed: " + why}
	}
	return &crm.Error{Action: crm.Pause, Status: st, Code: code,
		Message: "HubSpot rejected the OAuth refresh (" + code + "): check oauth client_id, client_secret and refresh_token: " + why}
}
