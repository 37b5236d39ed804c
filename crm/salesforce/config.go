package salesforce

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Auth flows.
const (
	AuthClientCredentials = "client_credentials"
	AuthJWT               = "jwt"
	AuthRefreshToken      = "refresh_token"
)

// Defaults filled by Validate.
const (
	DefaultAPIVersion        = "v66.0"
	DefaultAudience          = "https://login.salesforce.com"
	DefaultReservePercent    = 10
	DefaultRequestsPerSecond = 20
	maxReservePercent        = 90
	defaultTokenPath         = "/services/oauth2/token"
)

// Config is a Salesforce destination's type-specific keys, flat in the destination's YAML.
type Config struct {
	// LoginURL is the org's My Domain URL (required for client_credentials), or login.salesforce.com /
	// test.salesforce.com for JWT and refresh token.
	LoginURL string `yaml:"login_url"`
	// Auth is client_credentials, jwt or refresh_token.
	Auth           string `yaml:"auth"`
	ClientID       string `yaml:"client_id"`
	ClientSecret   string `yaml:"client_secret"`
	Username       string `yaml:"username"`
	PrivateKeyFile string `yaml:"private_key_file"`
	Audience       string `yaml:"audience"`
	RefreshToken   string `yaml:"refresh_token"`
	APIVersion     string `yaml:"api_version"`
	// DailyReservePercent is the share of the org's daily API allocation left to other integrations: the
	// adapter stops before usage reaches it. nil: 10.
	DailyReservePercent *int `yaml:"daily_reserve_percent"`
	// RequestsPerSecond is the pace the adapter declares to the loop's throttle (Salesforce has no per-second
	// limit; this keeps one destination from burning the daily allocation in minutes). 0: 20.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
}

var apiVersionRE = regexp.MustCompile(`^v[0-9]{2,3}\.[0-9]$`)

// Validate fills defaults and reports the first problem as an error whose text starts with the YAML key.
// It makes no network call and does not read the private key (New does).
func (c *Config) Validate() error {
	if c.LoginURL == "" {
		return errors.New("login_url: required")
	}
	u, err := url.Parse(c.LoginURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("login_url: %q is not an absolute http(s) URL", c.LoginURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return errors.New("login_url: must use https")
	}
	c.LoginURL = strings.TrimRight(c.LoginURL, "/")
	if c.ClientID == "" {
		return errors.New("client_id: required")
	}
	switch c.Auth {
	case AuthClientCredentials:
		if c.ClientSecret == "" {
			return errors.New("client_secret: required for auth client_credentials")
		}
	case AuthRefreshToken:
		if c.ClientSecret == "" {
			return errors.New("client_secret: required for auth refresh_token")
		}
		if c.RefreshToken == "" {
			return errors.New("refresh_token: required for auth refresh_token")
		}
	case AuthJWT:
		if c.Username == "" {
			return errors.New("username: required for auth jwt")
		}
		if c.PrivateKeyFile == "" {
			return errors.New("private_key_file: required for auth jwt")
		}
		if c.Audience == "" {
			c.Audience = DefaultAudience
		}
	case "":
		return errors.New("auth: required (client_credentials, jwt or refresh_token)")
	default:
		return fmt.Errorf("auth: %q is not client_credentials, jwt or refresh_token", c.Auth)
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if !apiVersionRE.MatchString(c.APIVersion) {
		return fmt.Errorf("api_version: %q is not like v66.0", c.APIVersion)
	}
	if c.DailyReservePercent == nil {
		p := DefaultReservePercent
		c.DailyReservePercent = &p
	}
	if p := *c.DailyReservePercent; p < 0 || p > maxReservePercent {
		return fmt.Errorf("daily_reserve_percent: %d is not between 0 and %d", p, maxReservePercent)
	}
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.RequestsPerSecond < 0 {
		return fmt.Errorf("requests_per_second: %v is negative", c.RequestsPerSecond)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
