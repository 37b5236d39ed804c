package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/onoffsync/onoffsync/crm"
)

// session is what a token grant returns: the bearer token and the instance all data calls go to.
type session struct {
	token       string
	instanceURL string
	userID      string // the integration user: the last segment of the token answer's identity URL ("id")
}

// userOf reads the user id from an identity URL (https://login.salesforce.com/id/<org id>/<user id>).
func userOf(identity string) string {
	u, err := url.Parse(identity)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "id" || !recordID.MatchString(parts[len(parts)-1]) {
		return ""
	}
	return parts[len(parts)-1]
}

// authenticator fetches a NEW session each time it is called (no caching: the Client caches).
type authenticator func(ctx context.Context) (session, error)

const jwtGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

func (c *Client) newAuthenticator(cfg Config) (authenticator, error) {
	tokenURL := cfg.LoginURL + defaultTokenPath
	withClient := func(ctx context.Context) context.Context {
		return context.WithValue(ctx, oauth2.HTTPClient, c.http)
	}
	switch cfg.Auth {
	case AuthClientCredentials:
		cc := &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: tokenURL,
			AuthStyle: oauth2.AuthStyleInParams}
		return func(ctx context.Context) (session, error) {
			tok, err := cc.Token(withClient(ctx))
			return fromOAuth2(tok, err)
		}, nil
	case AuthRefreshToken:
		oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		refresh := cfg.RefreshToken
		return func(ctx context.Context) (session, error) {
			// A fresh TokenSource each time: the token has no expiry, so a reused one would never refresh.
			tok, err := oc.TokenSource(withClient(ctx), &oauth2.Token{RefreshToken: refresh}).Token()
			if err == nil && tok.RefreshToken != "" {
				refresh = tok.RefreshToken // rotation, when the connected app enables it
			}
			return fromOAuth2(tok, err)
		}, nil
	case AuthJWT:
		key, err := readKey(cfg.PrivateKeyFile)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (session, error) { return c.jwtBearer(ctx, tokenURL, cfg, key) }, nil
	}
	return nil, fmt.Errorf("auth: %q is not supported", cfg.Auth)
}

func readKey(path string) (*rsa.PrivateKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %s: not an RSA private key in PEM: %w", path, err)
	}
	return key, nil
}

// jwtBearer runs the OAuth 2.0 JWT bearer flow: an RS256 assertion iss=client_id, sub=username, aud=audience
// (a single string), exp=now+3min.
func (c *Client) jwtBearer(ctx context.Context, tokenURL string, cfg Config, key *rsa.PrivateKey) (session, error) {
	now := c.now()
	// aud is one JSON string: Salesforce refuses an array, which is what jwt.RegisteredClaims.Audience
	// (ClaimStrings) marshals to unless the package-wide jwt.MarshalSingleStringAsArray is turned off.
	claims := jwt.MapClaims{"iss": cfg.ClientID, "sub": cfg.Username, "aud": cfg.Audience,
		"exp": jwt.NewNumericDate(now.Add(3 * time.Minute))}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return session{}, &crm.Error{Action: crm.Pause, Code: "JWT_SIGN", Message: "cannot sign the JWT assertion", Err: err}
	}
	form := url.Values{"grant_type": {jwtGrant}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return session{}, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return session{}, transportError(ctx, "token", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return session{}, transportError(ctx, "token", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return session{}, grantError(resp.StatusCode, e.Error, e.Description, resp.Header.Get("Retry-After"), now)
	}
	var ok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		ID          string `json:"id"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.AccessToken == "" || ok.InstanceURL == "" {
		return session{}, &crm.Error{Action: crm.Retry, Status: resp.StatusCode, NotSent: true, Message: "token response without access_token or instance_url"}
	}
	return session{token: ok.AccessToken, instanceURL: strings.TrimRight(ok.InstanceURL, "/"), userID: userOf(ok.ID)}, nil
}

func fromOAuth2(tok *oauth2.Token, err error) (session, error) {
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return session{}, grantError(re.Response.StatusCode, re.ErrorCode, re.ErrorDescription,
				re.Response.Header.Get("Retry-After"), time.Now())
		}
		return session{}, crm.Classify(fmt.Errorf("token: %w", err))
	}
	inst, _ := tok.Extra("instance_url").(string)
	if tok.AccessToken == "" || inst == "" {
		return session{}, &crm.Error{Action: crm.Retry, Message: "token response without access_token or instance_url"}
	}
	id, _ := tok.Extra("id").(string)
	return session{token: tok.AccessToken, instanceURL: strings.TrimRight(inst, "/"), userID: userOf(id)}, nil
}

// grantError classifies a refused token request: 4xx (invalid_grant, invalid_client, ...) pauses the
// destination until the config is fixed; 5xx is retried. The message carries Salesforce's error code and
// description, never a credential.
func grantError(status int, code, desc, retryAfter string, now time.Time) *crm.Error {
	msg := "token request refused"
	if code != "" {
		msg += ": " + code
	}
	if desc != "" {
		msg += " (" + desc + ")"
	}
	if status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout {
		return &crm.Error{Action: crm.Retry, Status: status, Code: code, Message: msg,
			RetryAfter: crm.ParseRetryAfter(retryAfter, now)}
	}
	return &crm.Error{Action: crm.Pause, Status: status, Code: code,
		Message: msg + "; fix the destination's auth settings (login_url, client_id, credentials) and resume"}
}

// transportError classifies a failed round trip: the context's own error when it ended, else a retryable
// (ambiguous) network error.
func transportError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return crm.TransportError(what, err)
}
