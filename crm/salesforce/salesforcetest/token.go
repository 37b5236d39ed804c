package salesforcetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

func tokenErr(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// token is POST /services/oauth2/token for the client_credentials, refresh_token and JWT bearer grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenErr(w, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "client_credentials":
		if s.opts.LoginDomain {
			tokenErr(w, "invalid_grant", "request not supported on this domain")
			return
		}
		if f.Get("client_id") != s.opts.ClientID || s.opts.ClientID == "" {
			tokenErr(w, "invalid_client_id", "client identifier invalid")
			return
		}
		if f.Get("client_secret") != s.opts.ClientSecret || s.opts.ClientSecret == "" {
			tokenErr(w, "invalid_client", "invalid client credentials")
			return
		}
	case "refresh_token":
		if f.Get("client_id") != s.opts.ClientID || s.opts.ClientID == "" {
			tokenErr(w, "invalid_client_id", "client identifier invalid")
			return
		}
		if f.Get("client_secret") != s.opts.ClientSecret {
			tokenErr(w, "invalid_client", "invalid client credentials")
			return
		}
		if f.Get("refresh_token") != s.opts.RefreshToken || s.opts.RefreshToken == "" {
			tokenErr(w, "invalid_grant", "expired access/refresh token")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if code, desc := s.checkAssertion(f.Get("assertion")); code != "" {
			tokenErr(w, code, desc)
			return
		}
	default:
		tokenErr(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	s.mu.Lock()
	s.seq++
	tok := fmt.Sprintf("00DFAKE0000000001!session%d", s.seq)
	s.sessions[tok] = s.now()
	now := s.now()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"instance_url": s.srv.URL,
		"id":           s.srv.URL + "/id/00DFAKE0000000001AAA/" + IntegrationUser,
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(now.UnixMilli(), 10),
		"signature":    "fakeSignature=",
		"scope":        "api",
	})
}

// checkAssertion verifies an RS256 JWT against the configured key and iss/sub/aud/exp, answering the
// OAuth error code and description Salesforce would.
func (s *Server) checkAssertion(a string) (code, desc string) {
	if s.opts.PublicKey == nil {
		return "invalid_grant", "invalid assertion"
	}
	// Salesforce wants aud as one JSON string; an array (even of one audience, as golang-jwt's ClaimStrings
	// marshals it) is refused as an invalid audience.
	if aud, ok := rawClaim(a, "aud"); ok && !bytes.HasPrefix(bytes.TrimSpace(aud), []byte(`"`)) {
		return "invalid_grant", "audience is invalid"
	}
	_, err := jwt.Parse(a, func(*jwt.Token) (any, error) { return s.opts.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.opts.ClientID), jwt.WithSubject(s.opts.Username), jwt.WithAudience(s.opts.Audience))
	switch {
	case err == nil:
		return "", ""
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "invalid_client_id", "client identifier invalid"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid_grant", "audience is invalid"
	case errors.Is(err, jwt.ErrTokenInvalidSubject):
		return "invalid_grant", "user hasn't approved this consumer"
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "invalid_grant", "expired authorization code"
	}
	return "invalid_grant", "invalid assertion"
}

// rawClaim returns a claim of an assertion's payload as raw JSON, without verifying anything.
func rawClaim(assertion, name string) (json.RawMessage, bool) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	v, ok := claims[name]
	return v, ok
}
