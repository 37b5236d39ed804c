package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMain lets the test binary serve as the no-op server the load scenario re-executes itself as.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "noop-server" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func runBench(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"onoffsync-bench"}, args...), func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"help"}, exitOK},
		{"unknown scenario", []string{"soak"}, exitUsage},
		{"unknown flag", []string{"load", "--nope"}, exitUsage},
		{"no events", []string{"backlog", "--events", "0"}, exitUsage},
		{"duration too short", []string{"load", "--duration", "1ms"}, exitUsage},
		{"stray argument", []string{"growth", "extra"}, exitUsage},
		{"missing binary", []string{"backlog", "--bin", "/nonexistent/onoffsync"}, exitFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runBench(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of 100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"max", ms(hundred...), 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestPlateau(t *testing.T) {
	series := func(mbs ...float64) []point {
		var out []point
		for i, v := range mbs {
			out = append(out, point{T: float64(10 * (i + 1)), FileMB: v})
		}
		return out
	}
	tests := []struct {
		name         string
		points       []point
		middle, last float64
		ok           bool
	}{
		{"flat after warm-up", series(8, 16, 32, 32, 32, 32, 32, 32, 32), 32, 32, true},
		{"small step", series(8, 16, 32, 32, 32, 32, 34, 34, 34), 32, 34, true},
		{"keeps growing", series(8, 16, 24, 32, 40, 48, 56, 64, 72), 48, 72, false},
		{"too short", series(8), 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			middle, last, ok := plateau(tt.points, 90)
			if diff := cmp.Diff([]any{tt.middle, tt.last, tt.ok}, []any{middle, last, ok}); diff != "" {
				t.Errorf("plateau (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScenarios runs load and backlog end to end against the real binary, briefly.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := filepath.Join(t.TempDir(), "onoffsync")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/onoffsync/onoffsync/cmd/onoffsync").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	outFile := filepath.Join(t.TempDir(), "results.jsonl")

	t.Run("load", func(t *testing.T) {
		code, stdout, stderr := runBench(t, "load", "--duration", "3s", "--quick", "--bin", bin, "--out", outFile, "--deadline", "60s")
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"| (a) no-op gin |", "| (b) onoffsync full speed |", "| (c) onoffsync at 200 req/s |", "Ratio (b)/(a)", "Machine: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		var res struct {
			Scenario          string
			Noop, Full, Paced phase
			Ratio             float64
			Delivery          delivery
		}
		decodeLast(t, stdout, &res)
		if res.Scenario != "load" || res.Noop.RPS <= 0 || res.Full.RPS <= 0 || res.Paced.Requests == 0 || res.Ratio <= 0 {
			t.Errorf("implausible results: %+v", res)
		}
		if res.Full.PeakRSS <= 0 || res.Full.PeakHeap <= 0 {
			t.Errorf("no memory samples: %+v", res.Full)
		}
		if d := res.Delivery; d.Acked == 0 || d.Delivered != d.Acked || d.Missing != 0 || d.Duplicates != 0 {
			t.Errorf("delivery %+v, want every acknowledged SMS delivered once", d)
		}
	})

	t.Run("backlog", func(t *testing.T) {
		code, stdout, stderr := runBench(t, "backlog", "--events", "2000", "--bin", bin, "--out", outFile, "--deadline", "60s")
		if code != exitOK {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		var res struct {
			Events          int
			SMSPerS         float64 `json:"sms_per_s"`
			APICallsPerSMS  float64 `json:"api_calls_per_sms"`
			FileBeforeMB    float64 `json:"file_before_mb"`
			PeakRSSAnonMB   float64 `json:"peak_rss_anon_mb"`
			PeakGoHeapMB    float64 `json:"peak_go_heap_inuse_mb"`
			Delivery        delivery
			APIByEndpoint   map[string]int `json:"api_calls_by_endpoint"`
			MachineSnapshot machine        `json:"machine"`
		}
		decodeLast(t, stdout, &res)
		if res.Events != 2000 || res.SMSPerS <= 0 || res.FileBeforeMB <= 0 || res.PeakRSSAnonMB <= 0 || res.PeakGoHeapMB <= 0 {
			t.Errorf("implausible results: %+v", res)
		}
		// 2,000 SMS fit in 20 batches of 100; contacts and the owner add a few hundred calls at most.
		if res.APIByEndpoint["comms batch create"] < 20 || res.APICallsPerSMS <= 0 || res.APICallsPerSMS > 0.5 {
			t.Errorf("API calls %v (%.4f per SMS), want >= 20 batch creates and at most 0.5 per SMS", res.APIByEndpoint, res.APICallsPerSMS)
		}
		if d := res.Delivery; d.Acked != 2000 || d.Delivered != 2000 || d.Duplicates != 0 {
			t.Errorf("delivery %+v, want 2000 delivered once", d)
		}
		if res.MachineSnapshot.NProc == 0 || res.MachineSnapshot.Go == "" {
			t.Errorf("machine not described: %+v", res.MachineSnapshot)
		}
	})

	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("--out holds %d lines, want one per run (2):\n%s", n, data)
	}
}

// decodeLast decodes the last line of out (the JSON line) into v.
func decodeLast(tb testing.TB, out string, v any) {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		tb.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
}
