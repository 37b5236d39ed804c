package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/store"
)

// TestDeadRetryByIDPastTheListCap: with a server running, `dead retry --id` and `dead list --id` find the dead
// letter of an Onoff id however many dead letters come before it (the admin API lists at most 10,000).
func TestDeadRetryByIDPastTheListCap(t *testing.T) {
	cfg := writeConfig(t, minimalConfig)
	dbPath := filepath.Join(filepath.Dir(cfg), "data", "onoffsync.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	const n = 10_050
	seedDead(t, dbPath, "audit", n)

	env := map[string]string{"ONOFF_API_KEY": "k"}
	liveCfg, stop := serveForTest(t, cfg, env)
	defer stop()
	last := fmt.Sprint("sms-", n-1)
	code, out, errs := runCmd(t, env, "dead", "list", "--id", last, "--config", liveCfg)
	if code != 0 || !strings.Contains(out, last) {
		t.Errorf("dead list --id %s: exit %d, %s %s", last, code, out, errs)
	}
	code, out, errs = runCmd(t, env, "dead", "retry", "--id", last, "--config", liveCfg)
	if code != 0 || !strings.HasPrefix(out, "1 dead letter(s) queued again") {
		t.Errorf("dead retry --id %s (dead letter %d of %d): exit %d, %s %s", last, n, n, code, out, errs)
	}
}

// seedDead writes n dead letters of dest (Onoff ids sms-0 ...) straight into the data file at path.
func seedDead(tb testing.TB, path, dest string, n int) {
	tb.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	ids := make(chan int)
	var wg sync.WaitGroup
	for range 64 { // concurrent enqueues share group commits
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				if _, _, err := st.Enqueue(store.Event{Class: "sms", Status: store.Accepted, SourceID: fmt.Sprint("sms-", i), Raw: []byte(`{}`)}, []string{dest}); err != nil {
					tb.Error(err)
				}
			}
		}()
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
	jobs, _, err := st.Claim(dest, time.Now(), n)
	if err != nil || len(jobs) != n {
		tb.Fatalf("claimed %d of %d jobs: %v", len(jobs), n, err)
	}
	outs := make([]store.Outcome, len(jobs))
	for i, j := range jobs {
		outs[i] = store.Outcome{Dest: dest, Seq: j.Job.Seq, State: store.Dead, Attempted: true, Error: "VALIDATION_ERROR: bad"}
	}
	if err := st.Complete(outs); err != nil {
		tb.Fatal(err)
	}
}

// serveForTest runs `serve --config cfg` and returns a config pointing the CLI at its admin listener, and a
// func that stops the server and checks it exited cleanly.
func serveForTest(t *testing.T, cfg string, env map[string]string) (liveCfg string, stop func()) {
	t.Helper()
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
			cancel()
			t.Fatalf("server did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	live := strings.Replace(string(src), "listen: \"127.0.0.1:0\"\ndestinations", fmt.Sprintf("listen: %q\ndestinations", m[2]), 1)
	liveCfg = filepath.Join(filepath.Dir(cfg), "live.yaml")
	if err := os.WriteFile(liveCfg, []byte(live), 0o600); err != nil {
		t.Fatal(err)
	}
	return liveCfg, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	}
}
