package connector

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/mapping"
)

// DevKey is the webhook key config.example.yaml falls back to; using it logs a warning.
const DevKey = "dev-only-key"

// Config is onoffsync's configuration file.
type Config struct {
	Server       ServerConfig  `yaml:"server"`
	Admin        AdminConfig   `yaml:"admin"`
	Store        StoreConfig   `yaml:"store"`
	Phone        PhoneConfig   `yaml:"phone"`
	Sync         SyncConfig    `yaml:"sync"`
	Log          LogConfig     `yaml:"log"`
	Destinations []Destination `yaml:"destinations"`

	File string `yaml:"-"` // the file it was loaded from
	// Notes are what loading fixed silently (e.g. whitespace trimmed from a key), as file:line: field: note,
	// for check to print and serve to log.
	Notes []string `yaml:"-"`
}

// ServerConfig is the webhook receiver.
type ServerConfig struct {
	Listen               string   `yaml:"listen"`
	Path                 string   `yaml:"path"`
	CallsPath            string   `yaml:"calls_path"`
	APIKeys              []string `yaml:"api_keys"`
	AllowUnauthenticated bool     `yaml:"allow_unauthenticated"`
	// AllowDevKeyOnPublicAddress lets the development key work on a listen address that is not loopback.
	AllowDevKeyOnPublicAddress bool          `yaml:"allow_dev_key_on_public_address"`
	MaxBodyBytes               int64         `yaml:"max_body_bytes"`
	TLSCert                    string        `yaml:"tls_cert"`
	TLSKey                     string        `yaml:"tls_key"`
	ReadHeaderTimeout          time.Duration `yaml:"read_header_timeout"`
	ReadTimeout                time.Duration `yaml:"read_timeout"`
}

// AdminConfig is the admin listener (health, metrics, admin API, admin page).
type AdminConfig struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// TLSCert and TLSKey (PEM files, both or neither) serve the admin listener over HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// StoreConfig is the bbolt data file.
type StoreConfig struct {
	Path      string        `yaml:"path"`
	Retention time.Duration `yaml:"retention"`
}

// PhoneConfig says how to read national-format numbers.
type PhoneConfig struct {
	DefaultRegion string `yaml:"default_region"`
}

// SyncConfig tunes the sync loops (every key has a default).
type SyncConfig struct {
	MaxAttempts int           `yaml:"max_attempts"` // a job dies only past both limits
	MaxAge      time.Duration `yaml:"max_age"`
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffCap  time.Duration `yaml:"backoff_cap"`
	ContactTTL  time.Duration `yaml:"contact_ttl"` // contact cache lifetime
}

// LogConfig sets the process log.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Destination is one place every SMS goes to. Type-specific keys sit flat beside the common ones; Node keeps
// them for the adapter to decode.
type Destination struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	TimeZone string `yaml:"time_zone"`
	Output   string `yaml:"output"` // log destinations
	// Events are the kinds of event the destination syncs: "sms", "calls" or both (the default, nil).
	Events []string `yaml:"events"`
	// MappingPath is the mapping file (resolved against the config's folder), or "" for an inline mapping
	// (MappingNode) or the built-in default (both empty).
	MappingPath string     `yaml:"-"`
	MappingNode *yaml.Node `yaml:"-"`

	Location *time.Location `yaml:"-"`
	File     string         `yaml:"-"` // the config file it came from
	Node     *yaml.Node     `yaml:"-"` // the whole destination, interpolated
	Line     int            `yaml:"-"`
}

// Syncs reports whether d syncs events of class (ClassSMS or ClassCall): its events list names it ("sms",
// "calls"), or is empty (both).
func (d Destination) Syncs(class string) bool {
	if len(d.Events) == 0 {
		return true
	}
	want := "sms"
	if class == ClassCall {
		want = "calls"
	}
	for _, e := range d.Events {
		if e == want {
			return true
		}
	}
	return false
}

// LoadConfig reads, interpolates, checks and defaults the configuration at path. getenv supplies ${VAR}s.
// Every problem is reported, each with its line.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data, getenv)
}

// ParseConfig is LoadConfig on bytes already read; path names the file in messages and anchors relative paths.
func ParseConfig(path string, data []byte, getenv func(string) string) (*Config, error) {
	cfg := &Config{File: path}
	var probs []mapping.Problem
	add := func(line int, field, format string, args ...any) {
		probs = append(probs, mapping.Problem{File: path, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &line)
		}
		add(line, "yaml", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, &mapping.Error{Problems: probs}
	}
	if len(doc.Content) == 0 {
		add(1, "config", "the file is empty")
		return nil, &mapping.Error{Problems: probs}
	}
	root := doc.Content[0]
	interpolate(root, getenv, func(line int, field, msg string) { add(line, field, "%s", msg) })

	// Unknown keys, with destinations checked against their type's keys.
	checkKnown(root, reflect.TypeOf(Config{}), "", func(line int, field string) {
		add(line, field, "unknown key")
	}, map[string]bool{"destinations": true})
	if err := root.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors { // "line 3: cannot unmarshal !!str `abc` into int64"
				line := root.Line
				if m := regexp.MustCompile(`^line (\d+): `).FindStringSubmatch(msg); m != nil {
					fmt.Sscan(m[1], &line)
					msg = strings.TrimPrefix(msg, m[0])
				}
				add(line, "value", "%s", msg)
			}
		} else {
			add(root.Line, "config", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, &mapping.Error{Problems: probs}
	}
	cfg.File = path
	dir := filepath.Dir(path)
	if dn := mapValue(root, "destinations"); dn != nil {
		if dn.Kind != yaml.SequenceNode {
			add(dn.Line, "destinations", "must be a list")
		} else {
			for i, n := range dn.Content {
				if i >= len(cfg.Destinations) {
					break
				}
				d := &cfg.Destinations[i]
				d.Node, d.Line, d.File = n, n.Line, path
				field := fmt.Sprintf("destinations[%d]", i)
				if d.Name != "" {
					field = "destinations." + d.Name
				}
				checkDestination(d, n, dir, field, add)
			}
		}
	}
	cfg.applyDefaults(dir)
	cfg.validate(root, add)
	if len(probs) > 0 {
		return nil, &mapping.Error{Problems: probs}
	}
	return cfg, nil
}

func (c *Config) applyDefaults(dir string) {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = ":8080"
	}
	if s.Path == "" {
		s.Path = "/v1/onoff/sms"
	}
	if s.CallsPath == "" {
		s.CallsPath = "/v1/onoff/cdr"
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 65536
	}
	if s.ReadHeaderTimeout == 0 {
		s.ReadHeaderTimeout = 10 * time.Second
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = 30 * time.Second
	}
	s.TLSCert, s.TLSKey = resolve(dir, s.TLSCert), resolve(dir, s.TLSKey)
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:9090"
	}
	c.Admin.TLSCert, c.Admin.TLSKey = resolve(dir, c.Admin.TLSCert), resolve(dir, c.Admin.TLSKey)
	if c.Store.Path == "" {
		c.Store.Path = "./data/onoffsync.db"
	}
	c.Store.Path = resolve(dir, c.Store.Path)
	if c.Phone.DefaultRegion == "" {
		c.Phone.DefaultRegion = "FR"
	}
	c.Phone.DefaultRegion = strings.ToUpper(c.Phone.DefaultRegion)
	y := &c.Sync
	if y.MaxAttempts == 0 {
		y.MaxAttempts = 15
	}
	if y.MaxAge == 0 {
		y.MaxAge = 72 * time.Hour
	}
	if y.BackoffBase == 0 {
		y.BackoffBase = 2 * time.Second
	}
	if y.BackoffCap == 0 {
		y.BackoffCap = 30 * time.Minute
	}
	if y.ContactTTL == 0 {
		y.ContactTTL = 24 * time.Hour
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

// UsesDevKey reports whether the receiver accepts the documented development key.
func (c *Config) UsesDevKey() bool {
	for _, k := range c.Server.APIKeys {
		if k == DevKey {
			return true
		}
	}
	return false
}
