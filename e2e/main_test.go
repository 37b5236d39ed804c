// Package e2e runs the onoffsync binary as a separate process against the fake CRMs (hubspottest,
// salesforcetest) and drives it over loopback HTTP exactly as Onoff would: crashes, CRM outages, redeliveries,
// bad input, secrets in logs, and the CLI.
//
// The binary is built once per run (TestMain). Each test writes its own config into t.TempDir(), starts the
// binary on 127.0.0.1:0 and reads the bound addresses from its stderr. Longer variants run with -e2e.long;
// -e2e.seed replays the random kill moments of a failed crash run.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var (
	long    = flag.Bool("e2e.long", false, "run the longer e2e variants (more SMS, more kills)")
	seed    = flag.Uint64("e2e.seed", 0, "seed of the random kill moments (0: from the clock; logged by each test)")
	binPath string // the onoffsync binary built by TestMain
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "onoffsync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "onoffsync")
	if err := build(binPath); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles ./cmd/onoffsync of the module that holds this package (the test runs in e2e/).
func build(out string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	// The go tool that runs this test, when it says where its root is; else the one on PATH.
	gotool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gotool); os.Getenv("GOROOT") == "" || err != nil {
		if gotool, err = exec.LookPath("go"); err != nil {
			return fmt.Errorf("no go tool to build the binary: %w", err)
		}
	}
	start := time.Now()
	cmd := exec.Command(gotool, "build", "-o", out, "./cmd/onoffsync")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/onoffsync: %v\n%s", err, b)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
