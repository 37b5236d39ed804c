package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/store"
)

const docsExample = `{"id":"12345","eventName":"SMS","onoffUserName":"John Doe","onoffUserEmail":"john.doe@example.com","onoffUserNumber":"1234567890","externalNumber":"0987654321","externalName":"John Smith","externalEmail":"smith@example.com","date":"2023-05-20T14:30:00Z","smsDirection":"SENT","body":"This is the body of the SMS"}`

// env is a receiver and an admin Service over one store, as serve wires them.
type env struct {
	cfg     *connector.Config
	store   *store.Store
	admin   *Service
	metrics *connector.Metrics
	url     string // the receiver's
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	src := fmt.Sprintf(`
server:
  listen: "127.0.0.1:0"
  api_keys: ["k1"]
admin:
  listen: "127.0.0.1:0"
store:
  path: %s/onoffsync.db
destinations:
  - {name: audit, type: log, output: %s/audit.jsonl}
`, dir, dir)
	cfg, err := connector.ParseConfig(filepath.Join(dir, "config.yaml"), []byte(src), func(string) string { return "" })
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	m := connector.NewMetrics(st, time.Now)
	ts := httptest.NewServer(connector.NewReceiver(cfg, st, connector.Options{Metrics: m}).Handler())
	tb.Cleanup(ts.Close)
	return &env{cfg: cfg, store: st, admin: New(cfg, st, nil, nil), metrics: m, url: ts.URL}
}

// sms posts body to the receiver as Onoff does and fails the test unless it is stored.
func (e *env) sms(tb testing.TB, body string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/onoff/sms", strings.NewReader(body))
	req.Header.Set("Authorization", "x-api-key k1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("posting %s: HTTP %d", body, resp.StatusCode)
	}
}
