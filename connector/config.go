package connector

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
}

// ServerConfig is the webhook receiver.
type ServerConfig struct {
	Listen               string        `yaml:"listen"`
	Path                 string        `yaml:"path"`
	CallsPath            string        `yaml:"calls_path"`
	APIKeys              []string      `yaml:"api_keys"`
	AllowUnauthenticated bool          `yaml:"allow_unauthenticated"`
	MaxBodyBytes         int64         `yaml:"max_body_bytes"`
	TLSCert              string        `yaml:"tls_cert"`
	TLSKey               string        `yaml:"tls_key"`
	ReadHeaderTimeout    time.Duration `yaml:"read_header_timeout"`
	ReadTimeout          time.Duration `yaml:"read_timeout"`
}

// AdminConfig is the admin listener (health, metrics, admin API).
type AdminConfig struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
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
	// MappingPath is the mapping file (resolved against the config's folder), or "" for an inline mapping
	// (MappingNode) or the built-in default (both empty).
	MappingPath string     `yaml:"-"`
	MappingNode *yaml.Node `yaml:"-"`

	Location *time.Location `yaml:"-"`
	File     string         `yaml:"-"` // the config file it came from
	Node     *yaml.Node     `yaml:"-"` // the whole destination, interpolated
	Line     int            `yaml:"-"`
}

// Problem is one configuration error, printed as "file:line: field: problem".
type Problem struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, p.Field, p.Msg)
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// destinationKeys lists the type-specific keys a destination type accepts (from its Config struct in the
// registry, adapterTypes).
func destinationKeys(typ string) ([]string, bool) {
	t, ok := adapterTypes[typ]
	if !ok {
		return nil, false
	}
	return yamlKeys(t.config), true
}

var commonDestKeys = []string{"name", "type", "time_zone", "mapping", "output"}

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
	var probs []Problem
	add := func(line int, field, format string, args ...any) {
		probs = append(probs, Problem{File: path, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &line)
		}
		add(line, "yaml", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, &ConfigError{probs}
	}
	if len(doc.Content) == 0 {
		add(1, "config", "the file is empty")
		return nil, &ConfigError{probs}
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
		return nil, &ConfigError{probs}
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
		return nil, &ConfigError{probs}
	}
	return cfg, nil
}

func checkDestination(d *Destination, n *yaml.Node, dir, field string, add func(int, string, string, ...any)) {
	if n.Kind != yaml.MappingNode {
		add(n.Line, field, "must be a map")
		return
	}
	keys, ok := destinationKeys(d.Type)
	if !ok {
		line := n.Line
		if t := mapValue(n, "type"); t != nil {
			line = t.Line
		}
		add(line, field+".type", "unknown destination type %q (want one of %s)", d.Type, strings.Join(destinationTypes(), ", "))
	}
	allowed := map[string]bool{}
	for _, k := range append(keys, commonDestKeys...) {
		allowed[k] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if ok && !allowed[k.Value] {
			add(k.Line, field+"."+k.Value, "unknown key for a %s destination", d.Type)
		}
	}
	if m := mapValue(n, "mapping"); m != nil {
		switch m.Kind {
		case yaml.ScalarNode:
			if m.Value != "" {
				d.MappingPath = resolve(dir, m.Value)
			}
		case yaml.MappingNode:
			d.MappingNode = m
		default:
			add(m.Line, field+".mapping", "must be a file path or a map")
		}
	}
	if d.Name == "" {
		add(n.Line, field+".name", "required")
	} else if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`).MatchString(d.Name) {
		add(lineOf(n, "name"), field+".name", "must be letters, digits, '.', '_' or '-' (at most 64)")
	}
	tz := d.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		add(lineOf(n, "time_zone"), field+".time_zone", "unknown time zone %q", d.TimeZone)
		loc = time.UTC
	}
	d.Location = loc
	d.Node = n
	if d.Type == "log" {
		if d.Output == "" {
			add(n.Line, field+".output", "required for a log destination (a file path, or - for stdout)")
		} else if d.Output != "-" {
			d.Output = resolve(dir, d.Output)
		}
	}
	resolvePathKeys(n, dir)
	if ok {
		if err := validateAdapter(*d); err != nil {
			key, _, _ := strings.Cut(err.Error(), ":")
			line := n.Line
			if v := mapValue(n, key); v != nil {
				line = v.Line
			}
			add(line, field+"."+key, "%s", strings.TrimSpace(strings.TrimPrefix(err.Error(), key+":")))
		}
	}
}

// resolvePathKeys makes relative file-path values (keys ending in _file) absolute against dir, in the node,
// so adapters decode absolute paths.
func resolvePathKeys(n *yaml.Node, dir string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if strings.HasSuffix(k.Value, "_file") && v.Kind == yaml.ScalarNode && v.Value != "" {
			v.Value = resolve(dir, v.Value)
		}
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
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

func (c *Config) validate(root *yaml.Node, add func(int, string, string, ...any)) {
	line := func(path ...string) int { return lineOfPath(root, path...) }
	if len(c.Server.APIKeys) == 0 && !c.Server.AllowUnauthenticated {
		add(line("server", "api_keys"), "server.api_keys", "at least one key is required (or set server.allow_unauthenticated: true)")
	}
	if kn := nodeAt(root, "server", "api_keys"); kn != nil && kn.Kind == yaml.SequenceNode {
		for i, k := range c.Server.APIKeys {
			if strings.TrimSpace(k) == "" {
				add(kn.Content[i].Line, fmt.Sprintf("server.api_keys[%d]", i), "empty after interpolation (a misspelt variable must not switch auth off)")
			}
		}
	}
	for _, p := range []struct{ field, v string }{{"path", c.Server.Path}, {"calls_path", c.Server.CallsPath}} {
		if !strings.HasPrefix(p.v, "/") {
			add(line("server", p.field), "server."+p.field, "must start with /")
		}
	}
	if c.Server.Path == c.Server.CallsPath {
		add(line("server", "calls_path"), "server.calls_path", "must differ from server.path")
	}
	if c.Server.MaxBodyBytes < 1024 {
		add(line("server", "max_body_bytes"), "server.max_body_bytes", "must be at least 1024")
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		add(line("server", "tls_cert"), "server.tls_cert", "tls_cert and tls_key go together")
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add(line("server", "listen"), "server.listen", "%v", err)
	}
	host, _, err := net.SplitHostPort(c.Admin.Listen)
	if err != nil {
		add(line("admin", "listen"), "admin.listen", "%v", err)
	} else if c.Admin.Token == "" && !isLoopback(host) {
		add(line("admin", "token"), "admin.token", "required when admin.listen is not a loopback address")
	}
	if _, ok := levels[c.Log.Level]; !ok {
		add(line("log", "level"), "log.level", "want debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add(line("log", "format"), "log.format", "want text or json")
	}
	if c.Store.Retention < 0 {
		add(line("store", "retention"), "store.retention", "must not be negative")
	}
	if c.Sync.MaxAttempts < 1 {
		add(line("sync", "max_attempts"), "sync.max_attempts", "must be at least 1")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"max_age", c.Sync.MaxAge}, {"backoff_base", c.Sync.BackoffBase}, {"backoff_cap", c.Sync.BackoffCap}, {"contact_ttl", c.Sync.ContactTTL}} {
		if d.v <= 0 {
			add(line("sync", d.key), "sync."+d.key, "must be positive")
		}
	}
	if c.Sync.BackoffCap > 0 && c.Sync.BackoffCap < c.Sync.BackoffBase {
		add(line("sync", "backoff_cap"), "sync.backoff_cap", "must not be below sync.backoff_base")
	}
	seen := map[string]bool{}
	for i, d := range c.Destinations {
		if seen[d.Name] && d.Name != "" {
			add(d.Line, fmt.Sprintf("destinations[%d].name", i), "duplicate destination name %q", d.Name)
		}
		seen[d.Name] = true
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// interpolate replaces ${VAR} and ${VAR:-default} in every scalar value (not keys), in place.
func interpolate(n *yaml.Node, getenv func(string) string, bad func(line int, field, msg string)) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v := getenv(m[1]); v != "" {
				return v
			}
			return m[3]
		})
		if strings.Contains(n.Value, "${") {
			bad(n.Line, "interpolation", "malformed ${...} reference")
		}
		switch {
		case n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.TaggedStyle) != 0:
			if n.Style&yaml.TaggedStyle == 0 {
				n.Tag = "!!str"
			}
		case n.Value == "":
			n.Tag = "!!str" // an unset variable is an empty string, not null
		default:
			n.Tag = "" // plain text: resolved as YAML would have read it (70000 an int, true a bool)
			if n.ShortTag() == "!!null" {
				n.Tag = "!!str" // a value spelt null or ~ stays text: it must never blank out a key or token
			}
		}
	default:
		for _, c := range n.Content {
			interpolate(c, getenv, bad)
		}
	}
}

// checkKnown reports mapping keys that t (a struct type, via its yaml tags) does not know, recursively.
// Keys named in skip (at this level) are not descended into.
func checkKnown(n *yaml.Node, t reflect.Type, prefix string, unknown func(line int, field string), skip map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				checkKnown(c, t, prefix, unknown, nil)
			}
			return
		}
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := strings.TrimPrefix(prefix+"."+k.Value, ".")
		ft, ok := fields[k.Value]
		if !ok {
			unknown(k.Line, field)
			continue
		}
		if !skip[k.Value] {
			checkKnown(v, ft, field, unknown, nil)
		}
	}
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func nodeAt(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		n = mapValue(n, p)
	}
	return n
}

func lineOf(n *yaml.Node, key string) int {
	if v := mapValue(n, key); v != nil {
		return v.Line
	}
	return n.Line
}

// lineOfPath is the line of the deepest node along path that exists (so a missing key points at its parent).
func lineOfPath(n *yaml.Node, path ...string) int {
	line := n.Line
	for _, p := range path {
		n = mapValue(n, p)
		if n == nil {
			return line
		}
		line = n.Line
	}
	return line
}
