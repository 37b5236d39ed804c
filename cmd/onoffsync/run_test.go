package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/store"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func runCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := run(context.Background(), append([]string{"onoffsync"}, args...), func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const minimalConfig = `server:
  listen: "127.0.0.1:0"
  api_keys: ["${ONOFF_API_KEY}"]
admin:
  listen: "127.0.0.1:0"
destinations:
  - {name: audit, type: log, output: audit.jsonl}
`

func TestUsageAndVersion(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"version"}, 0, "onoffsync dev"},
		{[]string{"help"}, 0, "Usage"},
		{[]string{"dead"}, 2, "want one of list, retry, drop"},
		{[]string{"quarantine", "show"}, 2, "takes one SEQ"},
		{[]string{"mapping", "default", "zoho"}, 2, "zoho"},
		{[]string{"status", "--bogus"}, 2, "bogus"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := runCmd(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("exit %d, output %q %q; want exit %d mentioning %q", code, out, errs, tt.code, tt.want)
			}
		})
	}
}

func TestCheckReportsFileLineField(t *testing.T) {
	path := writeConfig(t, strings.Replace(minimalConfig, "admin:\n", "  colour: red\nadmin:\n", 1))
	code, _, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "check", "--config", path)
	if code != 1 || !strings.Contains(errs, path+":4: server.colour: unknown key") {
		t.Errorf("exit %d, stderr %q; want 1 and %s:4: server.colour: unknown key", code, errs, path)
	}
	code, _, errs = runCmd(t, nil, "check", "--config", writeConfig(t, minimalConfig))
	if code != 1 || !strings.Contains(errs, ":3: server.api_keys[0]: empty after interpolation") {
		t.Errorf("unset key: exit %d, stderr %q", code, errs)
	}
	code, out, _ := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "check", "--config", writeConfig(t, minimalConfig))
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("valid config: exit %d, %q", code, out)
	}
	// The config comes from ONOFFSYNC_CONFIG when --config is absent.
	code, _, _ = runCmd(t, map[string]string{"ONOFF_API_KEY": "k", "ONOFFSYNC_CONFIG": writeConfig(t, minimalConfig)}, "check")
	if code != 0 {
		t.Errorf("check with ONOFFSYNC_CONFIG: exit %d", code)
	}
}

func TestCheckReportsMappingErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.yaml"), []byte("activity:\n  fields:\n    hs_communication_body: \"{{ .Event.Bodyy }}\"\n"), 0o600)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(minimalConfig+"  - {name: hs, type: hubspot, token: t, mapping: m.yaml}\n"), 0o600)
	code, _, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "check", "--config", cfg)
	if code != 1 || !strings.Contains(errs, filepath.Join(dir, "m.yaml")+":3:") {
		t.Errorf("exit %d, stderr %q; want 1 and m.yaml:3", code, errs)
	}
}

func TestMappingDefault(t *testing.T) {
	for _, typ := range []string{"hubspot", "salesforce", "log"} {
		code, out, _ := runCmd(t, nil, "mapping", "default", typ)
		if code != 0 || !strings.Contains(out, "\nactivity:") || !strings.Contains(out, "\ncalls:\n") {
			t.Errorf("mapping default %s: exit %d, %q; want the SMS and the calls sections", typ, code, out)
		}
		if typ != "log" && (!strings.Contains(out, "\ncontact_updates: []\n") || !strings.Contains(out, "#       keywords: [STOP, STOP SMS, ARRET, UNSUBSCRIBE]\n")) {
			t.Errorf("mapping default %s: %q; want contact_updates with a commented opt-out example", typ, out)
		}
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestMappingPreviewGolden pins what `mapping preview` prints for each built-in mapping.
func TestMappingPreviewGolden(t *testing.T) {
	for _, typ := range []string{"hubspot", "salesforce", "log"} {
		t.Run(typ, func(t *testing.T) {
			extra := map[string]string{
				"hubspot":    "  - {name: dest, type: hubspot, token: t, time_zone: Europe/Paris}\n",
				"salesforce": "  - {name: dest, type: salesforce, login_url: \"https://example.my.salesforce.com\", auth: client_credentials, client_id: id, client_secret: s, time_zone: Europe/Paris}\n",
				"log":        "  - {name: dest, type: log, output: x.jsonl}\n",
			}[typ]
			cfg := writeConfig(t, minimalConfig+extra)
			// An SMS, and a call event (a RECORDING) rendered with the mapping's calls section.
			for payload, golden := range map[string]string{"event.json": "preview_" + typ + ".golden", "call.json": "preview_call_" + typ + ".golden"} {
				code, out, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "mapping", "preview", "--config", cfg,
					"--destination", "dest", "--payload", filepath.Join("testdata", payload))
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", payload, code, errs)
				}
				golden = filepath.Join("testdata", golden)
				if *update {
					os.WriteFile(golden, []byte(out), 0o644)
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/onoffsync -update)", err)
				}
				if out != string(want) {
					t.Errorf("preview differs from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", golden, out, want)
				}
			}
		})
	}
}

// TestMappingPreviewContactUpdate: preview shows what contact_updates would set, and nothing for a body that
// is not a keyword.
func TestMappingPreviewContactUpdate(t *testing.T) {
	dir := t.TempDir()
	mappingPath := filepath.Join(dir, "hs.yaml")
	os.WriteFile(mappingPath, []byte("contact_updates:\n  - name: opt-out\n    when: {keywords: [STOP, ARRET]}\n    set: {sms_opt_out: \"true\"}\n"), 0o600)
	cfg := writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: hs, type: hubspot, token: t, mapping: %q}\n", mappingPath))
	for body, want := range map[string]string{"Arrêt": `"fields": {
      "sms_opt_out": "true"
    }`, "hello": ""} {
		payload := filepath.Join(dir, "event.json")
		os.WriteFile(payload, []byte(`{"id":"p1","smsDirection":"RECEIVED","date":"2024-05-20T14:30:00Z","onoffUserNumber":"+33698765432","externalNumber":"06 12 34 56 78","body":"`+body+`"}`), 0o600)
		code, out, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "mapping", "preview", "--config", cfg, "--destination", "hs", "--payload", payload)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if got := strings.Contains(out, "contact_update_if_matched"); got != (want != "") || !strings.Contains(out, want) {
			t.Errorf("body %q: preview %s; want contact update %q", body, out, want)
		}
	}
}

func TestMappingPreview(t *testing.T) {
	cfg := writeConfig(t, minimalConfig+"  - {name: hs, type: hubspot, token: t}\n")
	payload := filepath.Join(filepath.Dir(cfg), "event.json")
	os.WriteFile(payload, []byte(`{"id":"p1","smsDirection":"RECEIVED","date":"2024-05-20T14:30:00Z","onoffUserNumber":"+33698765432","externalNumber":"06 12 34 56 78","body":"<b>hi</b>"}`), 0o600)
	code, out, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k"}, "mapping", "preview", "--config", cfg, "--destination", "hs", "--payload", payload)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var p struct {
		Queries []struct{ Key string }             `json:"contact_queries"`
		Act     struct{ Fields map[string]string } `json:"activity_if_matched"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("preview is not JSON: %v\n%s", err, out)
	}
	if len(p.Queries) == 0 || p.Queries[0].Key != "phone:+33612345678" {
		t.Errorf("queries = %+v, want phone:+33612345678 first", p.Queries)
	}
	if body := p.Act.Fields["hs_communication_body"]; !strings.Contains(body, "&lt;b&gt;hi&lt;/b&gt;") {
		t.Errorf("body %q does not show the SMS's HTML as text", body)
	}
}

// TestServeReceiveStatus runs the server through run() on :0 ports, posts the docs' example as Onoff does, and
// checks the log output and `status` (through the admin API, then offline from the data file).
func TestServeReceiveStatus(t *testing.T) {
	cfg := writeConfig(t, minimalConfig)
	env := map[string]string{"ONOFF_API_KEY": "secret-key"}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"onoffsync", "serve", "--config", cfg}, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr)
	}()
	addrs := regexp.MustCompile(`receiving webhooks on (\S+)/v1/onoff/sms \(admin on (\S+)\)`)
	var m []string
	deadline := time.Now().Add(10 * time.Second)
	for m = addrs.FindStringSubmatch(stderr.String()); m == nil; m = addrs.FindStringSubmatch(stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	body := `{"id":"12345","eventName":"SMS","onoffUserName":"John Doe","onoffUserEmail":"john.doe@example.com","onoffUserNumber":"1234567890","externalNumber":"0987654321","externalName":"John Smith","externalEmail":"smith@example.com","date":"2023-05-20T14:30:00Z","smsDirection":"SENT","body":"This is the body of the SMS"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+m[1]+"/v1/onoff/sms", strings.NewReader(body))
	req.Header.Set("Authorization", "x-api-key secret-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	audit := filepath.Join(filepath.Dir(cfg), "audit.jsonl")
	deadline = time.Now().Add(10 * time.Second)
	for data, _ := os.ReadFile(audit); !strings.Contains(string(data), `"id":"12345"`); data, _ = os.ReadFile(audit) {
		if time.Now().After(deadline) {
			t.Fatalf("SMS never reached the log destination: %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// status through the running server's admin API (its port is in the config only as :0: point at it)
	live := strings.Replace(minimalConfig, `listen: "127.0.0.1:0"
destinations`, fmt.Sprintf("listen: %q\ndestinations", m[2]), 1)
	liveCfg := filepath.Join(filepath.Dir(cfg), "live.yaml")
	os.WriteFile(liveCfg, []byte(live), 0o600)
	// The log line is written before the job's outcome is committed: poll status until it shows done.
	var code int
	var out, errs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		code, out, errs = runCmd(t, env, "status", "--config", liveCfg, "--json")
		if strings.Contains(out, `"done": 1`) {
			break
		}
	}
	if code != 0 || !strings.Contains(out, `"server": "running"`) || !strings.Contains(out, `"done": 1`) {
		t.Errorf("live status: exit %d, %s %s", code, out, errs)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	code, out, errs = runCmd(t, env, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "server: offline") || !regexp.MustCompile(`audit\s+log\s+0\s+0\s+0\s+0\s+1`).MatchString(out) {
		t.Errorf("offline status: exit %d, %s %s", code, out, errs)
	}
	code, out, _ = runCmd(t, env, "dead", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "DESTINATION") {
		t.Errorf("offline dead list: exit %d, %s", code, out)
	}
	code, out, errs = runCmd(t, env, "forget", "--number", "+33 9 87 65 43 21", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "1 stored event(s) erased") {
		t.Errorf("forget: exit %d, %s %s", code, out, errs)
	}
	if code, _, _ = runCmd(t, env, "forget", "--config", cfg); code != 2 {
		t.Errorf("forget without a person: exit %d, want 2", code)
	}
	if strings.Contains(stderr.String(), "secret-key") {
		t.Error("the webhook key appeared in the server's log")
	}
}

func TestCheckOnline(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{Tokens: []string{"pat-good"}})
	defer hs.Close()
	cfg := func(token string) string {
		return writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: hs, type: hubspot, token: %s, base_url: %q}\n", token, hs.URL))
	}
	env := map[string]string{"ONOFF_API_KEY": "k"}
	code, out, errs := runCmd(t, env, "check", "--online", "--config", cfg("pat-good"))
	if code != 0 || !strings.Contains(out, "hs (hubspot): OK") || !strings.Contains(out, "audit (log): nothing to check online") {
		t.Errorf("good token: exit %d, %s %s", code, out, errs)
	}
	code, out, errs = runCmd(t, env, "check", "--online", "--config", cfg("pat-bad"))
	if code != 1 || !strings.Contains(out, "hs (hubspot): FAILED") || !strings.Contains(errs, "1 destination(s) failed") {
		t.Errorf("bad token: exit %d, %s %s", code, out, errs)
	}
	if strings.Contains(out+errs, "pat-bad") {
		t.Error("the token was printed")
	}
}

// TestCheckOnlineContactUpdateFields: offline check accepts contact properties it cannot know; check
// --online asks HubSpot and names the rule's field that does not exist, with its line.
func TestCheckOnlineContactUpdateFields(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{Tokens: []string{"pat-good"}})
	defer hs.Close()
	hs.DeclareProperty("contacts", hubspottest.Property{Name: "sms_opt_out", Type: "bool"})
	mappingPath := filepath.Join(t.TempDir(), "hs.yaml")
	doc := "contact_updates:\n  - when: {keywords: [STOP]}\n    set:\n      sms_opt_out: \"true\"\n  - set:\n      last_sms_date: \"{{ .Event.Date }}\"\n"
	if err := os.WriteFile(mappingPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: hs, type: hubspot, token: pat-good, base_url: %q, mapping: %q}\n", hs.URL, mappingPath))
	env := map[string]string{"ONOFF_API_KEY": "k"}
	if code, out, errs := runCmd(t, env, "check", "--config", cfg); code != 0 {
		t.Errorf("offline check: exit %d, %s %s", code, out, errs)
	}
	code, out, errs := runCmd(t, env, "check", "--online", "--config", cfg)
	want := mappingPath + `:6: contact_updates[1].set.last_sms_date: no property "last_sms_date" on HubSpot contacts`
	if code != 1 || !strings.Contains(out, "hs (hubspot): FAILED") || !strings.Contains(out, want) || strings.Contains(out, "sms_opt_out:") {
		t.Errorf("online check: exit %d, %s %s; want a failure naming only %s", code, out, errs, want)
	}
}

func TestDeadLettersOffline(t *testing.T) {
	cfgPath := writeConfig(t, minimalConfig)
	dbPath := filepath.Join(filepath.Dir(cfgPath), "data", "onoffsync.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sms-a", "sms-b"} {
		st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, Raw: []byte(`{}`)}, []string{"audit"})
	}
	jobs, _, _ := st.Claim("audit", time.Now(), 10)
	var outs []store.Outcome
	for _, j := range jobs {
		outs = append(outs, store.Outcome{Dest: "audit", Seq: j.Job.Seq, State: store.Dead, Attempted: true, Error: "VALIDATION_ERROR: bad"})
	}
	st.Complete(outs)
	st.Close()

	env := map[string]string{"ONOFF_API_KEY": "k"}
	code, out, errs := runCmd(t, env, "dead", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "sms-a") || !strings.Contains(out, "sms-b") || !strings.Contains(out, "VALIDATION_ERROR") {
		t.Fatalf("dead list: exit %d, %s %s", code, out, errs)
	}
	code, out, errs = runCmd(t, env, "dead", "retry", "--id", "sms-a", "--config", cfgPath)
	if code != 0 || !strings.HasPrefix(out, "1 dead letter(s) queued again") {
		t.Errorf("dead retry --id: exit %d, %s %s", code, out, errs)
	}
	code, _, errs = runCmd(t, env, "dead", "retry", "--id", "nope", "--config", cfgPath)
	if code != 1 || !strings.Contains(errs, `no dead letter with Onoff id "nope"`) {
		t.Errorf("dead retry unknown id: exit %d, %s", code, errs)
	}
	code, out, _ = runCmd(t, env, "dead", "drop", "--all", "--config", cfgPath)
	if code != 0 || !strings.HasPrefix(out, "1 dead letter(s) dropped") {
		t.Errorf("dead drop --all: exit %d, %s", code, out)
	}
	code, out, _ = runCmd(t, env, "status", "--config", cfgPath, "--json")
	if code != 0 || !strings.Contains(out, `"pending": 1`) || !strings.Contains(out, `"dead": 0`) {
		t.Errorf("status after retry and drop: %s", out)
	}
}

// TestParkedOffline: `parked list` shows parked SMS by Onoff id, `status` counts them, `parked retry --id`
// makes one pending and `parked drop --all` deletes the rest.
func TestParkedOffline(t *testing.T) {
	cfgPath := writeConfig(t, minimalConfig)
	dbPath := filepath.Join(filepath.Dir(cfgPath), "data", "onoffsync.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sms-p1", "sms-p2", "sms-p3"} {
		st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: id, Raw: []byte(`{}`)}, []string{"audit"})
	}
	jobs, _, _ := st.Claim("audit", time.Now(), 10)
	var outs []store.Outcome
	for _, j := range jobs {
		outs = append(outs, store.Outcome{Dest: "audit", Seq: j.Job.Seq, State: store.Parked, NextAttempt: time.Now().Add(time.Hour)})
	}
	st.Complete(outs)
	st.Close()

	env := map[string]string{"ONOFF_API_KEY": "k"}
	code, out, errs := runCmd(t, env, "parked", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "NEXT RECHECK") || strings.Count(out, "sms-p") != 3 {
		t.Fatalf("parked list: exit %d, %s %s", code, out, errs)
	}
	code, out, _ = runCmd(t, env, "status", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "PARKED") {
		t.Errorf("status: exit %d, %s; want a PARKED column", code, out)
	}
	code, out, errs = runCmd(t, env, "parked", "retry", "--id", "sms-p2", "--config", cfgPath)
	if code != 0 || !strings.HasPrefix(out, "1 parked SMS(s) queued again") {
		t.Errorf("parked retry --id: exit %d, %s %s", code, out, errs)
	}
	code, _, errs = runCmd(t, env, "parked", "drop", "--id", "sms-p2", "--config", cfgPath)
	if code != 1 || !strings.Contains(errs, `no parked SMS with Onoff id "sms-p2"`) {
		t.Errorf("parked drop of a retried one: exit %d, %s", code, errs)
	}
	code, out, _ = runCmd(t, env, "parked", "drop", "--all", "--config", cfgPath)
	if code != 0 || !strings.HasPrefix(out, "2 parked SMS(s) dropped") {
		t.Errorf("parked drop --all: exit %d, %s", code, out)
	}
	code, out, _ = runCmd(t, env, "status", "--config", cfgPath, "--json")
	if code != 0 || !strings.Contains(out, `"pending": 1`) || !strings.Contains(out, `"parked": 0`) {
		t.Errorf("status after retry and drop: %s", out)
	}
}

// TestCallsRequeueIgnored: call events an older version stored as ignored stay so until the admin runs
// `calls requeue-ignored`, which queues the valid ones for every destination that syncs calls, once.
func TestCallsRequeueIgnored(t *testing.T) {
	cfg := writeConfig(t, minimalConfig)
	os.MkdirAll(filepath.Join(filepath.Dir(cfg), "data"), 0o700)
	st, err := store.Open(filepath.Join(filepath.Dir(cfg), "data", "onoffsync.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"id":"old-1","eventName":"CDR","onoffUserNumber":"+33698765432","externalNumber":"0612345678","callStarted":"2026-05-20T14:00:00Z","callDuration":30,"callDirection":"INBOUND","callStatus":"ANSWERED"}`
	for _, ev := range []store.Event{
		{Class: "call", Status: store.Ignored, SourceID: "old-1", EventName: "CDR", Raw: []byte(body)},
		{Class: "call", Status: store.Ignored, SourceID: "odd", EventName: "CDR", Raw: []byte(`{"id":"odd","eventName":"CDR"}`)},
	} {
		if _, _, err := st.Enqueue(ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	env := map[string]string{"ONOFF_API_KEY": "k"}
	code, out, errs := runCmd(t, env, "status", "--config", cfg, "--json")
	if code != 0 || strings.Contains(out, `"pending": 1`) {
		t.Fatalf("before: exit %d, %s %s; want no pending job", code, out, errs)
	}
	code, out, errs = runCmd(t, env, "calls", "requeue-ignored", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "1 ignored call event(s) queued") || !strings.Contains(out, "1 left ignored") {
		t.Fatalf("requeue-ignored: exit %d, %q %s", code, out, errs)
	}
	code, out, _ = runCmd(t, env, "status", "--config", cfg, "--json")
	if code != 0 || !strings.Contains(out, `"pending": 1`) {
		t.Errorf("after: exit %d, %s; want one pending job", code, out)
	}
	if code, out, _ = runCmd(t, env, "calls", "requeue-ignored", "--config", cfg); code != 0 || !strings.HasPrefix(out, "0 ignored") {
		t.Errorf("second run: exit %d, %q; want nothing more queued", code, out)
	}
	for _, args := range [][]string{{"calls"}, {"calls", "requeue-ignored", "--since", "yesterday"}} {
		if code, _, _ := runCmd(t, env, append(args, "--config", cfg)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestCorruptDataFile: every command that reads the data file refuses an empty or truncated one with one
// line saying to restore it, and exit 1 (not the usage code 2, not a panic); a new store is created only
// where no file exists.
func TestCorruptDataFile(t *testing.T) {
	cfgPath := writeConfig(t, minimalConfig)
	dbPath := filepath.Join(filepath.Dir(cfgPath), "data", "onoffsync.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: "sms-a", Raw: []byte(`{}`)}, []string{"audit"})
	st.Close()
	whole, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ONOFF_API_KEY": "k-123456"}
	for _, damage := range []struct {
		name string
		data []byte
	}{{"empty", nil}, {"truncated", whole[:len(whole)/2]}, {"first page only", whole[:4096]}} {
		if err := os.WriteFile(dbPath, damage.data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"serve"}, {"check"}, {"status"}, {"dead", "list"}, {"quarantine", "list"},
			{"dead", "retry", "--all"}} {
			t.Run(damage.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				code, out, errs := runCmd(t, env, append(args, "--config", cfgPath)...)
				want := "onoffsync " + args[0] + ": data file truncated or corrupt: restore the copy of " + dbPath
				if code != 1 || !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 1 {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", code, out, errs, want)
				}
			})
		}
		if got, err := os.ReadFile(dbPath); err != nil || !bytes.Equal(got, damage.data) {
			t.Errorf("%s: the data file changed (%d bytes, %v)", damage.name, len(got), err)
		}
	}
}

// TestTablesEscapeControlCharacters: an Onoff id or a CRM error carrying escape sequences or newlines is shown
// escaped in `dead list`, never acting on the terminal nor forging a row.
func TestTablesEscapeControlCharacters(t *testing.T) {
	cfgPath := writeConfig(t, minimalConfig)
	dbPath := filepath.Join(filepath.Dir(cfgPath), "data", "onoffsync.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: "sms-\x1b[2J\u202e", Raw: []byte(`{}`)}, []string{"audit"})
	jobs, _, _ := st.Claim("audit", time.Now(), 10)
	st.Complete([]store.Outcome{{Dest: "audit", Seq: jobs[0].Job.Seq, State: store.Dead, Attempted: true,
		Error: "bad\x1b]0;pwned\x07\naudit\t99\tforged"}})
	st.Close()
	code, out, errs := runCmd(t, map[string]string{"ONOFF_API_KEY": "k-123456"}, "dead", "list", "--config", cfgPath)
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\u202e") || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, `sms-\x1b[2J\u202e`) || !strings.Contains(out, `bad\x1b]0;pwned\a\naudit\t99\tforged`) {
		t.Errorf("dead list: exit %d, stdout %q %s; want two lines with the id and error escaped", code, out, errs)
	}
}
