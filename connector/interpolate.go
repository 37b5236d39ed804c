package connector

import (
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

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
