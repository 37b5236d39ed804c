package connector

import (
	"crypto/tls"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// destinationKeys lists the type-specific keys a destination type accepts (from its Config struct in the
// registry, adapterTypes).
func destinationKeys(typ string) ([]string, bool) {
	t, ok := adapterTypes[typ]
	if !ok {
		return nil, false
	}
	return yamlKeys(t.config), true
}

var commonDestKeys = []string{"name", "type", "time_zone", "mapping", "output", "events"}

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
	checkEvents(d, n, field, add)
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

func (c *Config) validate(root *yaml.Node, add func(int, string, string, ...any)) {
	line := func(path ...string) int { return lineOfPath(root, path...) }
	if len(c.Server.APIKeys) == 0 && !c.Server.AllowUnauthenticated {
		add(line("server", "api_keys"), "server.api_keys", "at least one key is required (or set server.allow_unauthenticated: true)")
	}
	if kn := nodeAt(root, "server", "api_keys"); kn != nil && kn.Kind == yaml.SequenceNode {
		for i, k := range c.Server.APIKeys {
			if t := strings.TrimSpace(k); t != k && t != "" && i < len(kn.Content) {
				c.Server.APIKeys[i] = t // a secret file ending in a newline must not refuse every webhook
				c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: server.api_keys[%d]: surrounding whitespace trimmed", c.File, kn.Content[i].Line, i))
			}
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
	if rhost, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add(line("server", "listen"), "server.listen", "%v", err)
	} else if c.UsesDevKey() && !isLoopback(rhost) && !c.Server.AllowDevKeyOnPublicAddress {
		// The development key is printed in the README: on a reachable address it is no key at all.
		add(line("server", "api_keys"), "server.api_keys", "the development key %s only works on a loopback server.listen (here %q): set ONOFF_API_KEY to a real key (or server.allow_dev_key_on_public_address: true)", DevKey, c.Server.Listen)
	}
	if (c.Admin.TLSCert == "") != (c.Admin.TLSKey == "") {
		add(line("admin", "tls_cert"), "admin.tls_cert", "tls_cert and tls_key go together")
	} else if c.Admin.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.Admin.TLSCert, c.Admin.TLSKey); err != nil {
			add(line("admin", "tls_cert"), "admin.tls_cert", "cannot load the certificate and key: %v", err)
		}
	}
	if t := strings.TrimSpace(c.Admin.Token); t != c.Admin.Token && t != "" {
		c.Admin.Token = t
		c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: admin.token: surrounding whitespace trimmed", c.File, line("admin", "token")))
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
