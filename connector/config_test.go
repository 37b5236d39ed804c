package connector

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigErrors(t *testing.T) {
	src := `server:
  api_keys: ["${MISSPELT}"]
  listn: ":8080"
admin:
  listen: "0.0.0.0:9090"
destinations:
  - name: a
    type: nosuch
  - name: b
    type: log
    output: x.jsonl
    colour: red
`
	_, err := ParseConfig("/etc/onoffsync/config.yaml", []byte(src), func(string) string { return "" })
	if err == nil {
		t.Fatal("ParseConfig accepted a broken config")
	}
	want := []string{
		"/etc/onoffsync/config.yaml:3: server.listn: unknown key",
		"/etc/onoffsync/config.yaml:8: destinations.a.type: unknown destination type \"nosuch\"",
		"/etc/onoffsync/config.yaml:12: destinations.b.colour: unknown key for a log destination",
		"/etc/onoffsync/config.yaml:2: server.api_keys[0]: empty after interpolation",
		"/etc/onoffsync/config.yaml:5: admin.token: required when admin.listen is not a loopback address",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%s", w, err)
		}
	}
}

func TestConfigInterpolationAndPaths(t *testing.T) {
	src := `server:
  api_keys: ["${KEY}", "${OTHER:-fallback}"]
store:
  path: data/x.db
destinations:
  - {name: audit, type: log, output: "${OUT:-out.jsonl}"}
`
	env := map[string]string{"KEY": "secret"}
	cfg, err := ParseConfig("/srv/onoff/config.yaml", []byte(src), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Server.APIKeys[0], cfg.Server.APIKeys[1], cfg.Store.Path, cfg.Destinations[0].Output}
	want := []string{"secret", "fallback", "/srv/onoff/data/x.db", "/srv/onoff/out.jsonl"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("../config.example.yaml", data, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if !cfg.UsesDevKey() {
		t.Error("example config without ONOFF_API_KEY should use the dev key")
	}
}

func TestConfigInterpolatedNumbersAndTypeErrors(t *testing.T) {
	src := `server:
  api_keys: [k]
  max_body_bytes: ${MB:-70000}
  allow_unauthenticated: ${OPEN:-false}
sync:
  max_attempts: lots
  backoff_cap: -1s
destinations:
  - {name: audit, type: log, output: x.jsonl}
`
	_, err := ParseConfig("c.yaml", []byte(src), func(string) string { return "" })
	if err == nil {
		t.Fatal("accepted max_attempts: lots")
	}
	if !strings.Contains(err.Error(), "c.yaml:6: value: cannot unmarshal") {
		t.Errorf("type error not on its line:\n%s", err)
	}
	fixed := strings.Replace(strings.Replace(src, "lots", "3", 1), "-1s", "1m", 1)
	cfg, err := ParseConfig("c.yaml", []byte(fixed), func(string) string { return "" })
	if err != nil {
		t.Fatalf("interpolated int and bool: %v", err)
	}
	if cfg.Server.MaxBodyBytes != 70000 || cfg.Server.AllowUnauthenticated {
		t.Errorf("max_body_bytes %d, allow_unauthenticated %v", cfg.Server.MaxBodyBytes, cfg.Server.AllowUnauthenticated)
	}
	_, err = ParseConfig("c.yaml", []byte(strings.Replace(src, "lots", "-1", 1)), func(string) string { return "" })
	for _, want := range []string{"c.yaml:6: sync.max_attempts: must be at least 1", "c.yaml:7: sync.backoff_cap: must be positive"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}

func TestConfigInterpolatedNullStaysText(t *testing.T) {
	src := "server:\n  api_keys: [\"${K}\"]\nadmin:\n  token: ${T}\n  listen: \"0.0.0.0:9090\"\ndestinations:\n  - {name: a, type: log, output: x}\n"
	env := map[string]string{"K": "k", "T": "null"}
	cfg, err := ParseConfig("c.yaml", []byte(src), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token != "null" {
		t.Errorf("admin.token = %q, want the literal text null (a null would switch admin auth off)", cfg.Admin.Token)
	}
}

// TestConfigTrimsKeys: a key or admin token with surrounding whitespace (a secret file ending in a newline)
// is trimmed at load, and the load says so; before, every webhook was refused.
func TestConfigTrimsKeys(t *testing.T) {
	src := "server:\n  api_keys: [\"${K}\"]\nadmin:\n  token: \"${T}\"\ndestinations:\n  - {name: a, type: log, output: x}\n"
	env := map[string]string{"K": "webhook-key\n", "T": " admin-token\n"}
	cfg, err := ParseConfig("c.yaml", []byte(src), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.APIKeys[0] != "webhook-key" || cfg.Admin.Token != "admin-token" {
		t.Errorf("key %q, token %q; want both trimmed", cfg.Server.APIKeys[0], cfg.Admin.Token)
	}
	want := []string{"c.yaml:2: server.api_keys[0]: surrounding whitespace trimmed", "c.yaml:4: admin.token: surrounding whitespace trimmed"}
	if diff := cmp.Diff(want, cfg.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

// TestSampleConfigFailsClosed: the sample works as is on loopback (the README's first command), but with the
// image's ONOFFSYNC_LISTEN=:8080 and no ONOFF_API_KEY it refuses to load, naming the variable; a real key or
// the explicit opt-in loads.
func TestSampleConfigFailsClosed(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `listen: "127.0.0.1:9090"`) {
		t.Error(`the sample lost its admin line listen: "127.0.0.1:9090" (scripts read it)`)
	}
	load := func(env map[string]string) error {
		_, err := ParseConfig("../config.example.yaml", data, func(k string) string { return env[k] })
		return err
	}
	if err := load(nil); err != nil {
		t.Errorf("sample on loopback: %v", err)
	}
	err = load(map[string]string{"ONOFFSYNC_LISTEN": ":8080"})
	if err == nil || !strings.Contains(err.Error(), "server.api_keys: the development key") || !strings.Contains(err.Error(), "ONOFF_API_KEY") {
		t.Errorf("image default without a key: %v; want a refusal naming ONOFF_API_KEY", err)
	}
	if err := load(map[string]string{"ONOFFSYNC_LISTEN": ":8080", "ONOFF_API_KEY": "a-real-key"}); err != nil {
		t.Errorf("image with a key: %v", err)
	}
	optIn := strings.Replace(string(data), "  max_body_bytes:", "  allow_dev_key_on_public_address: true\n  max_body_bytes:", 1)
	if _, err := ParseConfig("c.yaml", []byte(optIn), func(k string) string { return map[string]string{"ONOFFSYNC_LISTEN": "0.0.0.0:8080"}[k] }); err != nil {
		t.Errorf("explicit opt-in: %v", err)
	}
}
