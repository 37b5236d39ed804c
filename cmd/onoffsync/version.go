package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

func cmdVersion(e *env, args []string) error {
	fmt.Fprintln(e.stdout, "onoffsync", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const usage = `onoffsync puts every Onoff Business SMS on the right CRM contact's timeline.

Usage:
  onoffsync serve      [--config FILE]            run the receiver and the sync loops
  onoffsync check      [--config FILE] [--online] validate the config and mappings (--online: test CRM credentials)
  onoffsync status     [--config FILE] [--json]   per destination: jobs by state, oldest pending, pauses
  onoffsync dead       list|retry|drop [--config FILE] [--id ONOFF_ID] [--destination D] [--seq N] [--all]
  onoffsync parked     list|retry|drop [--config FILE] [--id ONOFF_ID] [--destination D] [--seq N] [--all]
                       SMS waiting for their contact (match.on_no_match: park): retry matches again now
  onoffsync quarantine list|show|requeue|drop [SEQ] [--config FILE]
  onoffsync forget     --number N | --email E [--config FILE]   erase one person's stored events (GDPR)
  onoffsync calls      requeue-ignored [--since TIME] [--config FILE]   sync call events stored as ignored (before upgrading)
  onoffsync setup      --destination NAME [--dry-run] [--config FILE]   create the CRM id field that activity.id_field: auto uses
  onoffsync mapping    default hubspot|salesforce|log
  onoffsync mapping    preview [--config FILE] --destination NAME --payload event.json
  onoffsync version

The config file is --config, else $ONOFFSYNC_CONFIG, else ./config.yaml.
Commands that inspect or change state use the running server's admin API, or the data file when no server runs.
`

// exit codes
const (
	exitOK    = 0
	exitUser  = 1
	exitUsage = 2
)

// usageError is a malformed command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type env struct {
	ctx    context.Context
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}
