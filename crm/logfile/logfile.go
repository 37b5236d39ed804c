// Package logfile is the "log" destination: an adapter that writes each activity as one JSON line to a file
// or stdout, for trying a mapping out or feeding another tool. It imports crm only, never connector.
package logfile

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// Client is the log destination's crm.Client: each activity becomes one JSON line (the mapping's fields,
// which by default are the normalised event) in a file or on stdout. It knows no contacts: every search finds
// none and creating one fails Permanent. It is safe for concurrent use.
type Client struct {
	mu sync.Mutex
	w  *bufio.Writer
	f  *os.File // nil for stdout
}

// New opens output for appending (creating it and its folder), or writes to stdout when output is "-" (os.Stdout
// when stdout is nil). It fails when the file cannot be opened.
func New(output string, stdout io.Writer) (*Client, error) {
	if output == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return &Client{w: bufio.NewWriter(stdout)}, nil
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	f, err := os.OpenFile(output, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	return &Client{w: bufio.NewWriter(f), f: f}, nil
}

// Limits declares batches of 100.
func (c *Client) Limits() crm.Limits { return crm.Limits{SearchBatch: 100, WriteBatch: 100} }

// FindContacts finds no contact for any query; it fails only when ctx is done.
func (c *Client) FindContacts(ctx context.Context, qs []crm.ContactQuery) ([][]crm.Contact, error) {
	return make([][]crm.Contact, len(qs)), ctx.Err()
}

// CreateContact always fails Permanent: a log destination has no contacts.
func (c *Client) CreateContact(ctx context.Context, nc crm.NewContact) (crm.Contact, error) {
	return crm.Contact{}, &crm.Error{Action: crm.Permanent, Message: "a log destination has no contacts: use on_no_match: log_without_contact"}
}

// ResolveOwner knows no owner: it returns "" and no error.
func (c *Client) ResolveOwner(ctx context.Context, email string) (string, error) { return "", nil }

// LogActivities writes one line per activity and syncs the file before reporting success; a failed write or
// sync is retryable.
func (c *Client) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]crm.Result, len(acts))
	for i, a := range acts {
		line := map[string]any{"id": a.SourceID, "timestamp": a.Timestamp.UTC().Format(time.RFC3339Nano)}
		if a.ContactID != "" {
			line["contact_id"] = a.ContactID
		}
		for k, v := range a.Fields {
			line[k] = v
		}
		data, err := json.Marshal(line)
		if err != nil {
			return nil, err
		}
		c.w.Write(data)
		c.w.WriteByte('\n')
		res[i] = crm.Result{ID: "log:" + a.SourceID}
	}
	if err := c.w.Flush(); err != nil {
		return nil, &crm.Error{Action: crm.Retry, Message: "write log output", Err: err}
	}
	if c.f != nil {
		if err := c.f.Sync(); err != nil {
			return nil, &crm.Error{Action: crm.Retry, Message: "sync log output", Err: err}
		}
	}
	return res, nil
}

// Close closes the output file (not stdout).
func (c *Client) Close() error {
	if c.f != nil {
		return c.f.Close()
	}
	return nil
}
